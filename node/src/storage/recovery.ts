// Recovery: reads a data directory (without changing it) and either returns what it holds, plus
// what the caller must tidy (a torn tail, leftover files), or refuses with an error naming the file
// and byte offset. Rules:
//  - segment sequence numbers must be contiguous; a hole is a missing segment;
//  - every segment but the last was fsynced before the next was created: any bad byte in it is
//    corruption;
//  - in the last segment, a bad record (cut short, zeros, checksum mismatch) after which no valid
//    record follows is a torn write: cut off and counted. If a valid record follows it, the bad one
//    is corruption before the tail (a flipped length field can make a record look cut short): we
//    refuse rather than drop the acknowledged records after it;
//  - the snapshot in force is the one the last snapshot mark names; its file must verify.
import { posix } from 'node:path';
import type { Snapshot } from '../raft/types.js';
import { FRAME_HEADER_BYTES, readFrame } from './codec.js';
import { StorageError, corrupt } from './errors.js';
import type { FileSystem } from './fs.js';
import { LogReplay, type Replayed } from './replay.js';
import { SEGMENT_HEADER_BYTES, checkSegmentHeader, encodeSegmentHeader, isZero, parseSegmentName, segmentName } from './segment.js';
import { TEMP_SUFFIX, parseSnapshotName, readSnapshotFile, snapshotName } from './snapshot-file.js';
import type { SegmentState } from './wal.js';

/** Plausibility bound for a record length read from disk (independent of the configured write limit). */
export const MAX_READABLE_RECORD_BYTES = 1 << 30;

export interface RecoveredDir {
  readonly replayed: Replayed;
  readonly snapshot: Snapshot | null;
  readonly snapshotFile: string | null;
  readonly segments: SegmentState[];
  /** Valid length of the last segment. */
  readonly validLength: number;
  /** A last segment whose creation was torn: to be rewritten from scratch. */
  readonly rewriteSeq: number | null;
  readonly tornRecords: number;
  /** Leftover files to remove once recovery succeeded: temp files, snapshots not in force. */
  readonly garbage: string[];
}

export async function recoverDir(fs: FileSystem, dir: string): Promise<RecoveredDir> {
  const names = await fs.readdir(dir);
  const seqs = names
    .map(parseSegmentName)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1) {
      const file = posix.join(dir, segmentName(seqs[i - 1]! + 1));
      throw new StorageError(
        'STORAGE_MISSING_SEGMENT',
        `WAL segment ${file} is missing (between ${segmentName(seqs[i - 1]!)} and ${segmentName(seqs[i]!)}); refusing to start, data left untouched`,
        { file, offset: 0 },
      );
    }
  }
  const snapshotNames = names.filter((n) => parseSnapshotName(n) !== null);
  if (seqs.length === 0 && snapshotNames.length > 0) {
    throw new StorageError('STORAGE_MISSING_SEGMENT', `${dir} holds snapshot files but no WAL segment; refusing to start, data left untouched`, {
      file: dir,
    });
  }

  const replay = new LogReplay();
  const segments: SegmentState[] = [];
  let validLength = 0;
  let rewriteSeq: number | null = null;
  let tornRecords = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const last = i === seqs.length - 1;
    const file = posix.join(dir, segmentName(seq));
    const buf = await fs.readFile(file);
    if (last && isTornCreation(buf, seq)) {
      // The creation of the newest segment was cut short: nothing in it was ever acknowledged.
      rewriteSeq = seq;
      tornRecords++;
      break;
    }
    checkSegmentHeader(buf, file, seq);
    const segment: SegmentState = { seq, maxLiveIndex: 0 };
    segments.push(segment);
    let off = SEGMENT_HEADER_BYTES;
    while (off < buf.length) {
      const r = readFrame(buf, off, buf.length, MAX_READABLE_RECORD_BYTES);
      if (r.status === 'ok') {
        replay.apply(r.record, { file, offset: off });
        if (r.record.kind === 'entry') segment.maxLiveIndex = Math.max(segment.maxLiveIndex, r.record.entry.index);
        else if (r.record.kind === 'snapshot' && r.record.mark.reset) for (const s of segments) s.maxLiveIndex = 0;
        off = r.next;
        continue;
      }
      const after = last ? validFrameAfter(buf, off) : -1;
      if (last && after < 0) {
        tornRecords++;
        break;
      }
      const what = r.status === 'truncated' ? 'record runs past the end of the segment' : r.reason;
      throw corrupt(file, off, after < 0 ? `${what} (sealed segment)` : `${what}, with a valid record after it at offset ${after}`);
    }
    validLength = off;
  }

  const replayed = replay.finish();
  let snapshot: Snapshot | null = null;
  let snapshotFile: string | null = null;
  if (replayed.mark !== null) {
    snapshotFile = snapshotName(replayed.mark.index, replayed.mark.term);
    const path = posix.join(dir, snapshotFile);
    if (!names.includes(snapshotFile)) {
      throw new StorageError('STORAGE_CORRUPT', `snapshot ${path} named by the WAL is missing; refusing to start, data left untouched`, {
        file: path,
        offset: 0,
      });
    }
    snapshot = await readSnapshotFile(fs, path);
    if (snapshot.meta.index !== replayed.mark.index || snapshot.meta.term !== replayed.mark.term) {
      throw corrupt(path, 12, `snapshot holds index ${snapshot.meta.index} term ${snapshot.meta.term}, not what its name says`);
    }
  }
  const garbage = names.filter((n) => n.endsWith(TEMP_SUFFIX) || (parseSnapshotName(n) !== null && n !== snapshotFile));
  return { replayed, snapshot, snapshotFile, segments, validLength, rewriteSeq, tornRecords, garbage };
}

/** Offset of the first complete, verified record after the bad one at `bad`, or -1 (then the bad one is a torn tail). */
function validFrameAfter(buf: Buffer, bad: number): number {
  for (let p = bad + 1; p + FRAME_HEADER_BYTES <= buf.length; p++) {
    if (readFrame(buf, p, buf.length, MAX_READABLE_RECORD_BYTES).status === 'ok') return p;
  }
  return -1;
}

/**
 * Whether segment `seq` is one whose creation a crash cut short: its header is a prefix of the
 * expected one (then nothing, or zeros) and no valid record follows.
 */
function isTornCreation(buf: Buffer, seq: number): boolean {
  const want = encodeSegmentHeader(seq);
  const n = Math.min(buf.length, SEGMENT_HEADER_BYTES);
  let k = 0;
  while (k < n && buf[k] === want[k]) k++;
  if (k === SEGMENT_HEADER_BYTES || !isZero(buf, k, n)) return false;
  return validFrameAfter(buf, SEGMENT_HEADER_BYTES - 1) < 0;
}
