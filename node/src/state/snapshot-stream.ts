// How a snapshot of the state engine travels: the small descriptor the Raft core carries in its
// snapshot (index and the totals a receiver checks), and the chunks that carry the data, read
// from a pinned view in key order and resumable from any chunk boundary. Pure: no I/O.
//
// Chunk layout (all integers big-endian):
//   magic "CGSC" | u32 CRC32C of the body | u32 records | body
//   body: records, each  u8 table | u16 key length | key | u32 value length | value
// A cursor names the last record sent; the next chunk starts after it.
import assert from 'node:assert/strict';
import { crc32c } from '../storage/crc32c.js';
import { hasPrefix, TABLES, type KeyValue, type PinnedView, type ReadView, type Staging, type Table } from './engine.js';

export const SNAPSHOT_FORMAT = 2;
/** Engine meta key holding the metadata of the last snapshot swapped in (for recovery). */
export const SNAPSHOT_META_KEY = Buffer.from('snapshot');
/** Default bound on one chunk's body: far below the peer link's frame limit, big enough to stream. */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;
const MAGIC = Buffer.from('CGSC');
const HEADER_BYTES = 12;
/** Rows read from the view per range call while filling a chunk. */
const READ_PAGE = 256;
/** Bound on records per chunk: with small values a chunk's CPU time goes by records, not bytes. */
const MAX_CHUNK_RECORDS = 2048;

/** What the Raft core's snapshot carries instead of the state itself. */
export interface SnapshotDescriptor {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly index: number;
  /** Bytes of module state (keys + values) and idempotency rows in the image: checked on receipt. */
  readonly stateBytes: number;
  readonly idemRows: number;
}

export class SnapshotFormatError extends Error {}

export function encodeDescriptor(d: SnapshotDescriptor): Uint8Array {
  return Buffer.from(JSON.stringify(d), 'utf8');
}

export function decodeDescriptor(data: Uint8Array): SnapshotDescriptor {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new SnapshotFormatError('snapshot data is not a descriptor (a snapshot written before the state engine?)');
  }
  const d = doc as Partial<SnapshotDescriptor> | null;
  if (d === null || typeof d !== 'object' || d.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotFormatError(`snapshot format ${JSON.stringify(d?.format)} is not ${SNAPSHOT_FORMAT} (a snapshot written before the state engine?)`);
  }
  if (!Number.isSafeInteger(d.index) || !Number.isSafeInteger(d.stateBytes) || !Number.isSafeInteger(d.idemRows)) throw new SnapshotFormatError('snapshot descriptor is malformed');
  return d as SnapshotDescriptor;
}

export interface Cursor {
  readonly table: Table;
  readonly after: Uint8Array;
}

export interface ChunkRecord extends KeyValue {
  readonly table: Table;
}

/** Reads the records after `cursor` (null: from the start) up to about `maxBytes`; `next` null at the end. */
export function readChunk(view: ReadView, cursor: Cursor | null, maxBytes: number): { chunk: Uint8Array; records: number; next: Cursor | null } {
  assert.ok(maxBytes > 0, 'chunk size must be positive');
  const rows: { table: number; key: Uint8Array; value: Uint8Array }[] = [];
  let bytes = 0;
  let tableIndex = cursor === null ? 0 : TABLES.indexOf(cursor.table);
  let after: Uint8Array | undefined = cursor?.after;
  let last: Cursor | null = cursor;
  fill: while (tableIndex < TABLES.length) {
    const table = TABLES[tableIndex] as Table;
    const page = view.range(table, { prefix: new Uint8Array(0), after, limit: READ_PAGE });
    for (const { key, value } of page) {
      rows.push({ table: tableIndex, key, value });
      bytes += 7 + key.byteLength + value.byteLength;
      last = { table, after: key };
      if (bytes >= maxBytes || rows.length >= MAX_CHUNK_RECORDS) break fill;
    }
    if (page.length < READ_PAGE) {
      tableIndex++;
      after = undefined;
    } else {
      after = (page[page.length - 1] as KeyValue).key;
    }
  }
  // One allocation, each record copied once.
  const out = Buffer.allocUnsafe(HEADER_BYTES + bytes);
  let at = HEADER_BYTES;
  for (const { table, key, value } of rows) {
    out.writeUInt8(table, at);
    out.writeUInt16BE(key.byteLength, at + 1);
    out.set(key, at + 3);
    out.writeUInt32BE(value.byteLength, at + 3 + key.byteLength);
    out.set(value, at + 7 + key.byteLength);
    at += 7 + key.byteLength + value.byteLength;
  }
  MAGIC.copy(out, 0);
  out.writeUInt32BE(crc32c(out, HEADER_BYTES), 4);
  out.writeUInt32BE(rows.length, 8);
  const done = tableIndex >= TABLES.length;
  return { chunk: out, records: rows.length, next: done ? null : last };
}

