// RaftStorage on a data directory: validates and encodes each save in call order, group-commits
// queued saves (one durable O_DSYNC write per batch), writes snapshot files before the records
// that commit them, removes dead snapshots and segments afterwards, and stops for good after any
// I/O error.
//
// Hard state lives in the WAL, not in a file of its own. It changes on nearly every Ready (commit
// moves forward), and a separate file costs write + fsync + rename + directory fsync on top of the
// WAL's durable write: three syncs per Ready instead of one. As a WAL record written in the same
// batch as the entries it is durable by the same write, and atomic by the record checksum (a torn hard
// state record is cut off like any torn record, and the previous one stands). Each segment starts
// with a copy of the current hard state, so removing old segments never loses it.
//
// Truncation of a conflicting suffix is implicit: an entry record at an index already stored
// replaces it and every later one at replay (replay.ts). No separate truncation record and no
// rewrite of durable bytes: truncating files in place would need its own fsyncs and could, cut
// short by a crash, lose bytes that were acknowledged. The price is dead records until compaction
// removes their segment.
//
// A snapshot file only takes effect when a snapshot mark naming it is durable in the WAL: the
// mark (with the entries and hard state of the same save) is the commit point, so a crash leaves
// either the old snapshot + old log or the new snapshot + new log, never a mix.
import { posix } from 'node:path';
import type { Entry, HardState, Index, Snapshot } from '../raft/types.js';
import type { RaftStorage, Recovered } from './types.js';
import {
  SNAPSHOT_FRAME_BYTES,
  entryFrameBytes,
  hardStateFrameBytes,
  writeEntryFrame,
  writeHardStateFrame,
  writeSnapshotFrame,
  type SnapshotMark,
} from './codec.js';
import { StorageError, invariant, storageFailed } from './errors.js';
import { errorCode, type FileSystem } from './fs.js';
import { loadOrCreateIncarnation, randomIncarnation } from './identity.js';
import { lockDir, type DirLock } from './lock.js';
import type { StorageOptions } from './options.js';
import { EMPTY_HARD_STATE } from './replay.js';
import { recoverDir } from './recovery.js';
import { snapshotName, writeSnapshotFile } from './snapshot-file.js';
import { Wal } from './wal.js';

export interface StorageStats {
  /** Durable WAL writes and file and directory fsyncs since open. */
  readonly fsyncs: number;
  /** Group commits (each one durable write). */
  readonly batches: number;
  /** save()/saveSnapshot() calls made durable. */
  readonly savesCommitted: number;
  readonly bytesWritten: number;
  readonly segments: number;
  readonly tornRecordsDropped: number;
}

/** The storage's surface beyond RaftStorage: its counters. */
export interface FileRaftStorage extends RaftStorage {
  stats(): StorageStats;
}

/** One queued save: its records already encoded, and what it changes once durable. */
interface PendingSave {
  /** A snapshot file to write before the records (they hold its mark). */
  readonly snapshot: Snapshot | null;
  readonly mark: SnapshotMark | null;
  readonly records: Buffer;
  readonly maxEntryIndex: Index;
  readonly hardState: HardState | null;
  /** Segments wholly at or below this index are removed once durable; -1 for none. */
  readonly compactTo: Index;
  /** The log's logical extent once this save is durable (what a full disk rolls back to). */
  readonly after: LogExtent;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

type Phase = 'new' | 'opening' | 'open' | 'closed';

interface LogExtent {
  readonly lastIndex: Index;
  readonly snapIndex: Index;
}

export class FileStorage implements FileRaftStorage {
  private phase: Phase = 'new';
  private failure: StorageError | null = null;
  private lock: DirLock | null = null;
  private wal: Wal | null = null;
  private readonly queue: PendingSave[] = [];
  private flushing: Promise<void> | null = null;

