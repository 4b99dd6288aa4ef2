// Owns the event-stream check: one WebSocket subscriber per node on GET /v1/events, cut at
// random moments and resumed with `?from=<last index seen>`; each remembers every index it got,
// in order. At the end every subscriber must hold the event of every acknowledged command, with
// indexes strictly increasing (log order, no duplicates).
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './http.js';

export const EVENT_TYPE = 'kv.changed';
export const MAX_EVENTS_PER_SUBSCRIBER = 2_000_000;
const RECONNECT_DELAY_MS = 300;
const MAX_ANOMALIES = 5;

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

  constructor(readonly node: Endpoint, private readonly random: () => number, private cutEveryMs: number) {}

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.node.url.replace(/^http/, 'ws')}/v1/events?types=${EVENT_TYPE}&from=${this.lastIndex}`;
    const socket = new WebSocket(url, { handshakeTimeout: 2_000 });
    this.socket = socket;
    socket.on('message', (data) => {
      if (this.socket === socket) this.receive(data.toString()); // never from a connection already cut
    });
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.connect(), RECONNECT_DELAY_MS).unref();
    });
    this.scheduleCut(socket);
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
    const parsed = JSON.parse(text) as WireEvent | WireEvent[];
    for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
      if (event.type !== EVENT_TYPE) continue;
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
    return { node: this.node.id, received: this.indexes.length, missing, outOfOrder: this.outOfOrder, reconnects: this.reconnects, anomalies: this.anomalies };
  }
}

export class EventSubscribers {
  private readonly subscribers: Subscriber[];

  constructor(nodes: readonly Endpoint[], random: () => number, cutEveryMs: number) {
    this.subscribers = nodes.map((n) => new Subscriber(n, random, cutEveryMs));
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
