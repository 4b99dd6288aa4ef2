// Writing, reading and pruning backups in a store. Writing takes the stream of the node's backup
// route (a header frame, chunk frames, an end frame), checks every chunk's CRC and the totals
// against the header, cuts the frames into segments, writes the manifest last, then reads the
// whole backup back and checks it (verify on write). Reading (verify, restore) checks every
// segment's size and SHA-256, every chunk's CRC, and the totals against the manifest.
import { createHash, type Hash } from 'node:crypto';
import { decodeChunk, emptyTotals, tallyRecords, totalsMismatch, type ChunkRecord } from '../state/snapshot-stream.js';
import {
  BACKUP_FORMAT, BackupFormatError, encodeManifest, frame, FrameReader, MANIFEST_NAME, MAX_MANIFEST_BYTES, parseHeader, parseManifest, segmentName,
  type BackupHeader, type BackupManifest, type SegmentInfo,
} from './format.js';
import type { BackupStore, ObjectWriter } from './location.js';

/** Default bound on one segment: big enough that a large backup is a few hundred objects, small enough to retry. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const FOLDER = /^backup-(\d{8}T\d{6}Z)-(\d{12,})$/;

/** The folder a backup is written to: sortable by time, naming the index. */
export function backupFolderName(createdAt: Date, index: number): string {
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `backup-${stamp}-${String(index).padStart(12, '0')}`;
}

/** When a backup folder's name says it was taken; null for a folder that is not a backup. */
export function backupFolderTime(name: string): Date | null {
  const m = FOLDER.exec(name);
  if (m === null) return null;
  const s = m[1]!;
  return new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
}

export interface WriteOptions {
  readonly segmentBytes?: number;
  readonly now?: () => Date;
}

export interface WrittenBackup {
  readonly store: BackupStore;
  readonly manifest: BackupManifest;
}

/** A segment being written: its object and running checksums. */
interface OpenSegment {
  readonly writer: ObjectWriter;
  readonly hash: Hash;
  bytes: number;
  chunks: number;
}

/**
 * Writes the backup route's stream into a new folder under `root` and verifies it. On any failure
 * the partial folder is removed (it never has a manifest, so it is never mistaken for a backup).
 */
export async function writeBackup(stream: AsyncIterable<Uint8Array>, root: BackupStore, o: WriteOptions = {}): Promise<WrittenBackup> {
  const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const frames = new FrameReader();
  const iterator = stream[Symbol.asyncIterator]();
  let header: BackupHeader | null = null;
  let pendingFrames: Buffer[] = [];
  // The header frame comes first; the folder is named after its index.
  while (header === null) {
    const next = await iterator.next();
    if (next.done === true) throw new BackupFormatError('the backup stream ended before its header');
    pendingFrames = frames.push(next.value);
    const first = pendingFrames.shift();
    if (first !== undefined) {
      if (first.length > MAX_MANIFEST_BYTES) throw new BackupFormatError('the backup header is too large');
      header = parseHeader(JSON.parse(first.toString('utf8')));
    }
  }
  const createdAt = (o.now ?? (() => new Date()))();
  const store = root.child(backupFolderName(createdAt, header.index));
  const total = createHash('sha256');
  const totals = emptyTotals();
  const segments: SegmentInfo[] = [];
  let records = 0;
  let segment: OpenSegment | null = null;
  const closeSegment = async (): Promise<void> => {
    if (segment === null) return;
    const s = segment;
    segment = null;
    await s.writer.end();
    segments.push({ name: segmentName(segments.length), bytes: s.bytes, chunks: s.chunks, sha256: s.hash.digest('hex') });
  };
  const addChunk = async (chunk: Buffer): Promise<void> => {
    const decoded = decodeChunk(chunk);
    tallyRecords(decoded, totals);
    records += decoded.length;
    segment ??= { writer: await store.create(segmentName(segments.length)), hash: createHash('sha256'), bytes: 0, chunks: 0 };
    const framed = frame(chunk);
    segment.hash.update(framed);
    total.update(framed);
    segment.bytes += framed.length;
    segment.chunks++;
    await segment.writer.write(framed);
    if (segment.bytes >= segmentBytes) await closeSegment();
  };
  try {
    for (const f of pendingFrames) await addChunk(f);
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      for (const f of frames.push(next.value)) await addChunk(f);
    }
    if (!frames.complete) throw new BackupFormatError('the backup stream ended early (no end frame): the source stopped or the connection broke');
    await closeSegment();
    const mismatch = totalsMismatch(totals, header);
    if (mismatch !== null) throw new BackupFormatError(`the backup stream does not match its header (${mismatch})`);
    const manifest: BackupManifest = {
      kind: 'catga-backup', format: BACKUP_FORMAT, ...header, createdAt: createdAt.toISOString(), records,
      bytes: segments.reduce((n, s) => n + s.bytes, 0), segments, sha256: total.digest('hex'),
    };
    const writer = await store.create(MANIFEST_NAME);
    await writer.write(encodeManifest(manifest));
    await writer.end();
    const reread = await readBackup(store);
    if (reread.sha256 !== manifest.sha256) throw new BackupFormatError('the backup read back differs from what was written');
    return { store, manifest };
  } catch (err) {
    const open = segment as OpenSegment | null;
    await open?.writer.abort().catch(() => {});
    await store.removeAll().catch(() => {});
    throw err;
  } finally {
    await iterator.return?.();
  }
}

