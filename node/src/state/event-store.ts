// The events of recent entries, kept on disk beside the state engine but outside it: an append-only
// run of segment files, written once per apply batch and deleted whole once the event ring has let
// go of their entries. They are read only at open (to refill the ring), with plain reads, never
// through a memory map: kept as rows in LMDB, they made its map resident as they were freed
// (node/bench/engine-map.ts), most of a node's memory after a large write load.
//
// Files: `<after>.evs`, `after` (20 digits) being the index after which the segment's frames are
// complete; each segment starts where the one before it ends. A frame is one apply batch:
//   body length u32 LE | crc32 u32 LE of the body | body:
//   last index u64 LE | record count u32 LE | per record: index u64 LE, length u32 LE, bytes
// A batch that raised no event still writes a frame, so the store knows the last batch it holds.
//
// Agreement with the state engine, which commits a batch after its frame is written:
// `align(applied)` at open and after a snapshot replaced the state:
//  - frames past the engine's applied index (a crash lost the engine's batch) are cut: the replay
//    of the log writes them again;
//  - a store that ends before the applied index (a snapshot moved the state ahead, or a machine
//    crash lost unsynced frames the engine kept) cannot recompute the gap: it starts over,
//    complete after the applied index.
// A torn or damaged frame ends the store there: it and everything after it are dropped.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';

/** One entry's events as kept: its index and its encoded events (persisted-events.ts). */
export interface EventRecord {
  readonly index: number;
  readonly bytes: Uint8Array;
}

/** The files under the store: synchronous writes (the apply path is synchronous), asynchronous sync. */
export interface SegmentFiles {
  /** Names of the segment files, in any order. */
  list(): string[];
  read(name: string): Buffer;
  /** Appends to the file, creating it if missing. */
  append(name: string, bytes: Uint8Array): void;
  truncate(name: string, size: number): void;
  remove(name: string): void;
  /** Resolves once every append, truncation, creation and removal before the call is durable. */
  sync(): Promise<void>;
  close(): void;
}

/** A new segment starts once the current one holds this many bytes. */
export const EVENT_SEGMENT_BYTES = 4 * 2 ** 20;
const FRAME_HEADER = 8;
const BODY_HEADER = 12;
const RECORD_HEADER = 12;
const SUFFIX = '.evs';

interface Segment {
  readonly after: number;
  last: number;
  size: number;
}

interface Frame {
  readonly last: number;
  readonly body: Buffer;
  /** Offset just past the frame. */
  readonly end: number;
}

function segmentName(after: number): string {
  return `${String(after).padStart(20, '0')}${SUFFIX}`;
}

function encodeFrame(last: number, records: readonly EventRecord[]): Buffer {
  let size = FRAME_HEADER + BODY_HEADER;
  for (const r of records) size += RECORD_HEADER + r.bytes.byteLength;
  const frame = Buffer.allocUnsafe(size);
  frame.writeBigUInt64LE(BigInt(last), FRAME_HEADER);
  frame.writeUInt32LE(records.length, FRAME_HEADER + 8);
  let off = FRAME_HEADER + BODY_HEADER;
  for (const r of records) {
    frame.writeBigUInt64LE(BigInt(r.index), off);
    frame.writeUInt32LE(r.bytes.byteLength, off + 8);
    frame.set(r.bytes, off + RECORD_HEADER);
    off += RECORD_HEADER + r.bytes.byteLength;
  }
  frame.writeUInt32LE(size - FRAME_HEADER, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER)), 4);
  return frame;
}

/** The whole frames of a segment's bytes, in order, up to the first torn or damaged one. */
function* framesOf(buf: Buffer): Generator<Frame> {
  for (let off = 0; off + FRAME_HEADER <= buf.length;) {
    const length = buf.readUInt32LE(off);
    const end = off + FRAME_HEADER + length;
    if (length < BODY_HEADER || end > buf.length) return;
    const body = buf.subarray(off + FRAME_HEADER, end);
    if (crc32(body) !== buf.readUInt32LE(off + 4)) return;
    yield { last: Number(body.readBigUInt64LE(0)), body, end };
    off = end;
  }
}

function* recordsOf(body: Buffer): Generator<EventRecord> {
  const count = body.readUInt32LE(8);
  let off = BODY_HEADER;
  for (let i = 0; i < count; i++) {
    const index = Number(body.readBigUInt64LE(off));
    const length = body.readUInt32LE(off + 8);
    yield { index, bytes: body.subarray(off + RECORD_HEADER, off + RECORD_HEADER + length) };
    off += RECORD_HEADER + length;
  }
}

/** What `align` found. */
export interface Alignment {
  /** `kept`: the store ends at the applied index; `cut`: frames past it were dropped; `restarted`: it starts over there. */
  readonly outcome: 'kept' | 'cut' | 'restarted';
  /** Where the store ended before (null: it was empty). */
  readonly lastBefore: number | null;
}

