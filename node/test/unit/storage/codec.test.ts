// Record codec, CRC-32C, segment header and snapshot file format: round trips and rejections.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c, crc32cUpdate } from '../../../src/storage/crc32c.js';
import {
  FRAME_HEADER_BYTES,
  entryFrameBytes,
  hardStateFrameBytes,
  readFrame,
  writeEntryFrame,
  writeHardStateFrame,
  writeSnapshotFrame,
  SNAPSHOT_FRAME_BYTES,
} from '../../../src/storage/codec.js';
import { checkSegmentHeader, encodeSegmentHeader, parseSegmentName, segmentName } from '../../../src/storage/segment.js';
import { decodeSnapshotFile, encodeSnapshotFile } from '../../../src/storage/snapshot-file.js';
import type { StorageError } from '../../../src/storage/errors.js';
import { entry, snapshot } from './helpers.js';

const MAX = 1 << 20;

test('crc32c matches the standard check value and continues across chunks', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const data = Buffer.from('the quick brown fox jumps over the lazy dog, twice over');
  for (const cut of [0, 1, 7, 8, 9, 30, data.length]) {
    assert.equal(crc32cUpdate(crc32c(data, 0, cut), data, cut), crc32c(data));
  }
});

test('entry, hard state and snapshot records round-trip back to back', () => {
  const e1 = { ...entry(1, 1), type: 'conf' as const };
  const e2 = { index: 2 ** 40, term: 2 ** 33, type: 'normal' as const, data: new Uint8Array(0) };
  const hs = { term: 7, vote: 'nœud-2', commit: 12 };
  const hsNoVote = { term: 8, vote: null, commit: 13 };
  const mark = { index: 99, term: 5, reset: true };
  const size = entryFrameBytes(e1) + entryFrameBytes(e2) + hardStateFrameBytes(hs) + hardStateFrameBytes(hsNoVote) + SNAPSHOT_FRAME_BYTES;
  const buf = Buffer.alloc(size);
  let off = writeEntryFrame(buf, 0, e1);
  off = writeEntryFrame(buf, off, e2);
  off = writeHardStateFrame(buf, off, hs);
  off = writeHardStateFrame(buf, off, hsNoVote);
  off = writeSnapshotFrame(buf, off, mark);
  assert.equal(off, size);
  const got = [];
  for (let p = 0; p < size; ) {
    const r = readFrame(buf, p, size, MAX);
    assert.equal(r.status, 'ok');
    if (r.status !== 'ok') return;
    got.push(r.record);
    p = r.next;
  }
  assert.deepEqual(got, [
    { kind: 'entry', entry: { ...e1, data: new Uint8Array(e1.data) } },
    { kind: 'entry', entry: e2 },
    { kind: 'hardState', hardState: hs },
    { kind: 'hardState', hardState: hsNoVote },
    { kind: 'snapshot', mark },
  ]);
});

test('a cut frame reads as truncated, a flipped bit or zeros as invalid', () => {
  const e = entry(3, 2, 'payload');
  const buf = Buffer.alloc(entryFrameBytes(e));
  writeEntryFrame(buf, 0, e);
  for (const cut of [0, 3, FRAME_HEADER_BYTES, buf.length - 1]) assert.equal(readFrame(buf, 0, cut, MAX).status, 'truncated');
  for (const bit of [0, 5 * 8 + 1, 8 * 8, buf.length * 8 - 1]) {
    const bad = Buffer.from(buf);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    const r = readFrame(bad, 0, bad.length, MAX);
    assert.ok(r.status !== 'ok', `bit ${bit} flipped must not verify`);
  }
  assert.equal(readFrame(Buffer.alloc(64), 0, 64, MAX).status, 'invalid');
  assert.equal(readFrame(buf, 0, buf.length, buf.length - 1).status, 'invalid'); // over the length bound
});

test('segment names and headers: round trip, foreign version refused with a message saying so', () => {
  assert.equal(segmentName(26), '000000000000001a.wal');
  assert.equal(parseSegmentName('000000000000001a.wal'), 26);
  assert.equal(parseSegmentName('1a.wal'), null);
  const h = encodeSegmentHeader(26);
  checkSegmentHeader(h, 'f', 26);
  assert.throws(() => checkSegmentHeader(h, 'f', 27), (e: StorageError) => e.code === 'STORAGE_CORRUPT' && e.offset === 12);
  const v2 = Buffer.from(h);
  v2.writeUInt32LE(2, 8);
  assert.throws(
    () => checkSegmentHeader(v2, 'dir/x.wal', 26),
    (e: StorageError) => e.code === 'STORAGE_VERSION' && /format version 2.*reads version 1.*incompatible/.test(e.message) && /dir\/x\.wal/.test(e.message),
  );
  const flipped = Buffer.from(h);
  flipped[15]! ^= 0x10;
  assert.throws(() => checkSegmentHeader(flipped, 'f', 26), (e: StorageError) => e.code === 'STORAGE_CORRUPT');
});

test('snapshot files round-trip and refuse any damage with the offset', () => {
  const s = snapshot(42, 3, 'x'.repeat(1000));
  const bytes = Buffer.concat(encodeSnapshotFile(s));
  assert.deepEqual(decodeSnapshotFile(bytes, 'f'), { meta: s.meta, data: new Uint8Array(s.data) });
  const bad = Buffer.from(bytes);
  bad[500]! ^= 1;
  assert.throws(() => decodeSnapshotFile(bad, 'dir/s.snap'), (e: StorageError) => e.code === 'STORAGE_CORRUPT' && e.file === 'dir/s.snap' && e.offset === bytes.length - 4);
  assert.throws(() => decodeSnapshotFile(bytes.subarray(0, bytes.length - 1), 'f'), (e: StorageError) => e.code === 'STORAGE_CORRUPT');
});
