// The data directory's incarnation: a random id written once, when the directory is first
// initialised, before any WAL segment exists. Raft's safety assumes a voter never forgets its log
// or its vote; a directory that was wiped (a lost PersistentVolume replaced by an empty one) comes
// back with a new incarnation, so the cluster can tell the new disk from the member it replaces
// (raft/types.ts: ConfState.incarnations).
//
// File `incarnation`: the id in ASCII, a newline, then its CRC32C as 8 hex digits. Written as temp
// file, fsync, rename, directory fsync, so a crash leaves either no file or a whole one.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { crc32c } from './crc32c.js';
import { StorageError, corrupt } from './errors.js';
import { errorCode, type FileSystem } from './fs.js';
import { TEMP_SUFFIX } from './snapshot-file.js';

export const INCARNATION_FILE = 'incarnation';
const INCARNATION_PATTERN = /^[0-9a-z-]{1,64}$/;

/** A new random incarnation id (64 bits, hex). */
export function randomIncarnation(): string {
  return randomBytes(8).toString('hex');
}

function encode(id: string): Buffer {
  return Buffer.from(`${id}\n${crc32c(Buffer.from(id, 'latin1')).toString(16).padStart(8, '0')}\n`, 'latin1');
}

function decode(buf: Buffer, file: string): string {
  const m = /^([0-9a-z-]{1,64})\n([0-9a-f]{8})\n$/.exec(buf.toString('latin1'));
  if (m === null || crc32c(Buffer.from(m[1]!, 'latin1')) !== Number.parseInt(m[2]!, 16)) {
    throw corrupt(file, 0, 'incarnation file does not verify');
  }
  return m[1]!;
}

/**
 * The directory's incarnation. `hasLog`: recovery found WAL segments. A directory with a log but no
 * incarnation file was not created by this storage (or lost the file): refused, never guessed.
 */
export async function loadOrCreateIncarnation(fs: FileSystem, dir: string, hasLog: boolean, newId: () => string): Promise<{ id: string; created: boolean }> {
  const path = posix.join(dir, INCARNATION_FILE);
  try {
    return { id: decode(await fs.readFile(path), path), created: false };
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  if (hasLog) {
    throw new StorageError(
      'STORAGE_CORRUPT',
      `${path} is missing while ${dir} holds a WAL: the directory's identity is unknown; refusing to start, data left untouched`,
      { file: path, offset: 0 },
    );
  }
  const id = newId();
  if (!INCARNATION_PATTERN.test(id)) throw new StorageError('STORAGE_INVALID_ARGUMENT', `incarnation ${JSON.stringify(id)} must match ${INCARNATION_PATTERN}`);
  const temp = path + TEMP_SUFFIX;
  const fh = await fs.open(temp, 'createOrTruncate');
  try {
    await fh.writev([encode(id)], 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(temp, path);
  await fs.syncDir(dir);
  return { id, created: true };
}
