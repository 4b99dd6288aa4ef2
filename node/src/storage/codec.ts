// The WAL record codec: framing (checksum + length) and the payload of each record kind.
//
// Frame:   crc32c u32 LE | length u32 LE | payload[length]
//          the CRC covers the length field and the payload, so a run of zeros never verifies.
// Payload: kind u8, then per kind (integers little-endian, u64 as two u32 halves):
//   1 entry      entryType u8 (0 normal, 1 conf) | index u64 | term u64 | data (rest)
//   2 hardState  term u64 | commit u64 | hasVote u8 | vote utf8 (rest)
//   3 snapshot   reset u8 (1: the log before it is discarded) | index u64 | term u64
import type { Entry, HardState, Index, Term } from '../raft/types.js';
import { crc32c } from './crc32c.js';
import { invariant } from './errors.js';

export const FRAME_HEADER_BYTES = 8;
const KIND_ENTRY = 1;
const KIND_HARD_STATE = 2;
const KIND_SNAPSHOT = 3;
const ENTRY_FIXED_BYTES = 1 + 1 + 8 + 8;
const HARD_STATE_FIXED_BYTES = 1 + 8 + 8 + 1;
const SNAPSHOT_PAYLOAD_BYTES = 1 + 1 + 8 + 8;
const TWO_32 = 0x1_0000_0000;

/** What the log says about the snapshot: where the log now starts, and whether it was reset. */
export interface SnapshotMark {
  readonly index: Index;
  readonly term: Term;
  /** A snapshot received from a leader: every entry before the mark is discarded. */
  readonly reset: boolean;
}

export type WalRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly mark: SnapshotMark };

export function writeU64(buf: Buffer, n: number, off: number): void {
  if (!Number.isSafeInteger(n) || n < 0) invariant(false, `u64 field out of range: ${n}`);
  buf.writeUInt32LE(n % TWO_32, off);
  buf.writeUInt32LE(Math.floor(n / TWO_32), off + 4);
}

/** Reads a u64 written by writeU64; -1 if it is beyond the safe-integer range (a corrupt field). */
export function readU64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x20_0000) return -1;
  return hi * TWO_32 + buf.readUInt32LE(off);
}

export function entryFrameBytes(e: Entry): number {
  return FRAME_HEADER_BYTES + ENTRY_FIXED_BYTES + e.data.length;
}

export function hardStateFrameBytes(hs: HardState): number {
  return FRAME_HEADER_BYTES + HARD_STATE_FIXED_BYTES + (hs.vote === null ? 0 : Buffer.byteLength(hs.vote, 'utf8'));
}

export const SNAPSHOT_FRAME_BYTES = FRAME_HEADER_BYTES + SNAPSHOT_PAYLOAD_BYTES;

/** Seals the frame whose payload of `length` bytes was written at `off + FRAME_HEADER_BYTES`; returns the end. */
function seal(buf: Buffer, off: number, length: number): number {
  buf.writeUInt32LE(length, off + 4);
  const end = off + FRAME_HEADER_BYTES + length;
  buf.writeUInt32LE(crc32c(buf, off + 4, end), off);
  return end;
}

/** Writes one entry frame at `off` (room for entryFrameBytes(e) must be there); returns the end. */
export function writeEntryFrame(buf: Buffer, off: number, e: Entry): number {
  const p = off + FRAME_HEADER_BYTES;
  buf[p] = KIND_ENTRY;
  buf[p + 1] = e.type === 'conf' ? 1 : 0;
  writeU64(buf, e.index, p + 2);
  writeU64(buf, e.term, p + 10);
  buf.set(e.data, p + ENTRY_FIXED_BYTES);
  return seal(buf, off, ENTRY_FIXED_BYTES + e.data.length);
}

