// Storage options: every limit named, with its default, and checked once at construction.
import { StorageError } from './errors.js';
import { FRAME_HEADER_BYTES } from './codec.js';
import { SEGMENT_HEADER_BYTES } from './segment.js';

const MiB = 1024 * 1024;

export interface StorageOptions {
  /** A segment is closed and a new one started once the next batch would pass this size. */
  readonly maxSegmentBytes: number;
  /** Largest record (frame included): a bigger entry is refused before anything is written. */
  readonly maxRecordBytes: number;
  /** Bound on the bytes of one group commit (one write + one fsync); one save always fits. */
  readonly maxBatchBytes: number;
  /** Bound on saves waiting for the disk; one more is refused with STORAGE_QUEUE_FULL. */
  readonly maxQueuedSaves: number;
  /** `snapshotDue()` turns true after this many entries since the last snapshot... */
  readonly snapshotEntries: number;
  /** ...or this many bytes of entry data. */
  readonly snapshotBytes: number;
  /** Called with the duration of every fsync (file or directory), in seconds. */
  readonly onFsync?: ((seconds: number) => void) | undefined;
  /** Called once by `open()` with the number of torn tail records cut off (also in `Recovered`). */
  readonly onTornRecords?: ((count: number) => void) | undefined;
}

export const DEFAULT_STORAGE_OPTIONS: StorageOptions = {
  maxSegmentBytes: 64 * MiB,
  maxRecordBytes: 16 * MiB,
  maxBatchBytes: 16 * MiB,
  maxQueuedSaves: 4096,
  snapshotEntries: 10_000,
  snapshotBytes: 64 * MiB,
};

export function resolveOptions(opts: Partial<StorageOptions> | undefined): StorageOptions {
  const o: StorageOptions = { ...DEFAULT_STORAGE_OPTIONS, ...opts };
  const positive: Array<keyof StorageOptions> = ['maxSegmentBytes', 'maxRecordBytes', 'maxBatchBytes', 'maxQueuedSaves', 'snapshotEntries', 'snapshotBytes'];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `storage option ${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (o.maxRecordBytes <= FRAME_HEADER_BYTES + 32 || o.maxRecordBytes + SEGMENT_HEADER_BYTES > o.maxSegmentBytes) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `maxRecordBytes ${o.maxRecordBytes} must be above 40 and fit in a segment of maxSegmentBytes ${o.maxSegmentBytes}`);
  }
  return o;
}