  // What the log will hold once every queued save is durable (validation happens at call time, in order).
  private lastIndex = 0;
  private snapIndex = 0;
  /** The extent the durable records describe (lastIndex/snapIndex run ahead of it by the queued saves). */
  private durableExtent: LogExtent = { lastIndex: 0, snapIndex: 0 };

  // What the WAL holds (checkpoints at the start of new segments copy these).
  private walHardState: HardState = EMPTY_HARD_STATE;
  private walMark: SnapshotMark | null = null;
  private snapshotFiles = new Set<string>();

  private batches = 0;
  private savesCommitted = 0;
  private tornRecords = 0;

  constructor(
    private readonly dir: string,
    private readonly opts: StorageOptions,
    private readonly fs: FileSystem,
  ) {}

  async open(): Promise<Recovered> {
    if (this.phase !== 'new') throw new StorageError('STORAGE_NOT_OPEN', `storage for ${this.dir} was already opened`);
    this.phase = 'opening';
    let lock: DirLock | null = null;
    try {
      await this.fs.mkdirp(this.dir);
      lock = await lockDir(this.fs, this.dir);
      const found = await recoverDir(this.fs, this.dir);
      for (const name of found.garbage) await this.fs.unlink(posix.join(this.dir, name));
      if (found.garbage.length > 0) await this.fs.syncDir(this.dir);
      const hasLog = found.segments.length > 0 || found.rewriteSeq !== null;
      const incarnation = await loadOrCreateIncarnation(this.fs, this.dir, hasLog, this.opts.newIncarnation ?? randomIncarnation);
      const { hardState, mark, entries } = found.replayed;
      this.walHardState = hardState;
      this.walMark = mark === null ? null : { ...mark, reset: false };
      this.snapshotFiles = new Set(found.snapshotFile === null ? [] : [found.snapshotFile]);
      const walOpts = { maxSegmentBytes: this.opts.maxSegmentBytes, onFsync: this.opts.onFsync };
      this.wal = await Wal.open(this.fs, this.dir, walOpts, found, this.checkpoint());
      this.snapIndex = mark?.index ?? 0;
      this.lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : this.snapIndex;
      this.durableExtent = { lastIndex: this.lastIndex, snapIndex: this.snapIndex };
      this.tornRecords = found.tornRecords;
      this.lock = lock;
      this.phase = 'open';
      return { hardState, snapshot: found.snapshot, entries, tornRecordsDropped: found.tornRecords, incarnation: incarnation.id };
    } catch (err) {
      this.phase = 'closed';
      await lock?.release().catch(() => undefined);
      throw err;
    }
  }

  async save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): Promise<void> {
    this.checkWritable();
    let last = this.lastIndex;
    let snapIndex = this.snapIndex;
    let size = 0;
    if (snapshot !== null) {
      checkIndexTerm(snapshot.meta.index, snapshot.meta.term, 'snapshot');
      if (snapshot.meta.index < snapIndex) {
        throw invalid(`a received snapshot at ${snapshot.meta.index} is older than the stored one at ${snapIndex}`);
      }
      last = snapIndex = snapshot.meta.index;
      size += SNAPSHOT_FRAME_BYTES;
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      checkIndexTerm(e.index, e.term, 'entry');
      if (i === 0 && (e.index <= snapIndex || e.index > last + 1)) {
        throw invalid(`entry ${e.index} does not attach to the log (snapshot ${snapIndex}, last ${last})`);
      }
      if (i > 0 && e.index !== entries[i - 1]!.index + 1) throw invalid(`entries are not contiguous at ${e.index}`);
      const frame = entryFrameBytes(e);
      if (frame > this.opts.maxRecordBytes) {
        throw new StorageError(
          'STORAGE_RECORD_TOO_LARGE',
          `entry ${e.index} needs a ${frame}-byte record, over maxRecordBytes ${this.opts.maxRecordBytes}; nothing was written`,
        );
      }
      size += frame;
    }
    if (hardState !== null) {
      checkIndexTerm(hardState.commit, hardState.term, 'hard state');
      const frame = hardStateFrameBytes(hardState);
      if (frame > this.opts.maxRecordBytes) throw new StorageError('STORAGE_RECORD_TOO_LARGE', `hard state record of ${frame} bytes is over maxRecordBytes`);
      size += frame;
    }

    const records = Buffer.allocUnsafe(size);
    let off = 0;
    const mark: SnapshotMark | null = snapshot === null ? null : { index: snapshot.meta.index, term: snapshot.meta.term, reset: true };
    if (mark !== null) off = writeSnapshotFrame(records, off, mark);
    for (const e of entries) off = writeEntryFrame(records, off, e);
    if (hardState !== null) off = writeHardStateFrame(records, off, hardState);
    invariant(off === size, 'encoded size matches the computed size');

    if (entries.length > 0) last = entries[entries.length - 1]!.index;
    const maxEntryIndex = entries.length > 0 ? last : 0;
    return this.enqueue(snapshot, mark, records, maxEntryIndex, hardState, mark === null ? -1 : mark.index, () => {
      this.lastIndex = last;
      this.snapIndex = snapIndex;
    });
  }

