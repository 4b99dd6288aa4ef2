// Where backups are kept: a seam with two implementations, a local directory (here) and an
// S3-compatible object store (s3-store.ts), chosen by the location's form (`/path` or
// `s3://bucket/prefix`). A store holds named objects under one folder; objects are written as a
// stream and become visible whole or not at all.
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface ObjectWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the object visible, whole. */
  end(): Promise<void>;
  /** Drops what was written; the object never appears. */
  abort(): Promise<void>;
}

export interface BackupStore {
  /** The folder as a user writes it (`/backups/x`, `s3://bucket/prefix/x`). */
  readonly location: string;
  /** The store one folder down. */
  child(name: string): BackupStore;
  create(name: string): Promise<ObjectWriter>;
  /** The object's bytes, in pieces; throws when it does not exist. */
  read(name: string): AsyncIterable<Uint8Array>;
  /** Names of the folders directly under this one, sorted. */
  folders(): Promise<string[]>;
  /** Removes this folder and everything under it. */
  removeAll(): Promise<void>;
}

export interface StoreOptions {
  /** The S3 endpoint (`http://host:port`); default: AWS's, from the region. */
  readonly endpoint?: string | undefined;
}

export class BackupLocationError extends Error {
  readonly code = 'BACKUP_LOCATION_INVALID';
}

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

/** Safe single path component: no separators, no dot names. */
export function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) throw new BackupLocationError(`bad object name ${JSON.stringify(name)}`);
  return name;
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
