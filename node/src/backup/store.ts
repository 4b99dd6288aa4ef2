// Where backups are kept: a local directory (here) or an S3-compatible object store
// (s3-store.ts), both behind the seam of location.ts, chosen by the location's form (`/path` or
// `s3://bucket/prefix`).
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BackupLocationError, checkName, type BackupStore, type ObjectWriter, type StoreOptions } from './location.js';

/** Opens the store a location names: `s3://bucket[/prefix]` or a directory path. */
export async function openStore(location: string, o: StoreOptions = {}): Promise<BackupStore> {
  if (location.startsWith('s3://')) {
    const { S3Store } = await import('./s3-store.js');
    return S3Store.open(location, o);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new BackupLocationError(`backup location ${JSON.stringify(location)}: only a directory or s3://bucket/prefix is supported`);
  if (location === '') throw new BackupLocationError('backup location is empty');
  if (o.endpoint !== undefined) throw new BackupLocationError('--endpoint applies to s3:// locations only');
  return new DirectoryStore(resolve(location));
}

class DirectoryStore implements BackupStore {
  constructor(readonly location: string) {}

  child(name: string): BackupStore {
    return new DirectoryStore(join(this.location, checkName(name)));
  }

  async create(name: string): Promise<ObjectWriter> {
    await mkdir(this.location, { recursive: true });
    const target = join(this.location, checkName(name));
    const temporary = `${target}.partial`;
    const file: FileHandle = await open(temporary, 'w');
    let closed = false;
    const close = async (): Promise<void> => {
      if (!closed) { closed = true; await file.close(); }
    };
    return {
      write: async (bytes) => { await file.write(bytes); },
      end: async () => {
        await file.sync();
        await close();
        await rename(temporary, target);
        await syncDirectory(this.location);
      },
      abort: async () => {
        await close();
        await rm(temporary, { force: true });
      },
    };
  }

  read(name: string): AsyncIterable<Uint8Array> {
    return createReadStream(join(this.location, checkName(name)), { highWaterMark: 1024 * 1024 });
  }

  async folders(): Promise<string[]> {
    try {
      return (await readdir(this.location, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async removeAll(): Promise<void> {
    await rm(this.location, { recursive: true, force: true });
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try { await dir.sync(); } finally { await dir.close(); }
}
