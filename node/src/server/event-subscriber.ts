// One subscriber of GET /v1/events (a WebSocket): its subscription to the event feed, the resume
// from a log index, the queue of batches not yet written, the slow-consumer backlog and its share of
// the node-wide buffer budget (ws-buffers.ts), and how the connection closes. The server checks
// the request (path, token, ?from, ?types) and hands it here; this class owns the connection's state.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { EventSubscription, NodeApi, WireEvent } from './api.js';
import type { ServerMetrics } from './metrics.js';
import type { BufferHolder, SubscriberBuffers } from './ws-buffers.js';
import { sharedTextFrames } from './ws-frames.js';

/** WebSocket close codes (application range). */
export const WS_CLOSE = { SLOW_CONSUMER: 4008, EVENTS_COMPACTED: 4010, SHUTTING_DOWN: 1001 } as const;

/** How long an evicted subscriber's close handshake may take before its socket is destroyed. */
const EVICTED_CLOSE_MS = 1_000;

/** What the server shares with its subscribers. */
export interface SubscriberHost {
  readonly api: NodeApi;
  readonly metrics: ServerMetrics;
  readonly buffers: SubscriberBuffers;
  readonly wss: WebSocketServer;
  /** Open subscriber sockets, closed by the server when it stops. */
  readonly sockets: Set<WebSocket>;
  /** Live events sent to one subscriber but not yet written to its socket before it is closed as too slow. */
  readonly backlogLimit: number;
}

/**
 * Subscribes before the WebSocket handshake (`subscribe`), so that EVENTS_COMPACTED can still be an
 * HTTP status, then upgrades (`accept`). The replay of retained events (bounded by the event ring)
 * and the live events behind it wait in `queue`; `pump` sends frames while at most `backlogLimit`
 * events are unwritten to the socket. Only live events count against the backlog: a subscriber is
 * too slow when more than `backlogLimit` of them wait behind what it has not read yet.
 */
export class EventSubscriber implements BufferHolder {
  held = 0;
  private ws: WebSocket | null = null;
  private sub: EventSubscription | null = null;
  private readonly queue: (readonly WireEvent[])[] = [];
  private queued = 0;
  private replayLeft = 0;
  private replaying = true;
  private inFlight = 0;
  private closed = false;
  private closing: [number, string] | null = null;
  private released = false;

  constructor(
    private readonly host: SubscriberHost,
    private readonly socket: Duplex,
  ) {}

  /** Subscribes from log index `from` (null: live events only); throws what `api.subscribe` refuses. */
  subscribe(from: number | null, types: ReadonlySet<string> | null): void {
    this.sub = this.host.api.subscribe(from, types, this.deliver, () =>
      this.close(WS_CLOSE.EVENTS_COMPACTED, 'EVENTS_COMPACTED: this node installed a snapshot; resume with ?from='),
    );
    this.replaying = false;
    this.replayLeft = this.queued;
  }

  /** Completes the WebSocket handshake. The feed ends with the socket, whether or not the upgrade went through. */
  accept(req: IncomingMessage, head: Buffer): void {
    const { metrics, wss, sockets } = this.host;
    // `handleUpgrade` answers a malformed handshake (bad key, version, headers) itself and never calls back.
    metrics.eventFeeds.inc();
    this.socket.once('close', this.release);
    if (this.socket.destroyed) return this.release();
    wss.handleUpgrade(req, this.socket, head, (client) => {
      this.ws = client;
      sockets.add(client);
      metrics.wsClients.inc();
      client.on('close', () => {
        this.release();
        sockets.delete(client);
        metrics.wsClients.dec();
      });
      client.on('error', () => client.terminate());
      client.on('message', () => { /* subscribers only listen; frames from them are ignored */ });
      if (this.closing !== null) client.close(this.closing[0], this.closing[1]);
      else this.pump();
    });
  }

  /** The buffer budget ran out and this subscriber holds the most. */
  evict(): void {
    this.host.metrics.wsSlowClosed.inc();
    this.close(WS_CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER: the node\'s subscriber buffers are full and this subscriber holds the most; resume with ?from=');
    // Its socket is not draining: the close frame may never get out.
    setTimeout(() => this.ws?.terminate(), EVICTED_CLOSE_MS).unref();
  }

  private readonly deliver = (events: readonly WireEvent[]): void => {
    if (this.closed) return;
    this.queue.push(events);
    this.queued += events.length;
    const limit = this.host.backlogLimit;
    if (!this.replaying && this.queued - this.replayLeft > limit) {
      this.host.metrics.wsSlowClosed.inc();
      this.close(WS_CLOSE.SLOW_CONSUMER, `SLOW_CONSUMER: more than ${limit} events waiting; resume with ?from=`);
      return;
    }
    this.pump();
  };

  private pump(): void {
    const limit = this.host.backlogLimit;
    if (this.closed || this.ws === null || this.queue.length === 0 || this.inFlight >= limit) return;
    const { socket, queue } = this;
    const buffers = this.host.buffers;
    // Corked, the frames of every batch written in this turn leave in one syscall.
    socket.cork();
    while (!this.closed && queue.length > 0 && this.inFlight < limit) {
      const events = queue[0]!;
      const n = events.length;
      const frames = sharedTextFrames(events);
      if (!buffers.take(this, frames)) break;
      queue.shift();
      this.queued -= n;
      this.replayLeft = Math.max(0, this.replayLeft - n);
      this.inFlight += n;
      socket.write(frames, () => { this.inFlight -= n; buffers.give(this, frames); this.pump(); });
    }
    socket.uncork();
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = [code, reason];
    this.queue.length = 0;
    this.host.buffers.release(this);
    this.ws?.close(code, reason);
  }

  private readonly release = (): void => {
    if (this.released) return;
    this.released = true;
    this.closed = true;
    this.queue.length = 0;
    this.host.buffers.release(this);
    this.sub?.close();
    this.host.metrics.eventFeeds.dec();
  };
}
