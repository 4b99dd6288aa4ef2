// WAL segment files: their names and their format header.
//
// Name:   <seq as 16 lower-case hex digits>.wal, seq = 1, 2, 3... with no gaps.
// Header: magic "CATGAWAL" | format version u32 LE | seq u64 LE | crc32c u32 LE of the 20 bytes before.
// Records (codec.ts) follow the header back to back. Every segment starts with a checkpoint: the
// snapshot mark and hard state current when it was created, so removing older segments never
// loses them.
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './codec.js';
import { checkFormatStamp, corrupt } from './errors.js';

export const SEGMENT_MAGIC = Buffer.from('CATGAWAL', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 24;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;

export function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

/** The sequence number of a segment file name, or null if the name is not a segment's. */
export function parseSegmentName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m === null ? null : Number.parseInt(m[1]!, 16);
}

export function encodeSegmentHeader(seq: number): Buffer {
  const h = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(h, 0);
  h.writeUInt32LE(SEGMENT_VERSION, 8);
  writeU64(h, seq, 12);
  h.writeUInt32LE(crc32c(h, 0, 20), 20);
  return h;
}

/** Checks the header of segment `seq` read from `file`: STORAGE_VERSION for a foreign format, STORAGE_CORRUPT otherwise. */
export function checkSegmentHeader(buf: Buffer, file: string, seq: number): void {
  if (buf.length < SEGMENT_HEADER_BYTES) throw corrupt(file, buf.length, 'segment shorter than its header');
  checkFormatStamp(buf, file, SEGMENT_MAGIC, SEGMENT_VERSION, 'WAL segment', 'WAL');
  if (crc32c(buf, 0, 20) !== buf.readUInt32LE(20)) throw corrupt(file, 0, 'segment header checksum mismatch');
  if (readU64(buf, 12) !== seq) throw corrupt(file, 12, `segment header names sequence ${readU64(buf, 12)}, not ${seq}`);
}

/** Whether `buf[start, end)` holds only zero bytes. */
export function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}
