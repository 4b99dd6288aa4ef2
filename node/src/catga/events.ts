// Events: the event record (with its WebSocket wire form encoded exactly once) and EventLog, the
// bounded in-memory ring subscribers resume from.
//
// Why the ring needs no persistence: every event is a deterministic product of a log entry
// (emitted by a command or published directly), and the ring only promises events for indexes
// after its floor. On start the runtime restores the latest snapshot (floor = snapshot index) and
// replays the log after it through `Mediator.apply`, which raises the same events again, with the
// same indexes, and appends them here. So after a restart the ring holds exactly the events of the
// entries the log still holds beyond the snapshot; anything older is answered EVENTS_COMPACTED.
import assert from 'node:assert/strict';
import type { JsonValue } from './schema.js';
import { ErrorCodes, fail, ok, type Failure, type Result } from './result.js';

/**
 * What subscribers get and all the ring keeps of an event: its wire form, `{"index","type","data",
 * "ts"}` exactly as docs/api.md#events sends it over WebSocket, as UTF-8 bytes encoded once per node.
 * Bytes live outside the JavaScript heap, so holding 100,000 recent events costs the garbage
 * collector one small object each; holding the events themselves (their data and a JSON string)
 * cost a fifth of the node's throughput under batched writes, in collection work.
 */
export interface WireEvent {
  readonly index: number;
  readonly type: string;
  readonly bytes: Buffer;
}

export interface CatgaEvent {
  /** Index of the log entry that raised the event (several events may share one index). */
  readonly index: number;
  readonly type: string;
  readonly data: JsonValue;
  /** The entry's timestamp (ms since the epoch, set by the proposing leader). */
  readonly ts: number;
  readonly wire: WireEvent;
}

/** Builds an event from data already serialized (`dataJson`), so the data is stringified once. */
export function makeEvent(index: number, type: string, data: JsonValue, ts: number, dataJson: string): CatgaEvent {
  const bytes = Buffer.from(`{"index":${index},"type":${JSON.stringify(type)},"data":${dataJson},"ts":${ts}}`);
  return { index, type, data, ts, wire: { index, type, bytes } };
}

export const DEFAULT_EVENT_LOG_MAX_EVENTS = 100_000;
/**
 * Bound on the ring's size, counted in bytes of the events' wire form (CATGA_EVENT_RING_BYTES).
 * Events of up to 335 bytes meet the count bound first. Each MiB of it costs a node about a MiB of
 * Buffers, and as much in its event store on disk (README, "Large state").
 */
export const DEFAULT_EVENT_LOG_MAX_BYTES = 32 * 1024 * 1024;
/** Bound on the events one `since` call returns (whole entries are never split, see `since`). */
export const DEFAULT_SINCE_LIMIT = 1_000;

export interface EventLogOptions {
  readonly maxEvents?: number;
  readonly maxBytes?: number;
}

export type EventListener = (events: readonly WireEvent[]) => void;

export interface Follower {
  close(): void;
}

export class EventLog {
  readonly maxEvents: number;
  readonly maxBytes: number;
  private readonly ring: (WireEvent | undefined)[];
  private head = 0;
  private count = 0;
  private bytes = 0;
  /** Every event with index > floor is held; events at or below it may be gone. */
  private floorIndex = 0;
  private lastIndexSeen = 0;
  /** Entries whose events the ring let go since the last `takeEvicted`, oldest first, each once. */
  private evicted: number[] = [];
  private readonly listeners = new Set<EventListener>();
  private readonly followers = new Set<{ readonly live: EventListener; readonly onCompacted: () => void }>();

  constructor(options: EventLogOptions = {}) {
    this.maxEvents = options.maxEvents ?? DEFAULT_EVENT_LOG_MAX_EVENTS;
    this.maxBytes = options.maxBytes ?? DEFAULT_EVENT_LOG_MAX_BYTES;
    assert.ok(Number.isSafeInteger(this.maxEvents) && this.maxEvents > 0, 'EventLog maxEvents must be a positive integer');
    assert.ok(this.maxBytes > 0, 'EventLog maxBytes must be positive');
    this.ring = new Array(this.maxEvents);
  }

  /** Lowest index a subscriber may resume from (`since(floor)` works, `since(floor - 1)` does not). */
  get floor(): number {
    return this.floorIndex;
  }

  /** Index of the last entry appended (events or not: see `advance`). */
  get lastIndex(): number {
    return this.lastIndexSeen;
  }

  /** Forgets everything: the state machine was restored from a snapshot at `floor`. Ends every `follow`. */
  reset(floor: number): void {
    for (const follower of this.followers) {
      this.listeners.delete(follower.live);
      follower.onCompacted();
    }
    this.followers.clear();
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    this.floorIndex = floor;
    this.lastIndexSeen = floor;
    this.evicted = [];
  }

  /**
   * The entries whose events the ring evicted since the last call (the mediator lets the event
   * store drop them, so what it keeps never outgrows the ring's bounds by more than a segment).
   */
  takeEvicted(): readonly number[] {
    const out = this.evicted;
    this.evicted = [];
    return out;
  }

