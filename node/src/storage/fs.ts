// The file-system seam: the few operations the storage needs, so that the same storage code runs
// on the real disk (fs-node.ts) and on a fault-injecting in-memory file system (fs-mem.ts) that
// loses unsynced data, tears writes and fails fsync on demand.

/** An open file. Positions are explicit: the storage never relies on a shared file offset. */
export interface FileHandle {
  /** Writes `chunks` back to back starting at `position` (all bytes or an error). */
  writev(chunks: readonly Uint8Array[], position: number): Promise<void>;
  size(): Promise<number>;
  /** fdatasync: the file's data (and its size) are durable once this resolves. */
  datasync(): Promise<void>;
  /** fsync: data and all metadata. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `read`: existing file, read only. `readWrite`: existing file. `createExclusive`: a new file,
 * EEXIST if one is there. `createOrTruncate`: a new or emptied file.
 */
export type OpenMode = 'read' | 'readWrite' | 'createExclusive' | 'createOrTruncate';

export interface OpenOptions {
  /**
   * Each `writev` is durable (its data and the size it reaches) when it resolves, as with
   * O_DSYNC: one call, where a write then `datasync` is two trips through the I/O thread pool.
   */
  readonly durableWrites?: boolean;
}

/**
 * Directory entries (creates, renames, unlinks) are durable only after `syncDir` of their directory;
 * file contents only after `datasync`/`sync` of the file. Errors carry Node's `code` (ENOENT,
 * EEXIST, EIO...).
 */
export interface FileSystem {
  mkdirp(dir: string): Promise<void>;
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle>;
  readFile(path: string): Promise<Buffer>;
  /** Names (not paths) of the entries of `dir`. */
  readdir(dir: string): Promise<string[]>;
  /** Atomic replace of `to` by `from` (same directory). */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of the directory itself: makes its creates, renames and unlinks durable. */
  syncDir(dir: string): Promise<void>;
  /** A token naming this process (survives in lock file names); see lock.ts. */
  processToken(): string;
  /** Whether the process a token names is still running (the same process, not a pid reused since). */
  isProcessAlive(token: string): Promise<boolean>;
}

/** The `code` of a Node-style error, or null. */
export function errorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}
