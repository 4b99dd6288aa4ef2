// FileStorage over the in-memory file system: rollover, truncation, compaction, snapshot install,
// hard state, group commit, limits, and the refusals (corruption, missing segment, version, lock, EIO).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemFileSystem, openFileStorage, type StorageOptions, StorageError } from '../../../src/storage/index.js';
import { SEGMENT_HEADER_BYTES, segmentName } from '../../../src/storage/segment.js';
import { entryFrameBytes, hardStateFrameBytes, writeEntryFrame } from '../../../src/storage/codec.js';
import { snapshotName } from '../../../src/storage/snapshot-file.js';
import { describe as show, entries, entry, prng, snapshot } from './helpers.js';

const DIR = '/data';
const SMALL: Partial<StorageOptions> = { maxSegmentBytes: 1024, maxRecordBytes: 512 };

function memfs(): MemFileSystem {
  return new MemFileSystem({ random: prng(1) });
}

async function reopen(fs: MemFileSystem, opts: Partial<StorageOptions> = SMALL) {
  const s = openFileStorage(DIR, opts, fs);
  return { s, r: await s.open() };
}

function segments(fs: MemFileSystem): Promise<string[]> {
  return fs.readdir(DIR).then((n) => n.filter((x) => x.endsWith('.wal')));
}

test('a fresh directory recovers empty; saves come back after a clean reopen', async () => {
  const fs = memfs();
  const { s, r } = await reopen(fs);
  const { incarnation, ...rest } = r;
  assert.match(incarnation, /^[0-9a-f]{16}$/);
  assert.deepEqual(rest, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], tornRecordsDropped: 0 });
  await s.save(null, entries(1, 3, 1), { term: 1, vote: 'n1', commit: 2 });
  await s.save(null, entries(4, 4, 1), null);
  await s.close();
  const { r: r2 } = await reopen(fs);
  assert.equal(show(r2), show({ hardState: { term: 1, vote: 'n1', commit: 2 }, snapshot: null, entries: entries(1, 4, 1) }));
  assert.equal(r2.incarnation, incarnation, 'the incarnation survives a restart');
});

test('a wiped directory comes back as a new incarnation', async () => {
  const first = await reopen(memfs());
  await first.s.close();
  const again = await reopen(memfs());
  assert.notEqual(again.r.incarnation, first.r.incarnation);
  await again.s.close();
});

test('a WAL without its incarnation file, or with a damaged one, is refused and left untouched', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 2, 1), { term: 1, vote: null, commit: 1 });
  await s.close();
  const file = `${DIR}/incarnation`;
  const good = fs.peek(file);
  const damaged = Buffer.from(good);
  damaged[0] = damaged[0] === 0x30 ? 0x31 : 0x30;
  for (const [what, bytes] of [['damaged', damaged], ['missing', null]] as const) {
    if (bytes === null) await fs.unlink(file);
    else {
      const fh = await fs.open(file, 'createOrTruncate');
      await fh.writev([bytes], 0);
      await fh.sync();
      await fh.close();
    }
    await assert.rejects(reopen(fs), (err: unknown) => err instanceof StorageError && err.code === 'STORAGE_CORRUPT' && err.message.includes('incarnation'), what);
    assert.equal((await segments(fs)).length, 1, `${what}: the WAL is left in place`);
  }
});

test('segments roll over at maxSegmentBytes and recovery reads across them', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  for (let i = 1; i <= 60; i++) await s.save(null, [entry(i, 1, 'x'.repeat(40))], { term: 1, vote: null, commit: i - 1 });
  const segs = await segments(fs);
  assert.ok(segs.length >= 5, `expected several segments, got ${segs.length}`);
  for (const name of segs.slice(0, -1)) assert.ok(fs.peek(`${DIR}/${name}`).length <= 1024, `${name} within the segment size`);
  await s.close();
  const { r } = await reopen(fs);
  assert.equal(r.entries.length, 60);
  assert.deepEqual(r.hardState, { term: 1, vote: null, commit: 59 });
});

