// The simulator's PRNG: reproducible, in range, roughly uniform, and forks that differ.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../src/sim/prng.js';

function draw(p: Prng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(p.nextU32());
  return out;
}

test('the same seed gives the same sequence; another seed a different one', () => {
  assert.deepEqual(draw(new Prng(42), 64), draw(new Prng(42), 64));
  assert.notDeepEqual(draw(new Prng(42), 64), draw(new Prng(43), 64));
});

test('seed 0 does not get stuck at zero', () => {
  const values = draw(new Prng(0), 16);
  assert.ok(values.some((v) => v !== 0));
  assert.ok(new Set(values).size > 12);
});

test('next() stays in [0, 1) with a mean near one half; int() and range() stay in bounds', () => {
  const p = new Prng(7);
  let sum = 0;
  const n = 20000;
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < n; i++) {
    const x = p.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    buckets[p.int(10)]! += 1;
    const r = p.range(-3, 3);
    assert.ok(Number.isInteger(r) && r >= -3 && r <= 3);
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.02, `mean ${sum / n}`);
  for (const count of buckets) assert.ok(count > n / 10 * 0.9 && count < n / 10 * 1.1, `bucket ${count}`);
});

test('fork() gives an independent stream and advances the parent deterministically', () => {
  const a = new Prng(5);
  const b = new Prng(5);
  const fa = a.fork();
  const fb = b.fork();
  assert.deepEqual(draw(fa, 8), draw(fb, 8));
  assert.notDeepEqual(draw(a.fork(), 8), draw(new Prng(5), 8));
});

test('pick() refuses an empty list', () => {
  assert.throws(() => new Prng(1).pick([]), RangeError);
});
