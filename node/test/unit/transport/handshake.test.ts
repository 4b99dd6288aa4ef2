// The handshake messages on the wire: each is written and read back field for field, in the byte
// layout handshake.ts documents; a record cut short, one with a byte too many and one with another
// message's tag are refused with a CodecError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteReader, ByteWriter } from '../../../src/transport/bytes.js';
import { CodecError } from '../../../src/transport/errors.js';
import {
  NONCE_BYTES, PROOF_BYTES, PROTOCOL_VERSION, TAG_AUTH, TAG_CHALLENGE, TAG_HELLO, TAG_WELCOME,
  readAuth, readChallenge, readHelloBody, readHelloVersion, readWelcome, writeAuth, writeChallenge, writeHello, writeWelcome,
} from '../../../src/transport/handshake.js';

const bytes = (size: number, fill: number): Uint8Array => new Uint8Array(size).fill(fill);
const written = (write: (w: ByteWriter) => void): Uint8Array => {
  const w = new ByteWriter(16);
  write(w);
  return w.copy();
};

const hello = { version: PROTOCOL_VERSION, clusterId: 'prod', dialerId: 'n1', listenerId: 'n2', nonce: bytes(NONCE_BYTES, 7) };
const challenge = { listenerId: 'n2', nonce: bytes(NONCE_BYTES, 8), proof: bytes(PROOF_BYTES, 9) };
const proof = bytes(PROOF_BYTES, 10);

/** Each message: its bytes, and how to read it back (tag included). */
const messages: readonly [string, Uint8Array, (r: ByteReader) => unknown, unknown][] = [
  ['HELLO', written((w) => writeHello(w, hello)), (r) => {
    assert.equal(readHelloVersion(r), PROTOCOL_VERSION);
    return readHelloBody(r);
  }, hello],
  ['CHALLENGE', written((w) => writeChallenge(w, challenge)), readChallenge, challenge],
  ['AUTH', written((w) => writeAuth(w, proof)), readAuth, proof],
  ['WELCOME', written(writeWelcome), readWelcome, undefined],
];

test('the handshake messages have the documented byte layout', () => {
  const str = (s: string): number[] => [s.length, ...Buffer.from(s)];
  assert.deepEqual([...messages[0]![1]], [TAG_HELLO, PROTOCOL_VERSION, ...str('prod'), ...str('n1'), ...str('n2'), ...hello.nonce]);
  assert.deepEqual([...messages[1]![1]], [TAG_CHALLENGE, ...str('n2'), ...challenge.nonce, ...challenge.proof]);
  assert.deepEqual([...messages[2]![1]], [TAG_AUTH, ...proof]);
  assert.deepEqual([...messages[3]![1]], [TAG_WELCOME]);
});

test('each handshake message reads back what was written', () => {
  for (const [name, encoded, read, expected] of messages) {
    const got = read(new ByteReader(encoded));
    assert.deepEqual(got instanceof Uint8Array ? new Uint8Array(got) : got, expected, name);
  }
});

test('a handshake message cut short, with a byte too many or under another tag is refused', () => {
  const refused = (buf: Uint8Array, read: (r: ByteReader) => unknown, why: string): void => {
    assert.throws(() => read(new ByteReader(buf)), CodecError, why);
  };
  for (const [name, encoded, read] of messages) {
    if (encoded.length > 1) refused(encoded.subarray(0, encoded.length - 1), read, `${name} cut short`);
    refused(Buffer.concat([encoded, Buffer.from([0])]), read, `${name} with a byte too many`);
    refused(Buffer.concat([Buffer.from([0x34]), encoded.subarray(1)]), read, `${name} under another tag`);
  }
});