test('an entry at a stored index replaces it and everything after, also across segments', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  for (let i = 1; i <= 30; i++) await s.save(null, [entry(i, 1, 'y'.repeat(40))], null);
  await s.save(null, entries(12, 13, 2), { term: 2, vote: 'n2', commit: 11 });
  await s.close();
  const { r } = await reopen(fs);
  assert.deepEqual(
    r.entries.map((e) => `${e.index}/${e.term}`),
    [...Array.from({ length: 11 }, (_, i) => `${i + 1}/1`), '12/2', '13/2'],
  );
});

test('saves that break the log contract are refused before anything is written', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 5, 1), null);
  const before = fs.mutationCount;
  const refuse = (p: Promise<void>, code: string) => assert.rejects(p, (e: StorageError) => e.code === code);
  await refuse(s.save(null, [entry(7, 1)], null), 'STORAGE_INVALID_ARGUMENT'); // gap
  await refuse(s.save(null, [entry(6, 1), entry(8, 1)], null), 'STORAGE_INVALID_ARGUMENT'); // not contiguous
  await refuse(s.save(null, [entry(6, 1), entry(7, 1, 'z'.repeat(600))], null), 'STORAGE_RECORD_TOO_LARGE');
  await refuse(s.saveSnapshot(snapshot(9, 1), 9), 'STORAGE_INVALID_ARGUMENT'); // beyond the log
  assert.equal(fs.mutationCount, before, 'a refused save writes nothing');
  await s.save(null, [entry(6, 1)], null); // still usable
  await s.close();
  assert.equal((await reopen(fs)).r.entries.length, 6);
});

test('the default record limit is 16 MiB and refuses a bigger entry with a clear error', async () => {
  const fs = memfs();
  const s = openFileStorage(DIR, {}, fs);
  await s.open();
  await assert.rejects(s.save(null, [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(16 * 1024 * 1024) }], null), (e: StorageError) => {
    return e.code === 'STORAGE_RECORD_TOO_LARGE' && /maxRecordBytes 16777216/.test(e.message);
  });
  await s.close();
});

test('a snapshot the node took compacts the log behind it; older snapshots go once the new one is durable', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  for (let i = 1; i <= 60; i++) await s.save(null, [entry(i, 1, 'x'.repeat(40))], { term: 1, vote: null, commit: i });
  const segsBefore = (await segments(fs)).length;
  await s.saveSnapshot(snapshot(20, 1), 20);
  await s.saveSnapshot(snapshot(50, 1), 45);
  const names = await fs.readdir(DIR);
  assert.deepEqual(names.filter((n) => n.endsWith('.snap')), [snapshotName(50, 1)]);
  assert.ok((await segments(fs)).length < segsBefore, 'covered segments removed');
  await s.save(null, [entry(61, 1)], null);
  await s.close();
  const { r } = await reopen(fs);
  assert.equal(r.snapshot?.meta.index, 50);
  assert.deepEqual(Buffer.from(r.snapshot!.data).toString(), 'state@50');
  assert.deepEqual(
    r.entries.map((e) => e.index),
    Array.from({ length: 11 }, (_, i) => 51 + i),
  );
  assert.deepEqual(r.hardState, { term: 1, vote: null, commit: 60 });
});

test('a snapshot from a leader replaces log and state; everything older is removed', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  for (let i = 1; i <= 40; i++) await s.save(null, [entry(i, 1, 'x'.repeat(40))], { term: 1, vote: null, commit: 5 });
  await s.save(snapshot(100, 3), entries(101, 102, 3), { term: 3, vote: null, commit: 100 });
  assert.equal((await segments(fs)).length, 1);
  await s.close();
  const { r } = await reopen(fs);
  assert.equal(show(r), show({ hardState: { term: 3, vote: null, commit: 100 }, snapshot: snapshot(100, 3), entries: entries(101, 102, 3) }));
});

test('concurrent saves are group-committed: many saves, few fsyncs, resolved in call order', async () => {
  const fs = memfs();
  const { s } = await reopen(fs, {});
  const before = s.stats().fsyncs;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 100 }, (_, i) => s.save(null, [entry(i + 1, 1)], { term: 1, vote: null, commit: i }).then(() => order.push(i))));
  assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i));
  const used = s.stats().fsyncs - before;
  assert.ok(used <= 2, `100 concurrent saves took ${used} fsyncs`);
  assert.equal(s.stats().savesCommitted, 100);
  await s.close();
});