async function readWhole(pieces: AsyncIterable<Uint8Array>, limit: number, what: string): Promise<Buffer> {
  const out: Buffer[] = [];
  let bytes = 0;
  for await (const p of pieces) {
    bytes += p.byteLength;
    if (bytes > limit) throw new BackupFormatError(`${what} is over ${limit} bytes`);
    out.push(Buffer.from(p));
  }
  return Buffer.concat(out);
}

export async function readManifest(store: BackupStore): Promise<BackupManifest> {
  let bytes: Buffer;
  try {
    bytes = await readWhole(store.read(MANIFEST_NAME), MAX_MANIFEST_BYTES, MANIFEST_NAME);
  } catch (err) {
    if (err instanceof BackupFormatError) throw err;
    throw new BackupFormatError(`no backup at ${store.location}: cannot read ${MANIFEST_NAME} (${(err as Error).message})`);
  }
  return parseManifest(bytes);
}

/**
 * Reads a whole backup and checks it, handing each chunk's records to `onRecords` (in order);
 * throws BackupFormatError at the first thing that does not match. Returns the manifest.
 */
export async function readBackup(store: BackupStore, onRecords?: (records: readonly ChunkRecord[]) => void | Promise<void>): Promise<BackupManifest> {
  const manifest = await readManifest(store);
  const total = createHash('sha256');
  const totals = emptyTotals();
  let records = 0;
  for (const seg of manifest.segments) {
    const frames = new FrameReader();
    const hash = createHash('sha256');
    let bytes = 0;
    let chunks = 0;
    for await (const piece of store.read(seg.name)) {
      bytes += piece.byteLength;
      if (bytes > seg.bytes) throw new BackupFormatError(`${seg.name} is longer than the ${seg.bytes} bytes its manifest says`);
      hash.update(piece);
      total.update(piece);
      for (const chunk of frames.push(piece)) {
        const decoded = decodeChunk(chunk);
        chunks++;
        records += decoded.length;
        tallyRecords(decoded, totals);
        await onRecords?.(decoded);
      }
    }
    if (bytes !== seg.bytes) throw new BackupFormatError(`${seg.name} holds ${bytes} bytes, its manifest says ${seg.bytes}`);
    if (hash.digest('hex') !== seg.sha256) throw new BackupFormatError(`${seg.name} fails its SHA-256`);
    if (frames.leftover !== 0) throw new BackupFormatError(`${seg.name} ends inside a frame`);
    if (chunks !== seg.chunks) throw new BackupFormatError(`${seg.name} holds ${chunks} chunks, its manifest says ${seg.chunks}`);
  }
  if (total.digest('hex') !== manifest.sha256) throw new BackupFormatError('the backup fails its total SHA-256');
  if (records !== manifest.records) throw new BackupFormatError(`the backup holds ${records} records, its manifest says ${manifest.records}`);
  const mismatch = totalsMismatch(totals, manifest);
  if (mismatch !== null) throw new BackupFormatError(`the backup's records do not match its manifest (${mismatch})`);
  return manifest;
}

export interface Retention {
  /** Keep at least the newest this many backups (at least 1). */
  readonly keep: number;
  /** Remove backups older than this (beyond the newest `keep`); null: by count only. */
  readonly maxAgeMs: number | null;
}

/**
 * Removes the backups under `root` beyond the newest `keep` (only those older than `maxAgeMs`
 * when it is set). Folders that are not backups are left alone. Returns the names removed.
 */
export async function pruneBackups(root: BackupStore, r: Retention, now: Date): Promise<string[]> {
  if (!Number.isSafeInteger(r.keep) || r.keep < 1) throw new RangeError(`retention must keep at least 1 backup, got ${r.keep}`);
  const backups = (await root.folders()).flatMap((name) => {
    const at = backupFolderTime(name);
    return at === null ? [] : [{ name, at }];
  });
  backups.sort((a, b) => b.at.getTime() - a.at.getTime() || (a.name < b.name ? 1 : -1));
  const removable = backups.slice(r.keep).filter((b) => r.maxAgeMs === null || now.getTime() - b.at.getTime() > r.maxAgeMs);
  for (const b of removable) await root.child(b.name).removeAll();
  return removable.map((b) => b.name);
}
