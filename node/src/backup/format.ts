// The backup format, pure: the manifest that describes a backup (what it is a copy of, and the
// list of segments with their sizes and checksums), and the length-prefixed frames that carry a
// snapshot's chunks, both on the node's backup route and inside the segments. No I/O.
//
// A backup is a folder (a directory, or a prefix in an object store) holding
//   segment-00000.cgsb, segment-00001.cgsb, ...   frames  [u32 length BE][snapshot chunk]
//   manifest.json                                  written last: a backup without it is incomplete
// Each snapshot chunk carries its own CRC32C (state/snapshot-stream.ts); the manifest adds a
// SHA-256 per segment and one over every segment's bytes in order.
//
// The backup route's body is the same frames, preceded by one frame holding the source's header
// (JSON) and followed by a frame of length 0 (the end: a body cut short has none).
import assert from 'node:assert/strict';
import type { ConfState } from '../raft/types.js';
import { SNAPSHOT_FORMAT } from '../state/snapshot-stream.js';

/**
 * The manifest's format version. Version 1 is the first; a later node must keep reading every
 * version below its own (a checked-in version-1 backup is restored by the tests).
 */
export const BACKUP_FORMAT = 1;
export const MANIFEST_NAME = 'manifest.json';
/** Bound on one frame: a snapshot chunk is about 512 KiB, one record at most a few MiB. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Bound on the manifest (and the route's header frame): far above any real one. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export function segmentName(n: number): string {
  assert.ok(Number.isSafeInteger(n) && n >= 0 && n < 100_000, `segment number ${n} out of range`);
  return `segment-${String(n).padStart(5, '0')}.cgsb`;
}

/** What the node's backup route sends before the chunks: the state they hold, and where it came from. */
export interface BackupHeader {
  readonly clusterId: string;
  readonly sourceNode: string;
  /** The applied (hence committed) index whose state the backup holds. */
  readonly index: number;
  /** The source's Raft term when the backup was taken. */
  readonly term: number;
  /** The source cluster's configuration when the backup was taken (for the record: a restore makes a new one). */
  readonly configuration: ConfState;
  readonly snapshotFormat: number;
  readonly nodeVersion: string;
  /** Bytes of module state and idempotency rows: checked against the chunks. */
  readonly stateBytes: number;
  readonly idemRows: number;
}

export interface SegmentInfo {
  readonly name: string;
  readonly bytes: number;
  readonly chunks: number;
  readonly sha256: string;
}

export interface BackupManifest extends BackupHeader {
  readonly kind: 'catga-backup';
  readonly format: number;
  readonly createdAt: string;
  readonly records: number;
  /** Bytes of every segment together. */
  readonly bytes: number;
  readonly segments: readonly SegmentInfo[];
  /** SHA-256 of every segment's bytes, in order. */
  readonly sha256: string;
}

export class BackupFormatError extends Error {
  readonly code = 'BACKUP_INVALID';
}

function fail(message: string): never {
  throw new BackupFormatError(message);
}

const HEX64 = /^[0-9a-f]{64}$/;

function count(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') fail(`${what} must be a non-empty string`);
  return v;
}

function configuration(v: unknown): ConfState {
  const c = v as Partial<ConfState> | null;
  if (c === null || typeof c !== 'object' || !Array.isArray(c.voters) || !Array.isArray(c.learners) || typeof c.addresses !== 'object' || c.addresses === null) {
    fail('configuration must have voters, learners and addresses');
  }
  return c as ConfState;
}

/** Validates a header (the route's first frame, or the manifest's header part). */
export function parseHeader(doc: unknown): BackupHeader {
  const d = doc as Record<string, unknown> | null;
  if (d === null || typeof d !== 'object') fail('backup header is not an object');
  const snapshotFormat = count(d['snapshotFormat'], 'snapshotFormat');
  if (snapshotFormat !== SNAPSHOT_FORMAT) fail(`snapshot format ${snapshotFormat} is not ${SNAPSHOT_FORMAT}, the one this node reads`);
  return {
    clusterId: text(d['clusterId'], 'clusterId'),
    sourceNode: text(d['sourceNode'], 'sourceNode'),
    index: count(d['index'], 'index'),
    term: count(d['term'], 'term'),
    configuration: configuration(d['configuration']),
    snapshotFormat,
    nodeVersion: text(d['nodeVersion'], 'nodeVersion'),
    stateBytes: count(d['stateBytes'], 'stateBytes'),
    idemRows: count(d['idemRows'], 'idemRows'),
  };
}

