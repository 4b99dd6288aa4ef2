// SubscriberBuffers: the node-wide budget of unflushed subscriber writes (shared frame buffers
// counted once), and who is evicted when it runs out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubscriberBuffers, WRITE_OVERHEAD_BYTES as W, type BufferHolder } from '../../../src/server/ws-buffers.js';

function holder(name: string, evicted: string[]): BufferHolder {
  return { held: 0, evict: () => evicted.push(name) };
}

const frames = (n: number) => Buffer.alloc(n);

test('takes and gives back within the budget, in write order', () => {
  const b = new SubscriberBuffers(1000);
  const evicted: string[] = [];
  const a = holder('a', evicted);
  const [x, y] = [frames(100), frames(50)];
  assert.ok(b.take(a, x));
  assert.ok(b.take(a, y));
  assert.equal(b.usedBytes, 150 + 2 * W);
  assert.equal(a.held, 150);
  assert.throws(() => b.give(a, y), /in order/);
});

test('a buffer shared by several subscribers is counted once, until the last write of it completes', () => {
  const b = new SubscriberBuffers(10_000);
  const evicted: string[] = [];
  const [a, c] = [holder('a', evicted), holder('c', evicted)];
  const shared = frames(1000);
  assert.ok(b.take(a, shared));
  assert.ok(b.take(c, shared));
  assert.equal(b.usedBytes, 1000 + 2 * W);
  b.give(a, shared);
  assert.equal(b.usedBytes, 1000 + W);
  b.give(c, shared);
  assert.equal(b.usedBytes, 0);
  assert.deepEqual([a.held, c.held, evicted], [0, 0, []]);
});

test('over budget, the biggest holder is evicted; what others still reference stays counted', () => {
  const capacity = 1000 + 3 * W;
  const b = new SubscriberBuffers(capacity);
  const evicted: string[] = [];
  const [slow, fast] = [holder('slow', evicted), holder('fast', evicted)];
  const [old, shared] = [frames(600), frames(300)];
  assert.ok(b.take(slow, old));
  assert.ok(b.take(slow, shared));
  assert.ok(b.take(fast, shared));
  assert.equal(b.usedBytes, 900 + 3 * W);
  assert.ok(b.take(fast, frames(200)), 'fast gets its room once slow is gone');
  assert.deepEqual(evicted, ['slow']);
  assert.equal(slow.held, 0);
  assert.equal(b.usedBytes, 300 + 200 + 2 * W, 'the shared buffer is still referenced by fast');
  b.give(slow, old); // its write callbacks still fire later: nothing changes
  assert.equal(b.usedBytes, 500 + 2 * W);
});

test('a holder that is itself the biggest is told it was evicted', () => {
  const b = new SubscriberBuffers(1000);
  const evicted: string[] = [];
  const only = holder('only', evicted);
  assert.ok(b.take(only, frames(700)));
  assert.equal(b.take(only, frames(200)), false);
  assert.deepEqual(evicted, ['only']);
  assert.equal(b.usedBytes, 0);
});

test('one write larger than the whole budget still goes out when nothing else is held', () => {
  const b = new SubscriberBuffers(100);
  const evicted: string[] = [];
  const a = holder('a', evicted);
  assert.ok(b.take(a, frames(500)));
  b.release(a);
  assert.equal(b.usedBytes, 0);
  assert.throws(() => new SubscriberBuffers(0));
});