test('an fsync failure stops the storage: that save and every later one are refused, nothing more is written', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 2, 1), null);
  fs.failFsync(1);
  const failed = s.save(null, [entry(3, 1)], null);
  const queued = s.save(null, [entry(4, 1)], null);
  await assert.rejects(failed, (e: StorageError) => e.code === 'STORAGE_FAILED' && /EIO/.test(e.message));
  await assert.rejects(queued, (e: StorageError) => e.code === 'STORAGE_FAILED');
  const writes = fs.mutationCount;
  await assert.rejects(s.save(null, [entry(3, 1)], null), (e: StorageError) => e.code === 'STORAGE_FAILED');
  await assert.rejects(s.saveSnapshot(snapshot(2, 1), 2), (e: StorageError) => e.code === 'STORAGE_FAILED');
  assert.equal(fs.mutationCount, writes, 'no write after the failed fsync');
});

test('a torn tail (cut record, or zeros) is cut off and counted; the log continues after it', async () => {
  for (const tail of ['cut', 'zeros'] as const) {
    const fs = memfs();
    const { s } = await reopen(fs, {});
    await s.save(null, entries(1, 3, 1), null);
    await s.close();
    const seg = `${DIR}/${segmentName(1)}`;
    const len = fs.peek(seg).length;
    const e4 = entry(4, 1, 'a'.repeat(100));
    const frame = Buffer.alloc(entryFrameBytes(e4));
    writeEntryFrame(frame, 0, e4);
    fs.corrupt(seg, len, tail === 'cut' ? frame.subarray(0, 60) : Buffer.alloc(60));
    const s2 = openFileStorage(DIR, {}, fs);
    const r = await s2.open();
    assert.equal(r.entries.length, 3, tail);
    assert.equal(r.tornRecordsDropped, 1, tail);
    assert.equal(fs.peek(seg).length, len, 'the torn bytes are cut off the file');
    await s2.save(null, [entry(4, 2)], null);
    await s2.close();
    const { s: s3, r: r3 } = await reopen(fs, {});
    assert.equal(r3.entries.length, 4);
    assert.equal(r3.tornRecordsDropped, 0);
    await s3.close();
  }
});

test('a flipped length field in the last segment is corruption, not a tear: later records are not dropped', async () => {
  const fs = memfs();
  const { s } = await reopen(fs, {});
  for (let i = 1; i <= 5; i++) await s.save(null, [entry(i, 1)], null);
  await s.close();
  const seg = `${DIR}/${segmentName(1)}`;
  const second = SEGMENT_HEADER_BYTES + hardStateFrameBytes({ term: 0, vote: null, commit: 0 }) + entryFrameBytes(entry(1, 1));
  fs.corrupt(seg, second + 4 + 3, Buffer.from([0x40])); // length field of entry 2 now claims ~1 GiB
  await assert.rejects(reopen(fs, {}), (e: StorageError) => e.code === 'STORAGE_CORRUPT' && e.offset === second && /valid record after it/.test(e.message));
});

test('corruption before the tail refuses to start, names file and offset, leaves the data untouched', async () => {
  const fs = memfs();
  const { s } = await reopen(fs, {});
  for (let i = 1; i <= 5; i++) await s.save(null, [entry(i, 1)], null);
  await s.close();
  const seg = `${DIR}/${segmentName(1)}`;
  const before = fs.peek(seg);
  const off = SEGMENT_HEADER_BYTES + 60;
  fs.corrupt(seg, off, Buffer.from([before[off]! ^ 0xff]));
  const damaged = fs.peek(seg);
  const names = await fs.readdir(DIR);
  await assert.rejects(openFileStorage(DIR, {}, fs).open(), (e: StorageError) => {
    return e.code === 'STORAGE_CORRUPT' && e.file === seg && e.offset !== null && e.offset <= off && e.message.includes(seg) && e.message.includes(`offset ${e.offset}`);
  });
  assert.deepEqual(fs.peek(seg), damaged);
  assert.deepEqual(await fs.readdir(DIR), names);
});

