// Codec tests: every message type round-trips exactly; malformed input is refused with a coded
// CodecError; a seeded fuzz (random bytes and mutated valid frames) never crashes, hangs or
// accepts a frame that does not re-encode to the same bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteWriter } from '../../../src/transport/bytes.js';
import { decodeMessage, encodeMessage, MAX_STRING_BYTES } from '../../../src/transport/codec.js';
import { CodecError } from '../../../src/transport/errors.js';
import type { Message } from '../../../src/raft/types.js';
import { sampleMessages, seededRandom } from './samples.js';

function assertBadFrame(buf: Uint8Array, why: string): void {
  assert.throws(
    () => decodeMessage(buf),
    (err: unknown) => err instanceof CodecError && err.code === 'BAD_FRAME',
    why,
  );
}

test('every message type round-trips exactly', () => {
  const samples = sampleMessages();
  const types = new Set(samples.map((m) => m.type));
  assert.equal(types.size, 12, 'the samples cover all 12 message types');
  for (const msg of samples) {
    const encoded = encodeMessage(msg);
    assert.deepStrictEqual(decodeMessage(encoded), msg, msg.type);
    assert.deepStrictEqual(encodeMessage(decodeMessage(encoded)), encoded, `${msg.type} re-encodes identically`);
  }
});

test('an address map keyed "__proto__" stays an own key', () => {
  const addresses = JSON.parse('{"__proto__":"h:1","n2":"h:2"}') as Record<string, string>;
  const msg: Message = {
    type: 'snapshot',
    from: 'a',
    to: 'b',
    term: 1,
    snapshot: { meta: { index: 1, term: 1, conf: { voters: ['__proto__'], learners: [], addresses } }, data: new Uint8Array(0) },
  };
  const decoded = decodeMessage(encodeMessage(msg));
  assert.equal(decoded.type, 'snapshot');
  if (decoded.type !== 'snapshot') return;
  assert.deepStrictEqual(Object.keys(decoded.snapshot.meta.conf.addresses), ['__proto__', 'n2']);
  assert.equal(Object.getPrototypeOf(decoded.snapshot.meta.conf.addresses), Object.prototype);
});

test('the encoding is compact: a heartbeat is a dozen bytes, a small append its data plus ~20', () => {
  const heartbeat = encodeMessage({ type: 'heartbeat', from: 'n1', to: 'n2', term: 5, commit: 1000, context: '' });
  assert.ok(heartbeat.length <= 12, `heartbeat is ${heartbeat.length} bytes`);
  const append = encodeMessage({
    type: 'append',
    from: 'catga-0',
    to: 'catga-1',
    term: 5,
    prevIndex: 100_000,
    prevTerm: 5,
    commit: 99_999,
    entries: [{ term: 5, index: 100_001, type: 'normal', data: new Uint8Array(64) }],
  });
  assert.ok(append.length <= 64 + 40, `append is ${append.length} bytes`);
});

test('truncated frames are refused at every length', () => {
  for (const msg of sampleMessages()) {
    const encoded = encodeMessage(msg);
    for (let cut = 0; cut < encoded.length; cut++) assertBadFrame(encoded.subarray(0, cut), `${msg.type} cut at ${cut}`);
  }
});