export function encodeManifest(m: BackupManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`, 'utf8');
}

/** Parses and validates a manifest of any format version this node reads. */
export function parseManifest(bytes: Uint8Array): BackupManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) fail(`manifest is ${bytes.byteLength} bytes, over the limit of ${MAX_MANIFEST_BYTES}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    fail(`manifest is not JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || doc['kind'] !== 'catga-backup') fail('manifest is not a Catga backup manifest (kind is not "catga-backup")');
  const format = count(doc['format'], 'format');
  if (format < 1 || format > BACKUP_FORMAT) fail(`backup format ${format} is not one this node reads (1 to ${BACKUP_FORMAT}): restore it with a newer catga`);
  const createdAt = text(doc['createdAt'], 'createdAt');
  if (Number.isNaN(Date.parse(createdAt))) fail(`createdAt ${JSON.stringify(createdAt)} is not a time`);
  if (!Array.isArray(doc['segments'])) fail('segments must be a list');
  const segments = (doc['segments'] as unknown[]).map((s, i): SegmentInfo => {
    const seg = s as Record<string, unknown>;
    const name = text(seg?.['name'], `segments[${i}].name`);
    if (name !== segmentName(i)) fail(`segments[${i}] is named ${JSON.stringify(name)}, expected ${segmentName(i)}`);
    const sha256 = text(seg['sha256'], `segments[${i}].sha256`);
    if (!HEX64.test(sha256)) fail(`segments[${i}].sha256 is not a SHA-256 in hex`);
    return { name, bytes: count(seg['bytes'], `segments[${i}].bytes`), chunks: count(seg['chunks'], `segments[${i}].chunks`), sha256 };
  });
  const sha256 = text(doc['sha256'], 'sha256');
  if (!HEX64.test(sha256)) fail('sha256 is not a SHA-256 in hex');
  const bytes_ = count(doc['bytes'], 'bytes');
  if (segments.reduce((n, s) => n + s.bytes, 0) !== bytes_) fail(`bytes ${bytes_} is not the sum of the segments' bytes`);
  return { ...parseHeader(doc), kind: 'catga-backup', format, createdAt, records: count(doc['records'], 'records'), bytes: bytes_, segments, sha256 };
}

/** Frames one payload: [u32 length][payload]. A length of 0 is the end of a stream. */
export function frame(payload: Uint8Array): Buffer {
  assert.ok(payload.byteLength > 0 && payload.byteLength <= MAX_FRAME_BYTES, `frame of ${payload.byteLength} bytes`);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(payload.byteLength, 0);
  return Buffer.concat([head, payload]);
}

export const END_FRAME = Buffer.alloc(4);

/**
 * Splits a byte stream into frames, whatever the boundaries of the pieces pushed into it. Holds at
 * most one frame plus one piece in memory.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;

  /** Adds bytes; returns the frames they complete. An end frame ends the stream: bytes after it are refused. */
  push(piece: Uint8Array): Buffer[] {
    if (this.ended) fail('bytes after the end of the stream');
    this.pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    this.pendingBytes += piece.byteLength;
    const out: Buffer[] = [];
    while (!this.ended && this.pendingBytes >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) fail(`frame of ${length} bytes is over the limit of ${MAX_FRAME_BYTES}`);
      if (length === 0) {
        this.take(4);
        this.ended = true;
        if (this.pendingBytes > 0) fail('bytes after the end of the stream');
        break;
      }
      if (this.pendingBytes < 4 + length) break;
      out.push(this.take(4 + length).subarray(4));
    }
    return out;
  }

  /** Whether the end frame arrived. */
  get complete(): boolean {
    return this.ended;
  }

  /** Bytes held that do not yet make a frame (0 at a clean frame boundary). */
  get leftover(): number {
    return this.pendingBytes;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return taken;
  }
}