test('a missing segment refuses to start and names it', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  for (let i = 1; i <= 60; i++) await s.save(null, [entry(i, 1, 'x'.repeat(40))], null);
  await s.close();
  await fs.unlink(`${DIR}/${segmentName(2)}`);
  await assert.rejects(reopen(fs), (e: StorageError) => e.code === 'STORAGE_MISSING_SEGMENT' && e.message.includes(segmentName(2)));
});

test('a missing or damaged snapshot file refuses to start', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 10, 1), null);
  await s.saveSnapshot(snapshot(8, 1), 8);
  await s.close();
  const path = `${DIR}/${snapshotName(8, 1)}`;
  fs.corrupt(path, 50, Buffer.from([0xee]));
  await assert.rejects(reopen(fs), (e: StorageError) => e.code === 'STORAGE_CORRUPT' && e.file === path);
  await fs.unlink(path);
  await assert.rejects(reopen(fs), (e: StorageError) => e.code === 'STORAGE_CORRUPT' && e.message.includes('missing'));
});

test('a segment of another format version refuses to start with a message saying so', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 2, 1), null);
  await s.close();
  fs.corrupt(`${DIR}/${segmentName(1)}`, 8, Buffer.from([9, 0, 0, 0]));
  await assert.rejects(reopen(fs), (e: StorageError) => e.code === 'STORAGE_VERSION' && /version 9/.test(e.message) && /incompatible/.test(e.message));
});

test('a directory held by a live process is refused; after that process dies it is taken over', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 2, 1), null);
  await assert.rejects(reopen(fs), (e: StorageError) => e.code === 'STORAGE_LOCKED' && e.message.includes('live process'));
  fs.crash(); // the holder dies without releasing
  await assert.rejects(s.save(null, [entry(3, 1)], null), (e: StorageError) => e.code === 'STORAGE_FAILED'); // a dead process writes nothing
  const { r } = await reopen(fs.restart());
  assert.equal(r.entries.length, 2);
});

test('a full disk refuses a save with STORAGE_NO_SPACE and keeps the storage usable: the same save succeeds once there is room', async () => {
  for (const rollover of [false, true]) {
    const fs = memfs();
    const { s } = await reopen(fs);
    await s.save(null, entries(1, 3, 1), { term: 1, vote: 'n1', commit: 3 });
    // Room for a little more than the header of what comes next: the write is cut short.
    const next = entries(4, rollover ? 30 : 6, 1);
    fs.setCapacity(fs.usedBytes() + (rollover ? 300 : 40));
    const segmentsBefore = (await segments(fs)).length;
    const refused = await s.save(null, next, { term: 1, vote: 'n1', commit: 4 }).then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof StorageError && refused.code === 'STORAGE_NO_SPACE', `${rollover}: ${String(refused)}`);
    // A later save that extends the refused one is refused too (it would leave a hole).
    await assert.rejects(s.save(null, next, null), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_NO_SPACE');
    assert.equal((await segments(fs)).length, segmentsBefore, 'a segment the full disk cut short is removed again');
    fs.setCapacity(Infinity);
    await s.save(null, next, { term: 1, vote: 'n1', commit: 4 });
    if (rollover) assert.ok((await segments(fs)).length > segmentsBefore, 'this save rolled over to a new segment');
    await s.save(null, entries(next.length + 4, next.length + 4, 1), null);
    await s.close();
    const { r } = await reopen(fs);
    assert.equal(show(r), show({ hardState: { term: 1, vote: 'n1', commit: 4 }, snapshot: null, entries: entries(1, next.length + 4, 1) }), `rollover ${rollover}`);
  }
});

test('a snapshot refused by a full disk leaves no partial file and is taken again later', async () => {
  const fs = memfs();
  const { s } = await reopen(fs);
  await s.save(null, entries(1, 5, 1), { term: 1, vote: null, commit: 5 });
  fs.setCapacity(fs.usedBytes() + 20);
  const snap = snapshot(5, 1, 'x'.repeat(200));
  await assert.rejects(s.saveSnapshot(snap, 3), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_NO_SPACE');
  assert.deepEqual((await fs.readdir(DIR)).filter((n) => n.includes('snap')), [], 'the partial temp file is gone');
  fs.setCapacity(Infinity);
  await s.saveSnapshot(snap, 3);
  await s.close();
  const { r } = await reopen(fs);
  assert.equal(r.snapshot?.meta.index, 5);
});