/** Decodes and verifies a chunk; throws SnapshotFormatError on any mismatch. */
export function decodeChunk(chunk: Uint8Array): ChunkRecord[] {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 4).equals(MAGIC)) throw new SnapshotFormatError('snapshot chunk has no header');
  const body = buf.subarray(HEADER_BYTES);
  if (crc32c(body) !== buf.readUInt32BE(4)) throw new SnapshotFormatError('snapshot chunk fails its checksum');
  const count = buf.readUInt32BE(8);
  const out: ChunkRecord[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + 3 > body.length) throw new SnapshotFormatError('snapshot chunk record is cut');
    const table = TABLES[body.readUInt8(at)];
    const keyLength = body.readUInt16BE(at + 1);
    if (table === undefined || at + 7 + keyLength > body.length) throw new SnapshotFormatError('snapshot chunk record is malformed');
    const key = body.subarray(at + 3, at + 3 + keyLength);
    const valueLength = body.readUInt32BE(at + 3 + keyLength);
    const valueAt = at + 7 + keyLength;
    if (valueAt + valueLength > body.length) throw new SnapshotFormatError('snapshot chunk value is cut');
    out.push({ table, key, value: body.subarray(valueAt, valueAt + valueLength) });
    at = valueAt + valueLength;
  }
  if (out.length !== count) throw new SnapshotFormatError(`snapshot chunk holds ${out.length} records, its header says ${count}`);
  return out;
}

/** What a receiver adds up while records arrive, to check against the descriptor at the end. */
export interface StreamTotals {
  stateBytes: number;
  idemRows: number;
  /** The applied index the stream's `meta` table carries (-1 until its record arrives). */
  applied: number;
}

export function emptyTotals(): StreamTotals {
  return { stateBytes: 0, idemRows: 0, applied: -1 };
}

const APPLIED_KEY = Buffer.from('applied', 'latin1');

/** Adds a chunk's records to `totals`: module bytes as the quota counts them (key after the module prefix, value). */
export function tallyRecords(records: readonly ChunkRecord[], totals: StreamTotals): void {
  for (const r of records) {
    if (r.table === 'state') {
      const sep = r.key.indexOf(0);
      totals.stateBytes += r.key.byteLength - (sep + 1) + r.value.byteLength;
    } else if (r.table === 'idem') {
      totals.idemRows++;
    } else if (Buffer.from(r.key.buffer, r.key.byteOffset, r.key.byteLength).equals(APPLIED_KEY)) {
      totals.applied = Number(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).readBigUInt64BE(0));
    }
  }
}

/** Writes a chunk's records into a stage, one put per table. */
export function stageRecords(staging: Staging, records: readonly ChunkRecord[]): void {
  const byTable = new Map<Table, ChunkRecord[]>();
  for (const r of records) {
    const list = byTable.get(r.table) ?? [];
    list.push(r);
    byTable.set(r.table, list);
  }
  for (const [table, list] of byTable) staging.put(table, list);
}

/** Null when the totals match the descriptor, else what differs. */
export function totalsMismatch(totals: StreamTotals, d: Pick<SnapshotDescriptor, 'index' | 'stateBytes' | 'idemRows'>): string | null {
  if (totals.applied === d.index && totals.stateBytes === d.stateBytes && totals.idemRows === d.idemRows) return null;
  return `applied ${totals.applied}/${d.index}, state bytes ${totals.stateBytes}/${d.stateBytes}, idempotency rows ${totals.idemRows}/${d.idemRows}`;
}

export function encodeCursor(c: Cursor | null): string {
  return c === null ? '' : `${c.table}:${Buffer.from(c.after).toString('base64')}`;
}

export function decodeCursor(s: string): Cursor | null {
  if (s === '') return null;
  const colon = s.indexOf(':');
  const table = s.slice(0, colon) as Table;
  if (colon < 0 || !TABLES.includes(table)) throw new SnapshotFormatError('snapshot cursor is malformed');
  return { table, after: Buffer.from(s.slice(colon + 1), 'base64') };
}

/**
 * `view` with `rows` (sorted by key, none of them in `view`) added to its `meta` table: what a
 * snapshot carries besides the engine's state (the sender's recent events, persisted-events.ts).
 */
export function withMetaRows(view: PinnedView, rows: readonly KeyValue[]): PinnedView {
  const byKey = new Map(rows.map((r) => [Buffer.from(r.key).toString('latin1'), r.value]));
  const added = (table: Table, key: Uint8Array) => (table === 'meta' ? byKey.get(Buffer.from(key).toString('latin1')) : undefined);
  return {
    get: (table, key) => added(table, key) ?? view.get(table, key),
    peek: (table, key) => added(table, key) ?? view.peek(table, key),
    range(table, options) {
      const own = view.range(table, options);
      if (table !== 'meta') return own;
      const after = options.after;
      const extra = rows.filter((r) => hasPrefix(r.key, options.prefix) && (after === undefined || Buffer.compare(r.key, after) > 0)).slice(0, options.limit);
      return [...own, ...extra].sort((a, b) => Buffer.compare(a.key, b.key)).slice(0, options.limit);
    },
    close: () => view.close(),
  };
}
