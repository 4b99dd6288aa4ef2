// The events of recent entries, kept in the state engine beside the state they came from, so that
// a restarted node still serves `GET /v1/events?from=` for entries its log holds: the state engine
// is not replayed at start, and events cannot be recomputed without the state they were raised on.
// One row per entry that raised events, in the engine's `meta` table under `ev:` + the index (8
// bytes big-endian, so rows sort in log order), written in the entry's apply transaction. The rows
// mirror the in-memory event ring: when the ring evicts an entry's events (by count or by bytes),
// the next apply transaction deletes its row, so the engine holds at most the ring's bounds plus
// one batch. Value: per event, type length (u16), type, wire length (u32), wire bytes.
// Key `ev-since` holds the index after which rows are complete (data written before events were
// kept, or imported, has none; rows deleted move it up): the ring's floor is never below it.
import type { KeyValue, ReadView, WriteTx } from '../state/engine.js';
import type { WireEvent } from './events.js';

const PREFIX = Buffer.from('ev:', 'latin1');
const SINCE = Buffer.from('ev-since', 'latin1');

/** The index after which every entry's events are kept, null when events were never kept here. */
export function keptSince(view: Pick<ReadView, 'get'>): number | null {
  const v = view.get('meta', SINCE);
  return v === undefined ? null : Number(Buffer.from(v.buffer, v.byteOffset, v.byteLength).readBigUInt64BE(0));
}

/** Records that events are kept for every entry after `index`. */
export function keepSince(tx: WriteTx, index: number): void {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt(index), 0);
  tx.put('meta', SINCE, value);
}

function rowKey(index: number): Buffer {
  const key = Buffer.alloc(PREFIX.length + 8);
  PREFIX.copy(key, 0);
  key.writeBigUInt64BE(BigInt(index), PREFIX.length);
  return key;
}

/** Deletes the rows of `indexes` (ascending: the entries the ring let go); rows are complete after the last. */
export function forgetEvents(tx: WriteTx, indexes: readonly number[]): void {
  if (indexes.length === 0) return;
  for (const index of indexes) tx.delete('meta', rowKey(index));
  keepSince(tx, indexes[indexes.length - 1] as number);
}

/** Records entry `index`'s events (none: no row). */
export function keepEvents(tx: WriteTx, index: number, wires: readonly WireEvent[]): void {
  if (wires.length === 0) return;
  let size = 0;
  for (const w of wires) size += 6 + Buffer.byteLength(w.type, 'utf8') + w.bytes.length;
  const value = Buffer.allocUnsafe(size);
  let off = 0;
  for (const w of wires) {
    const typeLength = value.write(w.type, off + 2, 'utf8');
    value.writeUInt16BE(typeLength, off);
    off += 2 + typeLength;
    value.writeUInt32BE(w.bytes.length, off);
    w.bytes.copy(value, off + 4);
    off += 4 + w.bytes.length;
  }
  tx.put('meta', rowKey(index), value);
}

function decodeRow({ key, value }: KeyValue): WireEvent[] {
  const index = Number(Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(PREFIX.length));
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const wires: WireEvent[] = [];
  for (let off = 0; off < buf.length;) {
    const typeLength = buf.readUInt16BE(off);
    const type = buf.toString('utf8', off + 2, off + 2 + typeLength);
    off += 2 + typeLength;
    const length = buf.readUInt32BE(off);
    // A copy: the engine's bytes are only valid for the read.
    wires.push({ index, type, bytes: Buffer.from(buf.subarray(off + 4, off + 4 + length)) });
    off += 4 + length;
  }
  return wires;
}

/** The kept events of the entries after `afterIndex`, in log order, read page by page. */
export function* keptEvents(view: Pick<ReadView, 'range'>, afterIndex: number, page = 1024): Generator<WireEvent[]> {
  let after: Uint8Array = rowKey(afterIndex);
  for (;;) {
    const rows = view.range('meta', { prefix: PREFIX, after, limit: page });
    for (const row of rows) yield decodeRow(row);
    if (rows.length < page) return;
    after = (rows[rows.length - 1] as KeyValue).key;
  }
}
