// Owns the event-stream check: one WebSocket subscriber per node on GET /v1/events, cut at
// random moments and resumed with `?from=<last index seen>` (on the next node when its own no
// longer holds that index: EVENTS_COMPACTED); each remembers every index it got,
// in order. At the end every subscriber must hold the event of every acknowledged command, with
// indexes strictly increasing (log order, no duplicates).
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './http.js';

export const EVENT_TYPE = 'kv.changed';
export const MAX_EVENTS_PER_SUBSCRIBER = 2_000_000;
const RECONNECT_DELAY_MS = 300;
const MAX_ANOMALIES = 5;
const COMPACTED = 'EVENTS_COMPACTED';
/** Close code a node uses when it installs a snapshot under a live subscriber. */
const COMPACTED_CLOSE_CODE = 4010;

interface WireEvent {
  index: number;
  type: string;
  data: unknown;
}

export interface SubscriberReport {
  readonly node: string;
  readonly received: number;
  readonly missing: number;
  readonly outOfOrder: number;
  readonly reconnects: number;
  /** Times it had to move to another node to resume (EVENTS_COMPACTED). */
  readonly failovers: number;
  /** The first few out-of-order deliveries, described. */
  readonly anomalies: readonly string[];
}

class Subscriber {
  readonly indexes: number[] = [];
  private readonly seen = new Set<number>();
  private dataAtLast = new Set<string>();
  private connectionOfLast = -1;
  lastIndex = 0;
  outOfOrder = 0;
  reconnects = 0;
  readonly anomalies: string[] = [];
  private socket: WebSocket | null = null;
  private stopped = false;
  private cutTimer: NodeJS.Timeout | null = null;

  /** Which of `nodes` this subscriber reads from now; it starts on its home node. */
  private current: number;
  /** Times a node could not resume it (EVENTS_COMPACTED) and it moved to the next node. */
  failovers = 0;

  constructor(
    private readonly nodes: readonly Endpoint[],
    private readonly home: number,
    private readonly random: () => number,
    private cutEveryMs: number,
  ) {
    this.current = home;
  }

  get node(): Endpoint {
    return this.nodes[this.current % this.nodes.length]!;
  }

  /**
   * A node whose log no longer holds `from` (it restarted from a snapshot) cannot resume this
   * subscriber; like a real consumer it resumes from another node, whose ring may still hold it.
   */
  private failover(): void {
    this.failovers++;
    this.current++;
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const node = this.node;
    // https: becomes wss:, trusting the node's CA under the name it is known by.
    const url = `${node.url.replace(/^http/, 'ws')}/v1/events?types=${EVENT_TYPE}&from=${this.lastIndex}`;
    const socket = new WebSocket(url, { handshakeTimeout: 2_000, ...(node.tls ? { ca: node.tls.ca, servername: node.tls.servername } : {}) });
    this.socket = socket;
    socket.on('message', (data) => {
      if (this.socket === socket) this.receive(data.toString()); // never from a connection already cut
    });
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        this.closed(socket, body.includes(COMPACTED));
      });
    });
    socket.on('close', (code: number) => this.closed(socket, code === COMPACTED_CLOSE_CODE));
    this.scheduleCut(socket);
  }

  /** A connection ended (or its handshake was refused): resume after a pause, elsewhere if compacted. */
  private closed(socket: WebSocket, compacted: boolean): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (compacted) this.failover();
    if (this.stopped) return;
    this.reconnects++;
    setTimeout(() => this.connect(), RECONNECT_DELAY_MS).unref();
  }

  /** Closes the connection at a random moment (it resumes from the last index it saw). */
  private scheduleCut(socket: WebSocket): void {
    if (this.cutEveryMs <= 0) return;
    if (this.cutTimer !== null) clearTimeout(this.cutTimer);
    this.cutTimer = setTimeout(() => {
      if (this.socket === socket) socket.terminate();
    }, this.cutEveryMs * (0.5 + this.random()));
  }

  private receive(text: string): void {
    const event = JSON.parse(text) as WireEvent;
    // The contract: each message is one event. Anything else counts against the subscriber.
    if (Array.isArray(event) || typeof event.index !== 'number') {
      this.outOfOrder++;
      if (this.anomalies.length < MAX_ANOMALIES) this.anomalies.push(`a message that is not one event: ${text.slice(0, 80)}`);
      return;
    }
    if (event.type !== EVENT_TYPE) return;
    // Several events of one log entry share its index and arrive together on one connection;
    // anything else at or below the last index is out of order or a duplicate delivery.
    const data = JSON.stringify(event.data);
    const sameEntry = event.index === this.lastIndex && this.connectionOfLast === this.reconnects && !this.dataAtLast.has(data);
    if (sameEntry) {
      this.dataAtLast.add(data);
    } else if (event.index <= this.lastIndex) {
      this.outOfOrder++;
      if (this.anomalies.length < MAX_ANOMALIES) {
        const kind = event.index === this.lastIndex ? 'duplicate of the last index' : 'out of order';
        this.anomalies.push(`${kind}: index ${event.index} after ${this.lastIndex} on connection ${this.reconnects} (${data.slice(0, 80)})`);
      }
    } else if (this.indexes.length < MAX_EVENTS_PER_SUBSCRIBER) {
      this.indexes.push(event.index);
      this.seen.add(event.index);
      this.lastIndex = event.index;
      this.connectionOfLast = this.reconnects;
      this.dataAtLast = new Set([data]);
    }
  }

  /** Stops the random cuts; the subscriber keeps (re)connecting until `stop`. */
  calm(): void {
    if (this.cutTimer !== null) clearTimeout(this.cutTimer);
    this.cutTimer = null;
    this.cutEveryMs = 0;
  }

  stop(): void {
    this.stopped = true;
    this.calm();
    this.socket?.terminate();
    this.socket = null;
  }

  report(ackedIndexes: readonly number[]): SubscriberReport {
    let missing = 0;
    for (const index of ackedIndexes) if (!this.seen.has(index)) missing++;
    return {
      node: this.nodes[this.home]!.id, received: this.indexes.length, missing, outOfOrder: this.outOfOrder,
      reconnects: this.reconnects, failovers: this.failovers, anomalies: this.anomalies,
    };
  }
}

export class EventSubscribers {
  private readonly subscribers: Subscriber[];

  /** One subscriber homed on each node. */
  constructor(nodes: readonly Endpoint[], random: () => number, cutEveryMs: number) {
    this.subscribers = nodes.map((_, i) => new Subscriber(nodes, i, random, cutEveryMs));
  }

  start(): void {
    for (const s of this.subscribers) s.start();
  }

  /**
   * Stops the cuts, waits (bounded) until every subscriber has caught up with `ackedIndexes`,
   * then stops them and reports per subscriber.
   */
  async finish(ackedIndexes: readonly number[], timeoutMs: number): Promise<SubscriberReport[]> {
    for (const s of this.subscribers) s.calm();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.subscribers.some((s) => s.report(ackedIndexes).missing > 0)) await sleep(200);
    for (const s of this.subscribers) s.stop();
    return this.subscribers.map((s) => s.report(ackedIndexes));
  }

  stop(): void {
    for (const s of this.subscribers) s.stop();
  }
}
