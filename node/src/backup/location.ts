// The seam of backup stores: a store holds named objects under one folder; objects are written as a
// stream and become visible whole or not at all. store.ts opens one from a location (a directory,
// or s3-store.ts for `s3://bucket/prefix`).

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

/** Safe single path component: no separators, no dot names. */
export function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) throw new BackupLocationError(`bad object name ${JSON.stringify(name)}`);
  return name;
}
