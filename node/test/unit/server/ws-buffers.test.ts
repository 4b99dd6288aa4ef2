// SubscriberBuffers: the node-wide budget of unflushed subscriber bytes, and who is evicted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubscriberBuffers, type BufferHolder } from '../../../src/server/ws-buffers.js';

function holder(name: string, evicted: string[]): BufferHolder {
  return { held: 0, evict: () => evicted.push(name) };
}

test('takes and gives back within the budget', () => {
  const b = new SubscriberBuffers(100);
  const evicted: string[] = [];
  const a = holder('a', evicted);
  assert.ok(b.take(a, 60));
  assert.ok(b.take(a, 40));
  assert.equal(b.usedBytes, 100);
  b.give(a, 60);
  assert.equal(b.usedBytes, 40);
  assert.equal(a.held, 40);
  assert.deepEqual(evicted, []);
});

test('over budget, the biggest holder is evicted and its bytes are free again', () => {
  const b = new SubscriberBuffers(100);
  const evicted: string[] = [];
  const slow = holder('slow', evicted);
  const fast = holder('fast', evicted);
  assert.ok(b.take(slow, 80));
  assert.ok(b.take(fast, 10));
  assert.ok(b.take(fast, 20), 'fast gets its bytes once slow is gone');
  assert.deepEqual(evicted, ['slow']);
  assert.equal(slow.held, 0);
  assert.equal(b.usedBytes, 30);
  b.give(slow, 80); // its write callbacks still fire later: nothing changes
  assert.equal(b.usedBytes, 30);
});

test('a holder that is itself the biggest is told it was evicted', () => {
  const b = new SubscriberBuffers(100);
  const evicted: string[] = [];
  const only = holder('only', evicted);
  assert.ok(b.take(only, 90));
  assert.equal(b.take(only, 20), false);
  assert.deepEqual(evicted, ['only']);
  assert.equal(b.usedBytes, 0);
});

test('one message larger than the whole budget still goes out when nothing else is held', () => {
  const b = new SubscriberBuffers(100);
  const evicted: string[] = [];
  const a = holder('a', evicted);
  assert.ok(b.take(a, 500));
  b.release(a);
  assert.equal(b.usedBytes, 0);
  assert.throws(() => new SubscriberBuffers(0));
});
