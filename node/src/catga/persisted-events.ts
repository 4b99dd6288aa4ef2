// The events of recent entries as they are kept across restarts, so that a restarted node still
// serves `GET /v1/events?from=` for entries its log holds: the state engine is not replayed at
// start, and events cannot be recomputed without the state they were raised on. They live in the
// event store (state/event-store.ts), one record per entry that raised events; this file owns the
// record's encoding: per event, type length (u16 BE), type, wire length (u32 BE), wire bytes.
//
// Versions before the event store kept the same records as rows of the engine's `meta` table
// (`ev:` + the index, 8 bytes big-endian; `ev-since`: the index after which rows are complete).
// A data directory, a snapshot or a backup from such a version still carries them: `takeLegacyRows`
// moves them out of the engine.
import type { EventRecord } from '../state/event-store.js';
import type { KeyValue, StateEngine } from '../state/engine.js';
import type { WireEvent } from './events.js';

const LEGACY_PREFIX = Buffer.from('ev:', 'latin1');
const LEGACY_SINCE = Buffer.from('ev-since', 'latin1');
const LEGACY_PAGE = 1024;

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

/** Rows an older version kept in the engine: the index after which they are complete, and the rows. */
export interface LegacyRows {
  readonly since: number;
  readonly records: EventRecord[];
}

/** Reads and deletes the rows an older version kept in `engine` (null when it holds none), in one transaction. */
export function takeLegacyRows(engine: StateEngine): LegacyRows | null {
  const since = engine.get('meta', LEGACY_SINCE);
  if (since === undefined) return null;
  return engine.write((tx) => {
    const records: EventRecord[] = [];
    const keys: Uint8Array[] = [];
    let after: Uint8Array | undefined;
    for (;;) {
      const rows = tx.range('meta', { prefix: LEGACY_PREFIX, after, limit: LEGACY_PAGE });
      for (const { key, value } of rows) {
        keys.push(key);
        // A copy: the engine's bytes are only valid for the transaction.
        records.push({ index: Number(Buffer.from(key).readBigUInt64BE(LEGACY_PREFIX.length)), bytes: Buffer.from(value) });
      }
      if (rows.length < LEGACY_PAGE) break;
      after = (rows[rows.length - 1] as KeyValue).key;
    }
    for (const key of keys) tx.delete('meta', key);
    tx.delete('meta', LEGACY_SINCE);
    return { since: Number(Buffer.from(since).readBigUInt64BE(0)), records };
  });
}
