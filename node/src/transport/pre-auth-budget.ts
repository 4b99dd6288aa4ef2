// The byte budget of a peer connection before its handshake completes. The WebSocket layer
// accepts messages up to maxFrameBytes (a snapshot), and buffers a message until it is whole: an
// unauthenticated peer could make us hold that much per socket. This watcher counts every byte
// read from the socket until the handshake is done and reports the first read past the budget,
// long before a large message is complete.
import assert from 'node:assert';
import type { Duplex } from 'node:stream';

export interface PreAuthBudget {
  /** The handshake completed: stop counting. */
  release(): void;
}

export function watchPreAuthBytes(socket: Duplex, budgetBytes: number, onExceeded: (readBytes: number) => void): PreAuthBudget {
  assert(Number.isSafeInteger(budgetBytes) && budgetBytes > 0, 'the pre-auth budget must be a positive integer');
  let readBytes = 0;
  const onData = (chunk: Buffer): void => {
    readBytes += chunk.length;
    if (readBytes <= budgetBytes) return;
    socket.off('data', onData);
    onExceeded(readBytes);
  };
  socket.on('data', onData);
  return { release: () => socket.off('data', onData) };
}
