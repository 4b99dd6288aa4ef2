// The peer-channel framing on top of WebSocket binary messages.
//
// One WebSocket message carries one or more records: [varint length][record], records back to
// back (coalescing: everything queued for a peer in one event-loop turn goes out together).
// A record starts with a tag byte:
//   1..12  a Raft message (codec.ts)
//   0x20   REQUEST   [id varint][kind str][payload: rest of the record]
//   0x21   RESPONSE  [id varint][status u8: 0 ok | 1 error] ok: [payload: rest]
//                                                           error: [code str][message str]
//   0x30.. handshake records (handshake.ts)
import { ByteReader, ByteWriter, varintSize } from './bytes.js';
import { MAX_MESSAGE_TAG } from './codec.js';
import { CodecError } from './errors.js';

export const TAG_REQUEST = 0x20;
export const TAG_RESPONSE = 0x21;

/** Longest request kind and error code/message carried by request/response records. */
export const MAX_KIND_BYTES = 128;
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/** Starts a record: reserves one byte for its length, which `endRecord` fixes up. */
export function beginRecord(w: ByteWriter): number {
  w.u8(0);
  return w.pos;
}

/** Closes the record begun at `bodyStart`; returns the record's total size on the wire. */
export function endRecord(w: ByteWriter, bodyStart: number): number {
  const length = w.pos - bodyStart;
  const prefix = varintSize(length);
  if (prefix > 1) w.shiftTail(bodyStart, prefix - 1);
  w.varintAt(bodyStart - 1, length);
  return length + prefix;
}

/** A message holding the one record `write` produces (handshake records travel alone). */
export function singleRecord(write: (w: ByteWriter) => void): Buffer {
  const w = new ByteWriter(128);
  const body = beginRecord(w);
  write(w);
  endRecord(w, body);
  return w.copy();
}

/**
 * Calls `visit` with a reader bounded to each record of one WebSocket message, in order. The
 * visitor must consume its record fully (readers check `expectEnd`). Throws CodecError on a
 * truncated or empty record.
 */
export function forEachRecord(message: Uint8Array, visit: (r: ByteReader) => void): void {
  const r = new ByteReader(message);
  const total = message.length;
  if (total === 0) throw new CodecError('empty frame');
  while (r.pos < total) {
    r.end = total;
    const length = r.boundedVarint(r.remaining, 'record length');
    if (length === 0) throw new CodecError('empty record');
    const end = r.pos + length;
    r.end = end;
    visit(r);
    r.pos = end;
  }
}

/** A reader over the only record of a WebSocket message (handshake messages travel alone). */
export function readSingleRecord(message: Uint8Array): ByteReader {
  const r = new ByteReader(message);
  const length = r.boundedVarint(r.remaining, 'record length');
  if (length === 0 || length !== r.remaining) throw new CodecError('expected exactly one record');
  return r;
}

/** One WebSocket message's worth of queued records: [start, end), how many, how many are Raft messages. */
export interface RecordBatch {
  readonly end: number;
  readonly records: number;
  readonly raft: number;
}

/**
 * The next message to send from records queued back to back in `buf` (written by us) from
 * `start` to `limit`: as many whole records as fit in `maxBytes` and `maxRecords`, and always at
 * least one (a record larger than a batch travels alone).
 */
export function nextBatch(buf: Uint8Array, start: number, limit: number, maxBytes: number, maxRecords: number): RecordBatch {
  let end = start;
  let records = 0;
  let raft = 0;
  while (end < limit && records < maxRecords) {
    const bodyLength = recordBodyLength(buf, end);
    const span = varintSize(bodyLength) + bodyLength;
    if (records > 0 && end + span - start > maxBytes) break;
    if (buf[end + span - bodyLength]! <= MAX_MESSAGE_TAG) raft++;
    end += span;
    records++;
  }
  return { end, records, raft };
}

/** Body length of the record starting at `at` in a buffer we wrote ourselves. */
function recordBodyLength(buf: Uint8Array, at: number): number {
  let length = 0;
  let scale = 1;
  for (let pos = at; ; pos++) {
    const byte = buf[pos]!;
    length += (byte & 0x7f) * scale;
    if (byte < 0x80) return length;
    scale *= 0x80;
  }
}

export function writeRequest(w: ByteWriter, id: number, kind: string, payload: Uint8Array): void {
  w.u8(TAG_REQUEST);
  w.varint(id);
  w.string(kind);
  w.raw(payload);
}

export interface RequestRecord {
  readonly id: number;
  readonly kind: string;
  readonly payload: Uint8Array;
}

/** Reads a REQUEST record whose tag byte was already consumed. */
export function readRequest(r: ByteReader): RequestRecord {
  const id = r.varint();
  const kind = r.string(MAX_KIND_BYTES);
  return { id, kind, payload: r.rawView(r.remaining) };
}

export function writeOkResponse(w: ByteWriter, id: number, payload: Uint8Array): void {
  w.u8(TAG_RESPONSE);
  w.varint(id);
  w.u8(0);
  w.raw(payload);
}

export function writeErrorResponse(w: ByteWriter, id: number, code: string, message: string): void {
  w.u8(TAG_RESPONSE);
  w.varint(id);
  w.u8(1);
  w.string(code);
  w.string(message.length > MAX_ERROR_MESSAGE_BYTES / 4 ? message.slice(0, MAX_ERROR_MESSAGE_BYTES / 4) : message);
}

export type ResponseRecord =
  | { readonly id: number; readonly ok: true; readonly payload: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

/** Reads a RESPONSE record whose tag byte was already consumed. */
export function readResponse(r: ByteReader): ResponseRecord {
  const id = r.varint();
  const status = r.u8();
  if (status === 0) return { id, ok: true, payload: r.rawView(r.remaining) };
  if (status !== 1) throw new CodecError(`bad response status ${status}`);
  const code = r.string(MAX_KIND_BYTES);
  const message = r.string(MAX_ERROR_MESSAGE_BYTES);
  r.expectEnd();
  return { id, ok: false, code, message };
}
