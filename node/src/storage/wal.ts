// The segmented write-ahead log's files: the active segment we append to, rollover to a new
// segment past `maxSegmentBytes`, one durable write per batch (segments are opened with
// durableWrites, O_DSYNC: the write returns once it is on disk), and removal of whole segments
// that compaction made dead. What goes in the records is file-storage.ts's business.
import { posix } from 'node:path';
import { invariant } from './errors.js';
import { errorCode, type FileHandle, type FileSystem, type OpenOptions } from './fs.js';
import { encodeSegmentHeader, segmentName } from './segment.js';

/** Segments are written through O_DSYNC: one trip through the I/O thread pool per batch, not two. */
const SEGMENT_OPEN: OpenOptions = { durableWrites: true };

/** A segment and the highest entry index in it that may still be live (0 once dead). */
export interface SegmentState {
  readonly seq: number;
  maxLiveIndex: number;
}

export interface WalOptions {
  readonly maxSegmentBytes: number;
  readonly onFsync: ((seconds: number) => void) | undefined;
}

/** Where recovery left the log: the segments present, and the end of the valid bytes of the last one. */
export interface WalStart {
  readonly segments: SegmentState[];
  /** Valid length of the last segment; bytes beyond it (a torn tail) are cut off. */
  readonly validLength: number;
  /** A torn last segment file to rewrite from scratch (its creation was interrupted). */
  readonly rewriteSeq: number | null;
}

export class Wal {
  private fsyncs = 0;
  private bytes = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly opts: WalOptions,
    private readonly segments: SegmentState[],
    private handle: FileHandle,
    private size: number,
    /** Whether the active segment holds a batch: one that holds only its checkpoint is never rolled. */
    private activeHoldsBatch: boolean,
  ) {}

  /**
   * Opens the log where recovery left it: cuts a torn tail, or creates the first (or a torn
   * last) segment, whose records start with `checkpoint`.
   */
  static async open(fs: FileSystem, dir: string, opts: WalOptions, start: WalStart, checkpoint: Buffer): Promise<Wal> {
    const last = start.segments[start.segments.length - 1];
    if (last !== undefined && start.rewriteSeq === null) {
      const handle = await fs.open(posix.join(dir, segmentName(last.seq)), 'readWrite', SEGMENT_OPEN);
      if ((await handle.size()) !== start.validLength) {
        await handle.truncate(start.validLength);
        await handle.sync();
      }
      return new Wal(fs, dir, opts, start.segments, handle, start.validLength, true);
    }
    const seq = start.rewriteSeq ?? 1;
    invariant(last === undefined || last.seq === seq - 1, 'a rewritten segment follows the last valid one');
    const segments = [...start.segments, { seq, maxLiveIndex: 0 }];
    const handle = await fs.open(posix.join(dir, segmentName(seq)), 'createOrTruncate', SEGMENT_OPEN);
    const wal = new Wal(fs, dir, opts, segments, handle, 0, false);
    await wal.writeNewSegment([encodeSegmentHeader(seq), checkpoint]);
    return wal;
  }

  /** Syncs so far: durable appends, and fsyncs of files and the directory. */
  get fsyncCount(): number {
    return this.fsyncs;
  }

  get bytesWritten(): number {
    return this.bytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Appends `chunks` (whole records, `length` bytes in all) and makes them durable. A batch that
   * does not fit the active segment starts a new one (unless the active one holds nothing but its
   * checkpoint), which begins with `checkpoint()`: the state before this batch.
   */
  async append(chunks: readonly Uint8Array[], length: number, checkpoint: () => Buffer): Promise<void> {
    if (this.size + length > this.opts.maxSegmentBytes && this.activeHoldsBatch) {
      await this.rollover(chunks, checkpoint());
      return;
    }
    const held = this.activeHoldsBatch;
    this.activeHoldsBatch = true;
    try {
      await this.timedSync(() => this.handle.writev(chunks, this.size)); // durable on return (O_DSYNC)
    } catch (err) {
      if (errorCode(err) !== 'ENOSPC') throw err;
      // A full disk may have taken part of the batch: cut it off again, so the segment ends with the
      // last durable batch and a later append writes after it (truncation needs no space).
      this.activeHoldsBatch = held;
      await this.handle.truncate(this.size);
      await this.timedSync(() => this.handle.sync());
      throw err;
    }
    this.size += length;
    this.bytes += length;
  }

  private async rollover(chunks: readonly Uint8Array[], checkpoint: Buffer): Promise<void> {
    const seq = this.activeSeq + 1;
    const path = posix.join(this.dir, segmentName(seq));
    const next = await this.fs.open(path, 'createExclusive', SEGMENT_OPEN);
    const previous = { handle: this.handle, size: this.size };
    this.handle = next;
    this.size = 0;
    this.segments.push({ seq, maxLiveIndex: 0 });
    try {
      await this.writeNewSegment([encodeSegmentHeader(seq), checkpoint, ...chunks]);
    } catch (err) {
      if (errorCode(err) !== 'ENOSPC') throw err;
      // The disk filled up while the new segment was written: it never held anything acknowledged.
      // Remove it and keep appending to the previous one once there is room.
      await next.close();
      await this.fs.unlink(path);
      await this.timedSync(() => this.fs.syncDir(this.dir));
      this.segments.pop();
      this.handle = previous.handle;
      this.size = previous.size;
      throw err;
    }
    this.activeHoldsBatch = true;
    await previous.handle.close();
  }

  /** First write of a new segment: data, fsync of the file, fsync of the directory (the new name). */
  private async writeNewSegment(chunks: readonly Uint8Array[]): Promise<void> {
    let length = 0;
    for (const c of chunks) length += c.length;
    await this.handle.writev(chunks, 0);
    this.size = length;
    this.bytes += length;
    await this.timedSync(() => this.handle.sync());
    await this.timedSync(() => this.fs.syncDir(this.dir));
  }

  private async timedSync(sync: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    await sync();
    this.fsyncs++;
    this.opts.onFsync?.((performance.now() - t0) / 1000);
  }

  private get activeSeq(): number {
    return this.segments[this.segments.length - 1]!.seq;
  }

  /** The records just appended held entries up to `maxIndex` (in the active segment). */
  noteEntries(maxIndex: number): void {
    const active = this.segments[this.segments.length - 1]!;
    active.maxLiveIndex = Math.max(active.maxLiveIndex, maxIndex);
  }

  /** A leader's snapshot reset the log: every entry written so far is dead. */
  noteReset(): void {
    for (const s of this.segments) s.maxLiveIndex = 0;
  }

  /**
   * Removes, oldest first, the segments before the active one whose entries are all at or below
   * `upTo`, then fsyncs the directory. Oldest first keeps the survivors contiguous even if a crash
   * keeps only some of the unlinks. Returns how many were removed.
   */
  async removeCovered(upTo: number): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[0]!.maxLiveIndex <= upTo) {
      await this.fs.unlink(posix.join(this.dir, segmentName(this.segments[0]!.seq)));
      this.segments.shift();
      removed++;
    }
    if (removed > 0) await this.timedSync(() => this.fs.syncDir(this.dir));
    return removed;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