export function writeHardStateFrame(buf: Buffer, off: number, hs: HardState): number {
  const p = off + FRAME_HEADER_BYTES;
  buf[p] = KIND_HARD_STATE;
  writeU64(buf, hs.term, p + 1);
  writeU64(buf, hs.commit, p + 9);
  buf[p + 17] = hs.vote === null ? 0 : 1;
  const voteBytes = hs.vote === null ? 0 : buf.write(hs.vote, p + HARD_STATE_FIXED_BYTES, 'utf8');
  return seal(buf, off, HARD_STATE_FIXED_BYTES + voteBytes);
}

export function writeSnapshotFrame(buf: Buffer, off: number, mark: SnapshotMark): number {
  const p = off + FRAME_HEADER_BYTES;
  buf[p] = KIND_SNAPSHOT;
  buf[p + 1] = mark.reset ? 1 : 0;
  writeU64(buf, mark.index, p + 2);
  writeU64(buf, mark.term, p + 10);
  return seal(buf, off, SNAPSHOT_PAYLOAD_BYTES);
}

/**
 * Outcome of reading the frame at an offset. `truncated`: the frame runs past the end of the
 * bytes (a torn write, if this is the tail). `invalid`: a complete frame that does not verify.
 */
export type FrameRead =
  | { readonly status: 'ok'; readonly record: WalRecord; readonly next: number }
  | { readonly status: 'truncated' }
  | { readonly status: 'invalid'; readonly reason: string };

/** Reads the frame at `off` in `buf[0, end)`. Entry data is copied out of `buf`. */
export function readFrame(buf: Buffer, off: number, end: number, maxRecordBytes: number): FrameRead {
  if (end - off < FRAME_HEADER_BYTES) return { status: 'truncated' };
  const length = buf.readUInt32LE(off + 4);
  if (length === 0 || length > maxRecordBytes - FRAME_HEADER_BYTES) {
    return { status: 'invalid', reason: `record length ${length} out of range` };
  }
  const next = off + FRAME_HEADER_BYTES + length;
  if (next > end) return { status: 'truncated' };
  if (crc32c(buf, off + 4, next) !== buf.readUInt32LE(off)) return { status: 'invalid', reason: 'record checksum mismatch' };
  const record = decodePayload(buf, off + FRAME_HEADER_BYTES, next);
  if (typeof record === 'string') return { status: 'invalid', reason: record };
  return { status: 'ok', record, next };
}

/** Decodes a verified payload `buf[p, end)`; a string says what is wrong with it. */
function decodePayload(buf: Buffer, p: number, end: number): WalRecord | string {
  const size = end - p;
  switch (buf[p]) {
    case KIND_ENTRY: {
      if (size < ENTRY_FIXED_BYTES || buf[p + 1]! > 1) return 'malformed entry record';
      const index = readU64(buf, p + 2);
      const term = readU64(buf, p + 10);
      if (index < 1 || term < 0) return 'entry index or term out of range';
      const data = new Uint8Array(buf.subarray(p + ENTRY_FIXED_BYTES, end));
      return { kind: 'entry', entry: { index, term, type: buf[p + 1] === 1 ? 'conf' : 'normal', data } };
    }
    case KIND_HARD_STATE: {
      if (size < HARD_STATE_FIXED_BYTES || buf[p + 17]! > 1) return 'malformed hard state record';
      const term = readU64(buf, p + 1);
      const commit = readU64(buf, p + 9);
      if (term < 0 || commit < 0) return 'hard state term or commit out of range';
      const vote = buf[p + 17] === 1 ? buf.toString('utf8', p + HARD_STATE_FIXED_BYTES, end) : null;
      return { kind: 'hardState', hardState: { term, vote, commit } };
    }
    case KIND_SNAPSHOT: {
      if (size !== SNAPSHOT_PAYLOAD_BYTES || buf[p + 1]! > 1) return 'malformed snapshot record';
      const index = readU64(buf, p + 2);
      const term = readU64(buf, p + 10);
      if (index < 0 || term < 0) return 'snapshot index or term out of range';
      return { kind: 'snapshot', mark: { index, term, reset: buf[p + 1] === 1 } };
    }
    default:
      return `unknown record kind ${buf[p]}`;
  }
}
