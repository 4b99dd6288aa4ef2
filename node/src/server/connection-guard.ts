// Bounds the client API's TCP connections: at most `maxConnections` at once, and none may sit
// silent before its request. A connection that has not started a request within `idleTimeoutMs`
// is closed (node:http's own headersTimeout only fires when bytes arrive). When the cap is
// reached, the connection waiting the longest for a request (never used, or idle between
// keep-alive requests) makes room for the new one; with none waiting, the new one is refused.
// So a flood of idle sockets can neither exhaust file descriptors nor lock clients out.
import assert from 'node:assert';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ConnectionGuardOptions {
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  /** A connection was closed by the guard: `cap` (room for a newer one, or refused) or `idle`. */
  readonly onClosed: (reason: 'cap' | 'idle') => void;
}

export class ConnectionGuard {
  /** Connections without a request in progress, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Socket>();
  private openCount = 0;

  constructor(private readonly o: ConnectionGuardOptions) {
    assert(Number.isSafeInteger(o.maxConnections) && o.maxConnections > 0, 'maxConnections must be a positive integer');
    assert(Number.isSafeInteger(o.idleTimeoutMs) && o.idleTimeoutMs > 0, 'idleTimeoutMs must be a positive integer');
  }

  /** Connections open now (requests in progress, waiting ones and WebSocket subscribers). */
  get open(): number {
    return this.openCount;
  }

  /** `event`: `connection` for plain HTTP, `secureConnection` for HTTPS (the socket requests arrive on). */
  attach(server: Server, event: 'connection' | 'secureConnection'): void {
    server.on(event, (socket: Socket) => this.onConnection(socket));
  }

  /** A request started on `req.socket`: it is no longer waiting, and no idle timer runs under it. */
  requestStarted(req: IncomingMessage): void {
    const socket = req.socket;
    if (!this.waiting.delete(socket)) return;
    socket.setTimeout(0);
  }

  /** The answer went out; a kept-alive connection waits again (node:http times its keep-alive). */
  requestFinished(req: IncomingMessage): void {
    const socket = req.socket;
    if (!socket.destroyed) this.waiting.add(socket);
  }

  /** The connection became a WebSocket: it stays counted, is never evicted, and has no idle timer. */
  upgraded(socket: Duplex): void {
    this.waiting.delete(socket as Socket);
    (socket as Socket).setTimeout(0);
  }

  private onConnection(socket: Socket): void {
    this.openCount++;
    socket.once('close', () => {
      this.openCount--;
      this.waiting.delete(socket);
    });
    if (this.openCount > this.o.maxConnections) {
      const oldest = this.waiting.values().next();
      if (oldest.done === true) {
        this.o.onClosed('cap');
        socket.destroy();
        return;
      }
      this.waiting.delete(oldest.value);
      this.o.onClosed('cap');
      oldest.value.destroy();
    }
    this.waiting.add(socket);
    socket.setTimeout(this.o.idleTimeoutMs, () => {
      if (!this.waiting.has(socket)) return;
      this.o.onClosed('idle');
      socket.destroy();
    });
  }
}
