// Byte-level building blocks of the peer wire format: a growable writer and a bounds-checked
// reader for u8, unsigned LEB128 varints (up to 2^53 - 1), length-prefixed UTF-8 strings and
// length-prefixed byte strings. The reader throws `CodecError` for anything malformed and never
// allocates more than the input it was given; the writer asserts that values are in range.
import assert from 'node:assert';
import { CodecError } from './errors.js';

/** Longest varint accepted: 8 groups of 7 bits cover Number.MAX_SAFE_INTEGER (53 bits). */
const MAX_VARINT_BYTES = 8;
/** Writer buffers start at this size and double as needed. */
const INITIAL_WRITER_BYTES = 1024;

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

export class ByteWriter {
  private buf: Buffer;
  pos = 0;

  constructor(initialBytes = INITIAL_WRITER_BYTES) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** The bytes written so far (a view: valid until the next write or reset). */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end);
  }

  /** A copy of the bytes in [start, end): safe to hand to a socket while the writer is reused. */
  copy(start = 0, end = this.pos): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    this.buf.copy(out, 0, start, end);
    return out;
  }

  /** Forgets everything after `pos` (rollback of a partly written record, or reset with 0). */
  truncate(pos: number): void {
    assert(pos >= 0 && pos <= this.pos, 'truncate beyond written bytes');
    this.pos = pos;
  }

  /** Empty writer only: gives back a buffer that grew beyond `maxBytes` (after a rare huge record). */
  shrinkTo(maxBytes: number): void {
    assert(this.pos === 0, 'shrinkTo on a non-empty writer');
    if (this.buf.length > maxBytes) this.buf = Buffer.allocUnsafe(INITIAL_WRITER_BYTES);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  varint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, `varint out of range: ${value}`);
    this.ensure(MAX_VARINT_BYTES);
    const buf = this.buf;
    let pos = this.pos;
    while (value >= 0x80) {
      buf[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  /** Writes `value` as a varint into exactly the bytes at [at, at + varintSize(value)). */
  varintAt(at: number, value: number): void {
    const saved = this.pos;
    this.pos = at;
    this.varint(value);
    this.pos = saved;
  }

  string(value: string): void {
    const size = Buffer.byteLength(value, 'utf8');
    this.varint(size);
    this.ensure(size);
    this.pos += this.buf.write(value, this.pos, size, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.raw(value);
  }

  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Moves [from, pos) by `shift` bytes towards the end (room for a longer length prefix). */
  shiftTail(from: number, shift: number): void {
    this.ensure(shift);
    this.buf.copyWithin(from + shift, from, this.pos);
    this.pos += shift;
  }
}

export class ByteReader {
  /** A Buffer view of the same memory, for fast latin1 decoding of ASCII strings. */
  private readonly text: Buffer;

  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    public end = buf.length,
  ) {
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new CodecError('truncated: expected a byte');
    return this.buf[this.pos++]!;
  }

  bool(): boolean {
    const value = this.u8();
    if (value > 1) throw new CodecError(`bad boolean ${value}`);
    return value === 1;
  }

  /** Canonical (shortest form) unsigned LEB128 up to Number.MAX_SAFE_INTEGER. */
  varint(): number {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) throw new CodecError('truncated varint');
      const byte = buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) throw new CodecError('non-canonical varint');
        if (value > Number.MAX_SAFE_INTEGER) throw new CodecError('varint exceeds 2^53 - 1');
        return value;
      }
      scale *= 0x80;
    }
    throw new CodecError('varint too long');
  }

  /** A varint that must also be at most `max` (counts and lengths). */
  boundedVarint(max: number, what: string): number {
    const value = this.varint();
    if (value > max) throw new CodecError(`${what} ${value} exceeds ${max}`);
    return value;
  }

  string(maxBytes: number): string {
    const size = this.boundedVarint(Math.min(maxBytes, this.remaining), 'string length');
    const start = this.pos;
    const end = start + size;
    this.pos = end;
    const buf = this.buf;
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        try {
          return utf8Strict.decode(buf.subarray(start, end));
        } catch {
          throw new CodecError('invalid UTF-8 string');
        }
      }
    }
    return this.text.toString('latin1', start, end);
  }

  /** Length-prefixed bytes, returned as a plain Uint8Array view that shares the input's memory. */
  bytes(maxBytes: number): Uint8Array {
    const size = this.boundedVarint(Math.min(maxBytes, this.remaining), 'byte string length');
    return this.rawView(size);
  }

  /** Exactly `size` bytes as a plain Uint8Array view (no copy). */
  rawView(size: number): Uint8Array {
    if (size > this.remaining) throw new CodecError('truncated bytes');
    const view = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, size);
    this.pos += size;
    return view;
  }

  expectEnd(): void {
    if (this.pos !== this.end) throw new CodecError(`${this.end - this.pos} trailing bytes`);
  }
}
