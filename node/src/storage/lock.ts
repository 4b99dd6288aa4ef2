// The data-directory lock, without flock (Node has no flock without a native module).
//
// Each opener creates its own marker file `LOCK.<process token>.<nonce>` (exclusive create), then
// lists the directory: if any other marker belongs to a live process it removes its own marker and
// refuses; markers of dead processes (crashed, killed) are stale and removed. Mutual exclusion: of
// two live openers, the one that listed second necessarily saw the other's marker (each creates
// before it lists), so at most one proceeds; if they race, both may refuse, never both proceed.
// Liveness is pid + kernel start time (fs-node.ts), so a pid reused after a crash is not mistaken
// for the old owner, and a restarted container whose pid is the same again is not either.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { StorageError } from './errors.js';
import { errorCode, type FileSystem } from './fs.js';

const LOCK_PREFIX = 'LOCK.';

export interface DirLock {
  release(): Promise<void>;
}

function ownerOf(name: string): string {
  return name.slice(LOCK_PREFIX.length, name.lastIndexOf('.'));
}

export async function lockDir(fs: FileSystem, dir: string): Promise<DirLock> {
  const mine = `${LOCK_PREFIX}${fs.processToken()}.${randomBytes(6).toString('hex')}`;
  const minePath = posix.join(dir, mine);
  await (await fs.open(minePath, 'createExclusive')).close();
  try {
    for (const name of await fs.readdir(dir)) {
      if (!name.startsWith(LOCK_PREFIX) || name === mine) continue;
      const owner = ownerOf(name);
      if (await fs.isProcessAlive(owner)) {
        throw new StorageError('STORAGE_LOCKED', `data directory ${dir} is locked by live process ${owner} (${name}); refusing to start`, {
          file: posix.join(dir, name),
        });
      }
      await unlinkIfPresent(fs, posix.join(dir, name));
    }
  } catch (err) {
    // Best effort: the refusal (or the I/O error) is what the caller must see.
    await unlinkIfPresent(fs, minePath).catch(() => undefined);
    throw err;
  }
  return { release: () => unlinkIfPresent(fs, minePath) };
}

async function unlinkIfPresent(fs: FileSystem, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}
