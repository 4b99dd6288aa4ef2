// The few DER (ASN.1 Distinguished Encoding Rules) encoders an X.509 certificate needs: tag,
// length, value, and the types x509.ts uses. Encoding only; nothing here parses (Node's
// X509Certificate reads certificates back).
import assert from 'node:assert/strict';

export function tlv(tag: number, content: Buffer): Buffer {
  assert.ok(Number.isInteger(tag) && tag >= 0 && tag <= 0xff, 'DER tag must be one byte');
  const n = content.length;
  let header: Buffer;
  if (n < 0x80) {
    header = Buffer.from([tag, n]);
  } else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
export const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
/** [n] EXPLICIT: a constructed context tag around a whole encoding. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT of a primitive type: the bytes under a context tag. */
export const implicit = (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes);

/** A BIT STRING of whole bytes, or of `bits` bits (the rest of the last byte unused). */
export function bitString(bytes: Buffer, bits = bytes.length * 8): Buffer {
  const unused = bytes.length * 8 - bits;
  assert.ok(unused >= 0 && unused < 8, 'BIT STRING: bits must fall in the last byte');
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** A non-negative INTEGER from its big-endian magnitude. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return tlv(0x02, trimmed.length > 0 && (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed.length === 0 ? [0] : trimmed));
}

export const smallInteger = (value: number): Buffer => {
  assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 31, 'smallInteger out of range');
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return unsignedInteger(Buffer.from(bytes));
};

export function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  assert.ok(arcs.length >= 2 && arcs.every((a) => Number.isSafeInteger(a) && a >= 0) && arcs[0]! <= 2, `bad OID ${dotted}`);
  const out: number[] = [];
  for (const subidentifier of [40 * arcs[0]! + arcs[1]!, ...arcs.slice(2)]) {
    const chunk: number[] = [subidentifier % 128];
    for (let rest = Math.floor(subidentifier / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift(0x80 | (rest % 128));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5); whole seconds, UTC. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  assert.ok(year >= 1950 && year <= 9999, 'certificate time out of range');
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}
