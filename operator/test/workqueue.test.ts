// The work queue: de-duplication, one worker per key, exponential back-off, shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Timers } from '../src/machinery/workqueue.js';

/** Timers driven by the test: advance(ms) fires what is due, in deadline order. */
class FakeTimers implements Timers {
  now = 0;
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.pending.entries()].filter(([, t]) => t.at <= this.now).sort((a, b) => a[1].at - b[1].at);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.fn();
    }
  }
}

const options = (timers: Timers) => ({ baseDelayMs: 100, maxDelayMs: 1000, maxKeys: 3, timers });

test('a key added many times waits once', async () => {
  const q = new WorkQueue(options(new FakeTimers()));
  q.add('a'); q.add('b'); q.add('a'); q.add('a');
  assert.equal(q.depth, 2);
  assert.equal(await q.next(), 'a');
  assert.equal(await q.next(), 'b');
  assert.equal(q.depth, 0);
});

test('a key re-added while in progress runs again only after done()', async () => {
  const q = new WorkQueue(options(new FakeTimers()));
  q.add('a');
  const key = await q.next();
  q.add('a');
  assert.equal(q.depth, 0, 'not handed to a second worker');
  q.done(key!, 'ok');
  assert.equal(q.depth, 1);
  assert.equal(await q.next(), 'a');
});

test('failures back off exponentially up to the cap and reset on success', async () => {
  const timers = new FakeTimers();
  const q = new WorkQueue(options(timers));
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => q.backoffMs(n)), [100, 200, 400, 800, 1000, 1000]);
  q.add('a');
  q.done((await q.next())!, 'failed');
  timers.advance(99);
  assert.equal(q.depth, 0);
  timers.advance(1);
  assert.equal(q.depth, 1);
  q.done((await q.next())!, 'failed');
  timers.advance(199);
  assert.equal(q.depth, 0);
  timers.advance(1);
  assert.equal(q.depth, 1);
  q.done((await q.next())!, 'ok');
  q.add('a');
  q.done((await q.next())!, 'failed');
  timers.advance(100);
  assert.equal(q.depth, 1, 'back-off restarted from the base after a success');
});

test('add() cancels a pending delayed retry; the key runs once', async () => {
  const timers = new FakeTimers();
  const q = new WorkQueue(options(timers));
  q.addAfter('a', 500);
  q.add('a');
  assert.equal(timers.pending.size, 0);
  assert.equal(await q.next(), 'a');
});

test('a waiting worker is woken by add(); shutdown releases waiters with null', async () => {
  const q = new WorkQueue(options(new FakeTimers()));
  const waiting = q.next();
  q.add('x');
  assert.equal(await waiting, 'x');
  const idle = q.next();
  q.shutdown();
  assert.equal(await idle, null);
  assert.equal(await q.next(), null);
});

test('the queue is bounded', () => {
  const q = new WorkQueue(options(new FakeTimers()));
  q.add('a'); q.add('b'); q.add('c');
  assert.throws(() => q.add('d'), { code: 'QUEUE_FULL' });
});

test('done() for a key not in progress is a broken invariant', () => {
  const q = new WorkQueue(options(new FakeTimers()));
  assert.throws(() => q.done('nope', 'ok'));
});
