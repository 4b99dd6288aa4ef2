// Same seed and options → the same events, byte for byte (so a failing seed replays exactly).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSeed, type SimOptions } from '../../../src/sim/simulator.js';

function options(seed: number, nodes: number, sink: ((line: string) => void) | null = null): SimOptions {
  return { seed, nodes, steps: 1500, traceCapacity: 100, traceSink: sink, faults: null };
}

test('running a seed twice gives the same trace fingerprint and the same events', async () => {
  for (const [seed, nodes] of [[11, 3], [12, 5]] as const) {
    const a: string[] = [];
    const b: string[] = [];
    const ra = await runSeed(options(seed, nodes, (l) => a.push(l)));
    const rb = await runSeed(options(seed, nodes, (l) => b.push(l)));
    assert.equal(ra.fingerprint, rb.fingerprint);
    assert.deepEqual(ra.stats, rb.stats);
    assert.equal(a.length, b.length);
    assert.deepEqual(a, b);
    assert.ok(a.length > 1000, `only ${a.length} events`);
  }
});

test('different seeds take different paths', async () => {
  const prints = new Set<string>();
  for (let seed = 1; seed <= 5; seed++) prints.add((await runSeed(options(seed, 3))).fingerprint);
  assert.equal(prints.size, 5);
});

test('a failing seed replays to the same violation and the same trace', async () => {
  const faulty: SimOptions = { ...options(0, 3), faults: { grantVoteWithoutLogCheck: true } };
  let seed = 1;
  let first = await runSeed({ ...faulty, seed });
  while (first.violation === null && seed < 50) first = await runSeed({ ...faulty, seed: ++seed });
  assert.ok(first.violation !== null, 'expected a violation within 50 seeds');
  const again = await runSeed({ ...faulty, seed });
  assert.deepEqual(again.violation, first.violation);
  assert.equal(again.fingerprint, first.fingerprint);
  assert.deepEqual(again.recent, first.recent);
});