  async saveSnapshot(snapshot: Snapshot, compactTo: Index): Promise<void> {
    this.checkWritable();
    const { index, term } = snapshot.meta;
    checkIndexTerm(index, term, 'snapshot');
    if (index <= this.snapIndex || index > this.lastIndex) {
      throw invalid(`a snapshot at ${index} must lie in the log (snapshot ${this.snapIndex}, last ${this.lastIndex})`);
    }
    if (!Number.isSafeInteger(compactTo) || compactTo < 0 || compactTo > index) throw invalid(`compactTo ${compactTo} must be in [0, ${index}]`);
    const mark: SnapshotMark = { index, term, reset: false };
    const records = Buffer.allocUnsafe(SNAPSHOT_FRAME_BYTES);
    writeSnapshotFrame(records, 0, mark);
    return this.enqueue(snapshot, mark, records, 0, null, compactTo, () => {
      this.snapIndex = index;
    });
  }

  /** Queues a validated save; `accept` moves the logical log state forward (only if it was queued). */
  private enqueue(
    snapshot: Snapshot | null,
    mark: SnapshotMark | null,
    records: Buffer,
    maxEntryIndex: Index,
    hardState: HardState | null,
    compactTo: Index,
    accept: () => void,
  ): Promise<void> {
    if (this.queue.length >= this.opts.maxQueuedSaves) {
      return Promise.reject(new StorageError('STORAGE_QUEUE_FULL', `more than ${this.opts.maxQueuedSaves} saves are waiting for the disk`));
    }
    accept();
    const after: LogExtent = { lastIndex: this.lastIndex, snapIndex: this.snapIndex };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ snapshot, mark, records, maxEntryIndex, hardState, compactTo, after, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private checkWritable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.phase !== 'open') throw new StorageError('STORAGE_NOT_OPEN', `storage for ${this.dir} is not open`);
  }

  /** Drains the queue batch by batch; the only writer of the WAL. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && this.failure === null) {
      const batch = this.takeBatch();
      try {
        await this.commit(batch);
      } catch (err) {
        if (errorCode(err) === 'ENOSPC') {
          this.refuseForNoSpace(batch, err);
          continue;
        }
        this.failure = storageFailed(err);
        for (const s of batch) s.reject(this.failure);
        break;
      }
      this.durableExtent = batch[batch.length - 1]!.after;
      this.savesCommitted += batch.length;
      for (const s of batch) s.resolve();
    }
    if (this.failure !== null) for (const s of this.queue.splice(0)) s.reject(this.failure);
    this.flushing = null;
  }

  /**
   * The disk is full. Nothing of the batch is in the log (the WAL cut off what the write left), so
   * the batch and every save queued after it (they extend it) are refused, and the logical log goes
   * back to what is durable: the caller retries the same saves once there is room.
   */
  private refuseForNoSpace(batch: readonly PendingSave[], cause: unknown): void {
    const error = new StorageError('STORAGE_NO_SPACE', `the disk of ${this.dir} is full: nothing of this save was written; it succeeds once there is room`, { cause });
    for (const s of [...batch, ...this.queue.splice(0)]) s.reject(error);
    this.lastIndex = this.durableExtent.lastIndex;
    this.snapIndex = this.durableExtent.snapIndex;
  }

  /** The longest run of queued saves within maxBatchBytes (always at least one). */
  private takeBatch(): PendingSave[] {
    let bytes = this.queue[0]!.records.length;
    let n = 1;
    while (n < this.queue.length && bytes + this.queue[n]!.records.length <= this.opts.maxBatchBytes) {
      bytes += this.queue[n]!.records.length;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async commit(batch: readonly PendingSave[]): Promise<void> {
    const wal = this.wal!;
    for (const s of batch) if (s.snapshot !== null) this.snapshotFiles.add(await writeSnapshotFile(this.fs, this.dir, s.snapshot));
    const chunks: Buffer[] = [];
    let length = 0;
    for (const s of batch) {
      chunks.push(s.records);
      length += s.records.length;
    }
    if (length > 0) await wal.append(chunks, length, () => this.checkpoint());
    this.batches++;

    // Durable: move the WAL's view forward, record by record order, then tidy behind it.
    let compactTo = -1;
    for (const s of batch) {
      if (s.mark !== null) {
        if (s.mark.reset) wal.noteReset();
        this.walMark = { ...s.mark, reset: false };
      }
      if (s.maxEntryIndex > 0) wal.noteEntries(s.maxEntryIndex);
      if (s.hardState !== null) this.walHardState = s.hardState;
      compactTo = Math.max(compactTo, s.compactTo);
    }
    if (compactTo >= 0) {
      await this.removeStaleSnapshots();
      await wal.removeCovered(compactTo);
    }
  }

  private async removeStaleSnapshots(): Promise<void> {
    const current = snapshotName(this.walMark!.index, this.walMark!.term);
    for (const name of this.snapshotFiles) {
      if (name === current) continue;
      try {
        await this.fs.unlink(posix.join(this.dir, name));
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
      this.snapshotFiles.delete(name);
    }
  }

  /** The records a new segment starts with: the snapshot mark and hard state the WAL holds now. */
  private checkpoint(): Buffer {
    const size = (this.walMark === null ? 0 : SNAPSHOT_FRAME_BYTES) + hardStateFrameBytes(this.walHardState);
    const buf = Buffer.allocUnsafe(size);
    const off = this.walMark === null ? 0 : writeSnapshotFrame(buf, 0, this.walMark);
    writeHardStateFrame(buf, off, this.walHardState);
    return buf;
  }

  stats(): StorageStats {
    return {
      fsyncs: this.wal?.fsyncCount ?? 0,
      batches: this.batches,
      savesCommitted: this.savesCommitted,
      bytesWritten: this.wal?.bytesWritten ?? 0,
      segments: this.wal?.segmentCount ?? 0,
      tornRecordsDropped: this.tornRecords,
    };
  }

  /** Waits for queued saves (they still resolve or reject), then releases the files and the lock. */
  async close(): Promise<void> {
    if (this.phase !== 'open') return;
    this.phase = 'closed';
    while (this.flushing !== null) await this.flushing;
    await this.wal!.close().catch(() => undefined);
    await this.lock!.release().catch(() => undefined);
  }
}

function invalid(message: string): StorageError {
  return new StorageError('STORAGE_INVALID_ARGUMENT', message);
}

function checkIndexTerm(index: number, term: number, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger(term) || term < 0) {
    throw invalid(`${what} index ${index} / term ${term} must be non-negative safe integers`);
  }
}
