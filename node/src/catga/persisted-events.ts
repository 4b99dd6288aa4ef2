// The events of recent entries as they are kept across restarts, so that a restarted node still
// serves `GET /v1/events?from=` for entries its log holds: the state engine is not replayed at
// start, and events cannot be recomputed without the state they were raised on. They live in the
// event store (state/event-store.ts), one record per entry that raised events; this file owns the
// record's encoding: per event, type length (u16 BE), type, wire length (u32 BE), wire bytes.
//
// A snapshot carries the sender's recent events as rows of the engine's `meta` table (`ev:` + the
// index, 8 bytes big-endian; `ev-since`: the index after which rows are complete), merged into
// the stream by `eventRows`; versions before the event store kept them in the engine that way, so
// their data directories, snapshots and backups carry the same rows. After a swap or at start,
// `takeEventRows` moves them out of the engine into the event store.
import type { EventRecord } from '../state/event-store.js';
import type { KeyValue, StateEngine } from '../state/engine.js';
import type { WireEvent } from './events.js';

const ROW_PREFIX = Buffer.from('ev:', 'latin1');
const ROW_SINCE = Buffer.from('ev-since', 'latin1');
const ROW_PAGE = 1024;

/** One entry's events as a record (none: no record). */
export function encodeRecord(index: number, wires: readonly WireEvent[]): EventRecord {
  let size = 0;
  for (const w of wires) size += 6 + Buffer.byteLength(w.type, 'utf8') + w.bytes.length;
  const bytes = Buffer.allocUnsafe(size);
  let off = 0;
  for (const w of wires) {
    const typeLength = bytes.write(w.type, off + 2, 'utf8');
    bytes.writeUInt16BE(typeLength, off);
    off += 2 + typeLength;
    bytes.writeUInt32BE(w.bytes.length, off);
    w.bytes.copy(bytes, off + 4);
    off += 4 + w.bytes.length;
  }
  return { index, bytes };
}

/** A record's events (copies: the record's bytes may be a view of a larger read). */
export function decodeRecord({ index, bytes }: EventRecord): WireEvent[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wires: WireEvent[] = [];
  for (let off = 0; off < buf.length;) {
    const typeLength = buf.readUInt16BE(off);
    const type = buf.toString('utf8', off + 2, off + 2 + typeLength);
    off += 2 + typeLength;
    const length = buf.readUInt32BE(off);
    wires.push({ index, type, bytes: Buffer.from(buf.subarray(off + 4, off + 4 + length)) });
    off += 4 + length;
  }
  return wires;
}

/** Event rows found in the engine: the index after which they are complete, and the records. */
export interface EventRows {
  readonly since: number;
  readonly records: EventRecord[];
}

/** Reads and deletes the event rows in `engine` (null when it holds none), in one transaction. */
export function takeEventRows(engine: StateEngine): EventRows | null {
  const since = engine.get('meta', ROW_SINCE);
  if (since === undefined) return null;
  return engine.write((tx) => {
    const records: EventRecord[] = [];
    const keys: Uint8Array[] = [];
    let after: Uint8Array | undefined;
    for (;;) {
      const rows = tx.range('meta', { prefix: ROW_PREFIX, after, limit: ROW_PAGE });
      for (const { key, value } of rows) {
        keys.push(key);
        // A copy: the engine's bytes are only valid for the transaction.
        records.push({ index: Number(Buffer.from(key).readBigUInt64BE(ROW_PREFIX.length)), bytes: Buffer.from(value) });
      }
      if (rows.length < ROW_PAGE) break;
      after = (rows[rows.length - 1] as KeyValue).key;
    }
    for (const key of keys) tx.delete('meta', key);
    tx.delete('meta', ROW_SINCE);
    return { since: Number(Buffer.from(since).readBigUInt64BE(0)), records };
  });
}

/**
 * The events after `since`, as the `meta` rows a snapshot carries, in key order: `ev-since` sorts
 * before every `ev:` row (`-` < `:`).
 */
export function eventRows(since: number, events: readonly WireEvent[]): KeyValue[] {
  const sinceValue = Buffer.allocUnsafe(8);
  sinceValue.writeBigUInt64BE(BigInt(since), 0);
  const rows: KeyValue[] = [{ key: ROW_SINCE, value: sinceValue }];
  for (let i = 0; i < events.length;) {
    const index = (events[i] as WireEvent).index;
    let end = i;
    while (end < events.length && (events[end] as WireEvent).index === index) end++;
    const key = Buffer.allocUnsafe(ROW_PREFIX.length + 8);
    ROW_PREFIX.copy(key, 0);
    key.writeBigUInt64BE(BigInt(index), ROW_PREFIX.length);
    rows.push({ key, value: encodeRecord(index, events.slice(i, end)).bytes });
    i = end;
  }
  return rows;
}
