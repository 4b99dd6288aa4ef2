// The storage package's front door: the factory the runtime calls, and what tests and the
// simulator need (the file-system seam and its fault-injecting implementation).
import { FileStorage, type FileRaftStorage } from './file-storage.js';
import type { FileSystem } from './fs.js';
import { NodeFileSystem } from './fs-node.js';
import { resolveOptions, type StorageOptions } from './options.js';

export { StorageError, type StorageErrorCode } from './errors.js';
export type { FileRaftStorage, StorageStats } from './file-storage.js';
export type { FileHandle, FileSystem, OpenMode } from './fs.js';
export { NodeFileSystem } from './fs-node.js';
export { MemFileSystem, type MemFsOptions, type TearMode } from './fs-mem.js';
export { DEFAULT_STORAGE_OPTIONS, type StorageOptions } from './options.js';
export type { RaftStorage, Recovered } from './types.js';

/** Storage over `dir` (created if missing). Nothing is read until `open()`. */
export function openFileStorage(dir: string, opts?: Partial<StorageOptions>, fs?: FileSystem): FileRaftStorage {
  return new FileStorage(dir, resolveOptions(opts), fs ?? new NodeFileSystem());
}
export { SimulatedDiskStore, SIM_DISK_OPTIONS } from './sim-disk.js';