test('trailing bytes, unknown tags and out-of-range values are refused', () => {
  const vote = encodeMessage(sampleMessages()[0]!);
  assertBadFrame(Uint8Array.from([...vote, 0]), 'trailing byte');
  for (const tag of [0, 13, 0x20, 0x7f, 0xff]) assertBadFrame(Uint8Array.from([tag, ...vote.subarray(1)]), `tag ${tag}`);

  const boolAt = vote.length - 1; // vote ends with the `transfer` boolean
  assertBadFrame(Uint8Array.from([...vote.subarray(0, boolAt), 2]), 'boolean 2');

  const w = new ByteWriter();
  w.u8(7); // heartbeat
  w.string('a');
  w.string('b');
  w.raw(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])); // 2^56 - 1 > 2^53 - 1
  assertBadFrame(w.copy(), 'term beyond 2^53 - 1');

  const overlong = new ByteWriter();
  overlong.u8(10);
  overlong.string('a');
  overlong.string('b');
  overlong.raw(Uint8Array.from([0x81, 0x00])); // 1 written in two bytes
  assertBadFrame(overlong.copy(), 'non-canonical varint');

  const nine = new ByteWriter();
  nine.u8(10);
  nine.string('a');
  nine.string('b');
  nine.raw(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
  assertBadFrame(nine.copy(), 'nine-byte varint');

  const longId = new ByteWriter();
  longId.u8(10);
  longId.string('x'.repeat(MAX_STRING_BYTES + 1));
  longId.string('b');
  longId.varint(1);
  assertBadFrame(longId.copy(), 'oversized id');

  const badUtf8 = new ByteWriter();
  badUtf8.u8(10);
  badUtf8.bytes(Uint8Array.from([0xc3, 0x28]));
  badUtf8.string('b');
  badUtf8.varint(1);
  assertBadFrame(badUtf8.copy(), 'invalid UTF-8');

  const hugeCount = new ByteWriter();
  hugeCount.u8(5);
  hugeCount.string('a');
  hugeCount.string('b');
  for (let i = 0; i < 4; i++) hugeCount.varint(1);
  hugeCount.varint(Number.MAX_SAFE_INTEGER); // entry count far beyond what the bytes can hold
  assertBadFrame(hugeCount.copy(), 'entry count beyond the frame');

  const badEntryType = new ByteWriter();
  badEntryType.u8(5);
  badEntryType.string('a');
  badEntryType.string('b');
  for (let i = 0; i < 4; i++) badEntryType.varint(1);
  badEntryType.varint(1);
  badEntryType.varint(1);
  badEntryType.varint(1);
  badEntryType.u8(2);
  badEntryType.bytes(new Uint8Array(0));
  assertBadFrame(badEntryType.copy(), 'entry type 2');
});

/** Decodes `buf`: either a CodecError, or a message that re-encodes to exactly `buf`. */
function checkFuzzCase(buf: Uint8Array, label: string): 'accepted' | 'refused' {
  let msg: Message;
  try {
    msg = decodeMessage(buf);
  } catch (err) {
    if (err instanceof CodecError && err.code === 'BAD_FRAME') return 'refused';
    throw new Error(`${label}: decoder threw a non-codec error: ${String(err)}`);
  }
  assert.deepStrictEqual(Buffer.from(encodeMessage(msg)), Buffer.from(buf), `${label}: accepted frame is not canonical`);
  return 'accepted';
}

test('fuzz: random bytes never crash the decoder (seeded, 20k cases)', () => {
  const random = seededRandom(0xc47a);
  let refused = 0;
  const started = Date.now();
  for (let i = 0; i < 20_000; i++) {
    const length = Math.floor(random() * 64);
    const buf = new Uint8Array(length);
    for (let j = 0; j < length; j++) buf[j] = Math.floor(random() * 256);
    // Half of the cases start with a valid tag so that they get past the first byte.
    if (length > 0 && i % 2 === 0) buf[0] = 1 + Math.floor(random() * 12);
    if (checkFuzzCase(buf, `random case ${i}`) === 'refused') refused++;
  }
  assert.ok(refused > 10_000, `most random inputs are refused (${refused})`);
  assert.ok(Date.now() - started < 20_000, 'bounded time');
});

test('fuzz: mutated valid frames are refused or decode canonically (seeded, 30k cases)', () => {
  const random = seededRandom(0x5eed);
  const valid = sampleMessages().map((m) => encodeMessage(m));
  const outcomes = { accepted: 0, refused: 0 };
  for (let i = 0; i < 30_000; i++) {
    const base = valid[i % valid.length]!;
    const buf = Uint8Array.from(base);
    const mutation = Math.floor(random() * 4);
    let mutated: Uint8Array = buf;
    if (mutation === 0) {
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) buf[Math.floor(random() * buf.length)]! ^= 1 << Math.floor(random() * 8);
    } else if (mutation === 1) {
      buf[Math.floor(random() * buf.length)] = Math.floor(random() * 256);
    } else if (mutation === 2) {
      mutated = buf.subarray(0, Math.floor(random() * buf.length));
    } else {
      const at = Math.floor(random() * buf.length);
      const insert = Uint8Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * 256));
      mutated = Uint8Array.from([...buf.subarray(0, at), ...insert, ...buf.subarray(at)]);
    }
    outcomes[checkFuzzCase(mutated, `mutation case ${i}`)]++;
  }
  assert.ok(outcomes.refused > 1000 && outcomes.accepted > 1000, `both outcomes occur: ${JSON.stringify(outcomes)}`);
});
