// Storage options: every limit named, with its default, and checked once at construction.
import { StorageError } from './errors.js';
import { FRAME_HEADER_BYTES } from './codec.js';
import { SEGMENT_HEADER_BYTES } from './segment.js';

const MiB = 1024 * 1024;
/** Room for an entry record with a few bytes of data. */
const MIN_RECORD_BYTES = FRAME_HEADER_BYTES + 64;
/** Room for a header, a checkpoint and a record. A segment holding one batch bigger than this may exceed it. */
const MIN_SEGMENT_BYTES = SEGMENT_HEADER_BYTES + 256;

export interface StorageOptions {
  /**
   * A segment is closed and a new one started once the next batch would pass this size (a single
   * batch bigger than a segment gets a segment of its own, larger than this).
   */
  readonly maxSegmentBytes: number;
  /** Largest record (frame included): a bigger entry is refused before anything is written. */
  readonly maxRecordBytes: number;
  /** Bound on the bytes of one group commit (one write + one fsync); one save always fits. */
  readonly maxBatchBytes: number;
  /** Bound on saves waiting for the disk; one more is refused with STORAGE_QUEUE_FULL. */
  readonly maxQueuedSaves: number;
  /** Called with the duration of every fsync (file or directory), in seconds. */
  readonly onFsync?: ((seconds: number) => void) | undefined;
  /** Draws the incarnation of a directory being initialised (seeded in the simulator). */
  readonly newIncarnation?: (() => string) | undefined;
}

export const DEFAULT_STORAGE_OPTIONS: StorageOptions = {
  maxSegmentBytes: 64 * MiB,
  maxRecordBytes: 16 * MiB,
  maxBatchBytes: 16 * MiB,
  maxQueuedSaves: 4096,
};

export function resolveOptions(opts: Partial<StorageOptions> | undefined): StorageOptions {
  const o: StorageOptions = { ...DEFAULT_STORAGE_OPTIONS, ...opts };
  const positive: Array<keyof StorageOptions> = ['maxSegmentBytes', 'maxRecordBytes', 'maxBatchBytes', 'maxQueuedSaves'];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `storage option ${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (o.maxRecordBytes < MIN_RECORD_BYTES || o.maxSegmentBytes < MIN_SEGMENT_BYTES) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `maxRecordBytes must be at least ${MIN_RECORD_BYTES} and maxSegmentBytes at least ${MIN_SEGMENT_BYTES}`);
  }
  return o;
}