  /**
   * Refills the ring from the event store (`state/event-store.ts`), at start or after a snapshot:
   * every event after `floor` up to `lastIndex`, entries in log order. Entries at or below `floor`
   * are not held but reported by `takeEvicted`, so the store lets them go. Ends every follow.
   */
  restore(floor: number, lastIndex: number, entries: Iterable<readonly WireEvent[]>): void {
    this.reset(floor);
    for (const wires of entries) {
      const index = (wires[0] as WireEvent).index;
      if (index <= floor) {
        this.evicted.push(index);
        continue;
      }
      assert.ok(index > this.lastIndexSeen && index <= lastIndex, `EventLog: kept entry ${index} outside (${this.lastIndexSeen}, ${lastIndex}]`);
      this.lastIndexSeen = index;
      for (const wire of wires) this.hold(wire);
    }
    this.lastIndexSeen = lastIndex;
  }

  private hold(wire: WireEvent): void {
    if (this.count === this.maxEvents) this.evictOldest();
    this.ring[(this.head + this.count) % this.maxEvents] = wire;
    this.count++;
    this.bytes += wire.bytes.length;
    while (this.bytes > this.maxBytes && this.count > 1) this.evictOldest();
  }

  /**
   * Appends the events of entry `index` (possibly none: the ring still learns the index) and hands
   * them to every listener. Entries arrive in log order.
   */
  append(index: number, events: readonly CatgaEvent[]): void {
    assert.ok(index > this.lastIndexSeen, `EventLog: entry ${index} appended after ${this.lastIndexSeen}`);
    this.lastIndexSeen = index;
    if (events.length === 0) return;
    for (const { wire } of events) {
      assert.equal(wire.index, index, 'EventLog: event index differs from its entry');
      this.hold(wire);
    }
    if (this.listeners.size === 0) return;
    // One array for every listener: the server builds an entry's frames once per array.
    const wires = events.map((e) => e.wire);
    for (const listener of this.listeners) listener(wires);
  }

  /**
   * Events with index > `from` (filtered by `types` when given), oldest first, at most about
   * `limit`: the page is extended to the end of its last entry so that resuming from the last
   * index returned never skips an event. EVENTS_COMPACTED when `from` is below the floor.
   */
  since(from: number, types: ReadonlySet<string> | null = null, limit = DEFAULT_SINCE_LIMIT): Result<WireEvent[]> {
    if (from < this.floorIndex) return this.compacted(from);
    const out: WireEvent[] = [];
    for (let i = this.firstPositionAfter(from); i < this.count; i++) {
      const event = this.at(i);
      if (out.length >= limit && event.index !== (out[out.length - 1] as WireEvent).index) break;
      if (types === null || types.has(event.type)) out.push(event);
    }
    return ok(out);
  }

  /** Registers a live listener, called synchronously by `append` with each entry's events. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A subscriber's feed: every held event after `from` (after the floor when null), then live
   * events, in log order, filtered by `types`, each batch handed to `deliver` synchronously (it
   * must only queue). Backlog and live hand-over happen in one synchronous turn, so nothing is
   * missed or repeated. If the log is later reset by a snapshot from the leader (a gap this node
   * never applied), the feed stops and `onCompacted` is called: the subscriber must resume.
   */
  follow(from: number | null, types: ReadonlySet<string> | null, deliver: EventListener, onCompacted: () => void): Result<Follower> {
    const start = from ?? this.floorIndex;
    if (start < this.floorIndex) return this.compacted(start);
    let batch: WireEvent[] = [];
    for (let i = this.firstPositionAfter(start); i < this.count; i++) {
      const event = this.at(i);
      if (types !== null && !types.has(event.type)) continue;
      if (batch.length >= DEFAULT_SINCE_LIMIT && event.index !== (batch[batch.length - 1] as WireEvent).index) {
        deliver(batch);
        batch = [];
      }
      batch.push(event);
    }
    if (batch.length > 0) deliver(batch);
    // A node still replaying its log after a restart may be behind `start`: live events up to it
    // were already delivered by the node the subscriber came from, so they are skipped here.
    const live: EventListener = (events) => {
      if ((events[0] as WireEvent).index <= start) return;
      if (types === null) return deliver(events);
      const wanted = events.filter((event) => types.has(event.type));
      // The same array for every subscriber keeps per-entry work shared (the server caches frames by it).
      if (wanted.length === events.length) deliver(events);
      else if (wanted.length > 0) deliver(wanted);
    };
    this.listeners.add(live);
    const follower = { live, onCompacted };
    this.followers.add(follower);
    return ok({
      close: () => {
        this.listeners.delete(live);
        this.followers.delete(follower);
      },
    });
  }

  private compacted(from: number): Failure {
    return fail(ErrorCodes.EVENTS_COMPACTED, `events after index ${from} are no longer held; the oldest resumable index is ${this.floorIndex}`);
  }

  private at(position: number): WireEvent {
    const event = this.ring[(this.head + position) % this.maxEvents];
    assert.ok(event !== undefined, 'EventLog: hole in the ring');
    return event;
  }

  /** Binary search: first position whose event index is > `from`. */
  private firstPositionAfter(from: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.at(mid).index <= from) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private evictOldest(): void {
    const oldest = this.at(0);
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.maxEvents;
    this.count--;
    this.bytes -= oldest.bytes.length;
    if (this.evicted[this.evicted.length - 1] !== oldest.index) this.evicted.push(oldest.index);
    // Its entry may now be incomplete, so it can no longer be resumed from.
    if (oldest.index > this.floorIndex) this.floorIndex = oldest.index;
  }
}