export class EventStore {
  private readonly files: SegmentFiles;
  private readonly segmentBytes: number;
  /** Oldest first; each starts where the one before ends. */
  private segments: Segment[] = [];

  constructor(files: SegmentFiles, segmentBytes = EVENT_SEGMENT_BYTES) {
    this.files = files;
    this.segmentBytes = segmentBytes;
    this.load();
  }

  /** The index after which the events of every entry are held (null before the first `align`). */
  get floor(): number | null {
    return this.segments[0]?.after ?? null;
  }

  /** The last batch held (null before the first `align`). */
  get last(): number | null {
    return this.segments[this.segments.length - 1]?.last ?? null;
  }

  /** Segment files on disk (what tests check). */
  get segmentCount(): number {
    return this.segments.length;
  }

  private load(): void {
    const names = this.files.list().filter((n) => n.endsWith(SUFFIX)).sort();
    for (const [i, name] of names.entries()) {
      const after = Number(name.slice(0, -SUFFIX.length));
      const previous = this.segments[this.segments.length - 1];
      if (!Number.isSafeInteger(after) || (previous !== undefined && previous.last !== after)) {
        // Not a continuation of the chain (a crash cut it short, or a restart of the store was
        // not yet durable): it and everything after it go.
        for (const rest of names.slice(i)) this.files.remove(rest);
        return;
      }
      const buf = this.files.read(name);
      const segment: Segment = { after, last: after, size: 0 };
      for (const frame of framesOf(buf)) {
        segment.last = frame.last;
        segment.size = frame.end;
      }
      this.segments.push(segment);
      if (segment.size < buf.length) {
        this.files.truncate(name, segment.size);
        for (const rest of names.slice(i + 1)) this.files.remove(rest);
        return;
      }
    }
  }

  /** Appends one apply batch ending at `last`: the records of its entries that raised events, in order. */
  append(last: number, records: readonly EventRecord[]): void {
    const current = this.segments[this.segments.length - 1];
    assert.ok(current !== undefined, 'EventStore: append before align');
    assert.ok(last > current.last, `EventStore: batch ${last} does not follow ${current.last}`);
    assert.ok(records.every((r, i) => r.index > current.last && r.index <= last && (i === 0 || r.index > (records[i - 1] as EventRecord).index)), 'EventStore: records out of order');
    let segment = current;
    if (current.size >= this.segmentBytes) {
      segment = { after: current.last, last: current.last, size: 0 };
      this.segments.push(segment);
    }
    const frame = encodeFrame(last, records);
    this.files.append(segmentName(segment.after), frame);
    segment.last = last;
    segment.size += frame.length;
  }

  /** The ring let go of the entries up to `index`: the segments that hold nothing after it go. */
  forget(index: number): void {
    while (this.segments.length > 1 && (this.segments[0] as Segment).last <= index) {
      this.files.remove(segmentName((this.segments.shift() as Segment).after));
    }
  }

  /** Makes the store end at the engine's `applied` index (see the top of the file). */
  align(applied: number): Alignment {
    const lastBefore = this.last;
    if (lastBefore === applied) return { outcome: 'kept', lastBefore };
    if (lastBefore !== null && lastBefore > applied && (this.floor as number) <= applied && this.cutAfter(applied)) return { outcome: 'cut', lastBefore };
    this.restart(applied);
    return { outcome: 'restarted', lastBefore };
  }

  /** Drops the frames after `applied` if one ends exactly there; false when none does. */
  private cutAfter(applied: number): boolean {
    const at = this.segments.findIndex((s) => s.last >= applied);
    const segment = this.segments[at] as Segment;
    let end = -1;
    if (segment.after === applied) end = 0;
    else {
      for (const frame of framesOf(this.files.read(segmentName(segment.after)))) {
        if (frame.last === applied) end = frame.end;
        if (frame.last >= applied) break;
      }
    }
    if (end < 0) return false;
    for (const later of this.segments.splice(at + 1)) this.files.remove(segmentName(later.after));
    this.files.truncate(segmentName(segment.after), end);
    segment.last = applied;
    segment.size = end;
    return true;
  }

  private restart(after: number): void {
    for (const s of this.segments) this.files.remove(segmentName(s.after));
    this.segments = [{ after, last: after, size: 0 }];
    this.files.append(segmentName(after), new Uint8Array(0));
  }

  /** The records held after `after`, in log order (read from the files, a segment at a time). */
  *read(after: number): Generator<EventRecord> {
    for (const segment of [...this.segments]) {
      if (segment.last <= after) continue;
      for (const frame of framesOf(this.files.read(segmentName(segment.after)))) {
        if (frame.last <= after) continue;
        for (const r of recordsOf(frame.body)) if (r.index > after) yield r;
      }
    }
  }

  sync(): Promise<void> {
    return this.files.sync();
  }

  close(): void {
    this.files.close();
  }
}
