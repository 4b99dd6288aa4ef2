// Errors of the storage layer: one class, a stable UPPER_SNAKE code, and for corruption the file
// and byte offset an operator needs to inspect the data directory.

export type StorageErrorCode =
  /** A checksum, length or payload check failed before the tail of the log, or a snapshot does not verify. */
  | 'STORAGE_CORRUPT'
  /** A WAL segment (or the entries it held) is missing between two that are present. */
  | 'STORAGE_MISSING_SEGMENT'
  /** A file was written by an incompatible format version (or is not a Catga file at all). */
  | 'STORAGE_VERSION'
  /** Another live process holds the data directory. */
  | 'STORAGE_LOCKED'
  /** An earlier write or fsync failed: the durable state is unknown, every later write is refused. */
  | 'STORAGE_FAILED'
  /** One record would exceed `maxRecordBytes`; nothing of the save was written. */
  | 'STORAGE_RECORD_TOO_LARGE'
  /** The caller broke the storage contract (non-contiguous entries, snapshot going backwards...). */
  | 'STORAGE_INVALID_ARGUMENT'
  /**
   * The disk is full: the save was not written (what a write left behind was cut off again) and
   * the storage stays usable; the same save succeeds once there is room.
   */
  | 'STORAGE_NO_SPACE'
  /** More than `maxQueuedSaves` saves are waiting for the disk. */
  | 'STORAGE_QUEUE_FULL'
  /** `open()` has not completed, or `close()` was called. */
  | 'STORAGE_NOT_OPEN';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** File the problem was found in, when there is one. */
  readonly file: string | null;
  /** Byte offset inside `file` of the first bad byte, when known. */
  readonly offset: number | null;

  constructor(code: StorageErrorCode, message: string, where?: { file?: string; offset?: number; cause?: unknown }) {
    super(message, where?.cause === undefined ? undefined : { cause: where.cause });
    this.code = code;
    this.file = where?.file ?? null;
    this.offset = where?.offset ?? null;
  }
}

/** Corruption found at `file`:`offset`: the message always names both. */
export function corrupt(file: string, offset: number, what: string): StorageError {
  return new StorageError('STORAGE_CORRUPT', `${what} in ${file} at byte offset ${offset}; refusing to start, data left untouched`, {
    file,
    offset,
  });
}

/**
 * Checks a file's format stamp: the 8-byte `magic` at offset 0 and the u32 `version` at offset 8.
 * A mismatch is STORAGE_VERSION naming `file`: a foreign or newer format is never read as corruption.
 * `kind` names the file ("WAL segment"), `format` its format ("WAL").
 */
export function checkFormatStamp(buf: Buffer, file: string, magic: Buffer, version: number, kind: string, format: string): void {
  if (!buf.subarray(0, 8).equals(magic)) {
    throw new StorageError('STORAGE_VERSION', `${file} is not a Catga ${kind} (bad magic at byte offset 0)`, { file, offset: 0 });
  }
  const found = buf.readUInt32LE(8);
  if (found !== version) {
    throw new StorageError(
      'STORAGE_VERSION',
      `${file} has ${format} format version ${found}, this build reads version ${version} only: incompatible format, refusing to start`,
      { file, offset: 8 },
    );
  }
}

/** Invariant check that stays on in production: a broken invariant stops the caller. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`storage invariant violated: ${message}`);
}

/** The error every write gets once a write or fsync failed (the fsyncgate lesson: never retry an fsync). */
export function storageFailed(cause: unknown): StorageError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(
    'STORAGE_FAILED',
    `storage stopped after an I/O error (${detail}); the durable state is unknown, every later write is refused: restart the node`,
    { cause },
  );
}
