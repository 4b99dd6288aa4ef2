// Closing a WebSocket within a deadline: the closing handshake is attempted, and a peer that does
// not answer it (stopped reading, vanished) is cut off after `graceMs` so no timer or socket of
// ours outlives the deadline.
import { WebSocket } from 'ws';

/** Resolves once the socket is closed; never rejects. */
export function closeWithin(ws: WebSocket, code: number, reason: string, graceMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const deadline = setTimeout(() => ws.terminate(), graceMs);
    ws.once('close', () => {
      clearTimeout(deadline);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  });
}
