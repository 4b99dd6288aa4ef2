// Snapshot files: format, durable write (temp file, fsync, rename, fsync directory) and verified read.
//
// Name:   snap-<index 16 hex>-<term 16 hex>.snap (temp: same + ".tmp")
// Layout: magic "CATGASNP" | version u32 | index u64 | term u64 | confLength u32 | dataLength u64
//         | conf (JSON, utf8) | data | crc32c u32 of everything before it.
// A snapshot file is inert until the WAL holds a snapshot mark naming its index and term: that
// record, not the rename, is the commit point (file-storage.ts).
import { posix } from 'node:path';
import type { ConfState, Snapshot } from '../raft/types.js';
import { crc32c, crc32cUpdate } from './crc32c.js';
import { readU64, writeU64 } from './codec.js';
import { checkFormatStamp, corrupt } from './errors.js';
import { errorCode, type FileSystem } from './fs.js';

export const SNAPSHOT_MAGIC = Buffer.from('CATGASNP', 'latin1');
export const SNAPSHOT_VERSION = 1;
const HEAD_BYTES = 8 + 4 + 8 + 8 + 4 + 8;
const SNAPSHOT_NAME = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
export const TEMP_SUFFIX = '.tmp';

export function snapshotName(index: number, term: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotName(name: string): { index: number; term: number } | null {
  const m = SNAPSHOT_NAME.exec(name);
  return m === null ? null : { index: Number.parseInt(m[1]!, 16), term: Number.parseInt(m[2]!, 16) };
}

/** The file's bytes as chunks (the data is not copied). */
export function encodeSnapshotFile(s: Snapshot): Uint8Array[] {
  const conf = Buffer.from(JSON.stringify(s.meta.conf), 'utf8');
  const head = Buffer.alloc(HEAD_BYTES + conf.length);
  SNAPSHOT_MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_VERSION, 8);
  writeU64(head, s.meta.index, 12);
  writeU64(head, s.meta.term, 20);
  head.writeUInt32LE(conf.length, 28);
  writeU64(head, s.data.length, 32);
  conf.copy(head, HEAD_BYTES);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc32cUpdate(crc32c(head), s.data), 0);
  return [head, s.data, trailer];
}

/** Decodes and verifies a snapshot file; any mismatch throws naming `file` and the offset. */
export function decodeSnapshotFile(buf: Buffer, file: string): Snapshot {
  if (buf.length < HEAD_BYTES + 4) throw corrupt(file, buf.length, 'snapshot file too short');
  checkFormatStamp(buf, file, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, 'snapshot', 'snapshot');
  const index = readU64(buf, 12);
  const term = readU64(buf, 20);
  const confLength = buf.readUInt32LE(28);
  const dataLength = readU64(buf, 32);
  const end = HEAD_BYTES + confLength + dataLength;
  if (index < 0 || term < 0 || dataLength < 0 || end + 4 !== buf.length) {
    throw corrupt(file, 12, `snapshot header does not match the file size ${buf.length}`);
  }
  if (crc32c(buf, 0, end) !== buf.readUInt32LE(end)) throw corrupt(file, end, 'snapshot checksum mismatch');
  let conf: ConfState;
  try {
    conf = JSON.parse(buf.toString('utf8', HEAD_BYTES, HEAD_BYTES + confLength)) as ConfState;
  } catch {
    throw corrupt(file, HEAD_BYTES, 'snapshot configuration is not valid JSON');
  }
  const data = new Uint8Array(buf.subarray(HEAD_BYTES + confLength, end));
  return { meta: { index, term, conf }, data };
}

/** Writes `s` as `dir/snapshotName(...)`: temp file, fsync, rename, fsync of the directory. */
export async function writeSnapshotFile(fs: FileSystem, dir: string, s: Snapshot): Promise<string> {
  const name = snapshotName(s.meta.index, s.meta.term);
  const path = posix.join(dir, name);
  const temp = path + TEMP_SUFFIX;
  const fh = await fs.open(temp, 'createOrTruncate');
  try {
    await fh.writev(encodeSnapshotFile(s), 0);
    await fh.sync();
  } catch (err) {
    await fh.close();
    // A full disk leaves a partial temp file: give its space back (start-up would remove it too).
    if (errorCode(err) === 'ENOSPC') await fs.unlink(temp);
    throw err;
  }
  await fh.close();
  await fs.rename(temp, path);
  await fs.syncDir(dir);
  return name;
}

export async function readSnapshotFile(fs: FileSystem, path: string): Promise<Snapshot> {
  return decodeSnapshotFile(await fs.readFile(path), path);
}
