// Owns link delay: a TCP relay that listens on one address, forwards every connection to a target
// and holds each chunk for `meanMs ± jitterMs` (uniform) per direction, keeping byte order (a
// chunk never overtakes the previous one). The kernel here has no netem; this stands in for it on
// peer links. Memory is bounded: a direction with MAX_QUEUED_BYTES in flight pauses its reader.
import { createServer, connect, type Server, type Socket } from 'node:net';
import assert from 'node:assert/strict';

export const MAX_QUEUED_BYTES = 4 << 20;
export const MAX_RELAY_CONNECTIONS = 256;

export interface LinkDelay {
  readonly meanMs: number;
  readonly jitterMs: number;
}

export class DelayRelay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly listenHost: string,
    readonly listenPort: number,
    readonly targetHost: string,
    readonly targetPort: number,
    private delay: LinkDelay,
    private readonly random: () => number,
  ) {
    assert.ok(delay.jitterMs >= 0 && delay.meanMs >= delay.jitterMs, 'delay must stay >= 0');
    this.server = createServer((client) => this.relay(client));
    this.server.maxConnections = MAX_RELAY_CONNECTIONS;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, this.listenHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Changes the delay for chunks read from now on. */
  setDelay(delay: LinkDelay): void {
    assert.ok(delay.jitterMs >= 0 && delay.meanMs >= delay.jitterMs, 'delay must stay >= 0');
    this.delay = delay;
  }

  private relay(client: Socket): void {
    const upstream = connect(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    // A clean close travels as a delayed end (pending chunks go first); an error resets both.
    const resetBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', resetBoth);
      socket.on('close', () => this.sockets.delete(socket));
    }
    this.pipeDelayed(client, upstream);
    this.pipeDelayed(upstream, client);
  }

  /**
   * Forwards `from` to `to` through a FIFO of due times: one timer per direction runs every
   * action whose time has come, in order (separate timers per chunk could fire out of order).
   */
  private pipeDelayed(from: Socket, to: Socket): void {
    const queue: Array<{ dueAt: number; action: () => void }> = [];
    let timer: NodeJS.Timeout | null = null;
    let lastDueAt = 0;
    let queuedBytes = 0;
    let endPending = false;
    const drain = (): void => {
      if (timer !== null) this.timers.delete(timer);
      timer = null;
      const now = Date.now();
      while (queue.length > 0 && (queue[0]?.dueAt ?? Infinity) <= now) queue.shift()?.action();
      armTimer();
    };
    const armTimer = (): void => {
      const next = queue[0];
      if (timer !== null || next === undefined) return;
      timer = setTimeout(drain, Math.max(0, next.dueAt - Date.now()));
      this.timers.add(timer);
    };
    const schedule = (action: () => void): void => {
      const { meanMs, jitterMs } = this.delay;
      lastDueAt = Math.max(Date.now() + meanMs + (this.random() * 2 - 1) * jitterMs, lastDueAt);
      queue.push({ dueAt: lastDueAt, action });
      armTimer();
    };
    from.on('data', (chunk: Buffer) => {
      queuedBytes += chunk.length;
      if (queuedBytes >= MAX_QUEUED_BYTES) from.pause();
      schedule(() => {
        queuedBytes -= chunk.length;
        if (!to.destroyed) to.write(chunk);
        if (queuedBytes < MAX_QUEUED_BYTES && from.isPaused() && !endPending) from.resume();
      });
    });
    from.on('end', () => {
      endPending = true;
      schedule(() => to.end());
    });
  }

  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
