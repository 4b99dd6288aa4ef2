// The event store (state/event-store.ts) over in-memory and directory segment files: appends across
// segments, whole segments let go, alignment with the engine's applied index (kept, cut at a
// frame, started over), and a damaged frame or a broken chain ending the store where it is.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventStore, type EventRecord, type SegmentFiles } from '../../../src/state/event-store.js';
import { DirectorySegmentFiles } from '../../../src/state/event-files.js';
import { NodeFileSystem } from '../../../src/storage/fs-node.js';
import { MemorySegmentFiles } from '../../../src/state/memory-event-files.js';

const record = (index: number): EventRecord => ({ index, bytes: Buffer.from(`event of ${index}`) });
const indexes = (store: EventStore, after: number): number[] => [...store.read(after)].map((r) => r.index);
const text = (store: EventStore, after: number): string[] => [...store.read(after)].map((r) => Buffer.from(r.bytes).toString());

/** Batches of two entries, the first raising an event: 1-2, 3-4, … up to `last`. */
function fill(store: EventStore, from: number, last: number): void {
  for (let i = from + 1; i < last; i += 2) store.append(i + 1, [record(i)]);
}

test('appends across segments, reads from any index, and lets go of whole segments only', () => {
  const files = new MemorySegmentFiles();
  const store = new EventStore(files, 100);
  assert.equal(store.floor, null);
  assert.deepEqual(store.align(0), { outcome: 'restarted', lastBefore: null });
  fill(store, 0, 20);
  assert.equal(store.last, 20);
  assert.ok(store.segmentCount >= 4, `${store.segmentCount} segments`);
  assert.deepEqual(indexes(store, 0), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  assert.deepEqual(indexes(store, 10), [11, 13, 15, 17, 19]);
  assert.deepEqual(text(store, 18), ['event of 19']);
  store.forget(9);
  const floor = Number(store.floor);
  assert.ok(floor <= 9 && floor > 0, `floor ${floor}`);
  assert.deepEqual(indexes(store, floor), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19].filter((i) => i > floor));
  // The current segment stays, whatever the ring let go.
  store.forget(20);
  assert.equal(store.segmentCount, 1);
  assert.equal(store.last, 20);
  assert.throws(() => store.append(20, []), /does not follow/);
  assert.throws(() => store.append(24, [record(23), record(22)]), /out of order/);
});

test('align: kept at the applied index, cut back to a frame, started over when behind or between frames', () => {
  const files = new MemorySegmentFiles();
  const store = new EventStore(files, 100);
  store.align(0);
  fill(store, 0, 20);
  assert.deepEqual(store.align(20), { outcome: 'kept', lastBefore: 20 });
  // The engine lost the last batches: the frames after its index go, across segments.
  assert.deepEqual(store.align(12), { outcome: 'cut', lastBefore: 20 });
  assert.deepEqual(indexes(store, 0), [1, 3, 5, 7, 9, 11]);
  fill(store, 12, 16);
  assert.deepEqual(indexes(new EventStore(new MemorySegmentFiles(files.crashImage(Infinity)), 100), 0), [1, 3, 5, 7, 9, 11, 13, 15]);
  // No frame ends at 13 (batches end at even indexes): the store cannot hold exactly 13's events.
  assert.deepEqual(store.align(13), { outcome: 'restarted', lastBefore: 16 });
  assert.equal(store.floor, 13);
  assert.deepEqual(indexes(store, 13), []);
  // Behind the engine (a snapshot moved the state ahead): it starts over there.
  fill(store, 13, 17);
  assert.deepEqual(store.align(40), { outcome: 'restarted', lastBefore: 17 });
  assert.equal(store.floor, 40);
  assert.equal(files.list().length, 1);
});

test('a damaged frame ends the store there; a segment that does not continue the chain goes', () => {
  const files = new MemorySegmentFiles();
  const store = new EventStore(files, 100);
  store.align(0);
  fill(store, 0, 20);
  const names = files.list().sort();
  // One byte flipped inside the first frame of the second segment: a length that still fits.
  const image = files.crashImage(Infinity);
  const damaged = Buffer.from(image.get(names[1] as string) as Buffer);
  damaged[damaged.length > 30 ? 30 : damaged.length - 1]! ^= 0xff;
  image.set(names[1] as string, damaged);
  const reopened = new EventStore(new MemorySegmentFiles(image), 100);
  assert.equal(reopened.segmentCount, 2);
  assert.equal(reopened.last, Number((names[1] as string).slice(0, 20)));
  assert.deepEqual(indexes(reopened, 0), indexes(store, 0).filter((i) => i <= (reopened.last as number)));
  // A segment whose start is not where the one before ends (the rest of a chain a crash broke).
  const broken = files.crashImage(Infinity);
  broken.delete(names[1] as string);
  const rechained = new EventStore(new MemorySegmentFiles(broken), 100);
  assert.equal(rechained.segmentCount, 1);
  assert.equal(rechained.last, Number((names[1] as string).slice(0, 20)));
});

test('in a directory: the same store after reopening, and no descriptor left open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-events-'));
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  try {
    const open = (): EventStore => new EventStore(new DirectorySegmentFiles(dir, new NodeFileSystem()), 100);
    const store = open();
    store.align(0);
    fill(store, 0, 20);
    // A removal while a sync runs closes its descriptor once the sync is done with it.
    const syncing = store.sync();
    store.forget(9);
    await syncing;
    await store.sync();
    store.close();
    assert.equal(fds(), before);
    const reopened = open();
    assert.equal(reopened.floor, store.floor);
    assert.deepEqual(indexes(reopened, 0), indexes(store, 0));
    // A torn last frame, as a crash in the middle of a write leaves it.
    const last = readdirSync(dir).sort().at(-1) as string;
    writeFileSync(join(dir, last), readFileSync(join(dir, last)).subarray(0, -3));
    reopened.close();
    const torn = open();
    assert.equal(torn.last, 18);
    assert.equal(torn.align(18).outcome, 'kept');
    torn.append(20, [record(19)]);
    torn.close();
    const again = open();
    assert.deepEqual(indexes(again, 0), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19].filter((i) => i > (store.floor as number)));
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The interface is small enough to check that both implementations list only what they hold.
test('both segment file kinds list, append, truncate and remove alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-events-'));
  try {
    for (const files of [new MemorySegmentFiles(), new DirectorySegmentFiles(dir, new NodeFileSystem())] as SegmentFiles[]) {
      files.append('a.evs', Buffer.from('hello'));
      files.append('a.evs', Buffer.from(' world'));
      files.append('b.evs', Buffer.alloc(0));
      files.truncate('a.evs', 5);
      assert.deepEqual(files.list().sort(), ['a.evs', 'b.evs']);
      assert.equal(files.read('a.evs').toString(), 'hello');
      files.remove('b.evs');
      await files.sync();
      assert.deepEqual(files.list(), ['a.evs']);
      files.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the directory is synced through the file system seam only when a name came or went', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-events-'));
  const synced: string[] = [];
  const files = new DirectorySegmentFiles(dir, { syncDir: async (d) => { synced.push(d); } });
  try {
    files.append('a.evs', Buffer.from('x'));
    await files.sync();
    assert.deepEqual(synced, [dir], 'a new file is a new name');
    files.append('a.evs', Buffer.from('y'));
    await files.sync();
    assert.deepEqual(synced, [dir], 'an append to an open file changes no name');
    files.remove('a.evs');
    await files.sync();
    assert.deepEqual(synced, [dir, dir], 'a removal is a name gone');
  } finally {
    files.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
