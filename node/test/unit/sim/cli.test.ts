// `catga sim` arguments and output: the last line is `N seeds, V violations`, exit codes 0/1/2.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSimArgs, replayCommand, runSimCli } from '../../../src/sim/cli.js';

test('arguments parse, with defaults; --seed alone means one seed', () => {
  const d = parseSimArgs([]);
  assert.equal(d.seeds, 200);
  assert.equal(d.firstSeed, 1);
  assert.equal(d.nodes, 3);
  assert.equal(d.faults, null);
  const one = parseSimArgs(['--seed', '77', '--trace', '--nodes', '5', '--steps', '300']);
  assert.deepEqual(
    { seeds: one.seeds, firstSeed: one.firstSeed, nodes: one.nodes, steps: one.steps, trace: one.trace },
    { seeds: 1, firstSeed: 77, nodes: 5, steps: 300, trace: true },
  );
  const f = parseSimArgs(['--fault', 'grantVoteWithoutLogCheck']);
  assert.deepEqual(f.faults, { grantVoteWithoutLogCheck: true });
  assert.equal(replayCommand(f, 9), 'catga sim --seed 9 --nodes 3 --steps 4000 --fault grantVoteWithoutLogCheck --trace');
});

test('bad arguments are refused', () => {
  for (const argv of [['--nodes', '4'], ['--seeds', '0'], ['--seeds', 'x'], ['--steps'], ['--bogus'], ['--fault', 'nope']]) {
    assert.throws(() => parseSimArgs(argv), { code: 'USAGE' }, argv.join(' '));
  }
});

test('a clean run prints the summary last and exits 0; usage errors exit 2', async () => {
  const lines: string[] = [];
  const code = await runSimCli(['--seeds', '3', '--steps', '600'], (l) => lines.push(l));
  assert.equal(code, 0);
  assert.equal(lines.at(-1), '3 seeds, 0 violations');
  const originalError = console.error;
  console.error = () => {};
  try {
    assert.equal(await runSimCli(['--nodes', '7'], () => {}), 2);
  } finally {
    console.error = originalError;
  }
});

test('a run with a deliberate core bug prints the seed, invariant, trace and replay line, and exits 1', async () => {
  const lines: string[] = [];
  const code = await runSimCli(['--seeds', '10', '--fault', 'grantVoteWithoutLogCheck'], (l) => lines.push(l));
  assert.equal(code, 1);
  const last = lines.at(-1) ?? '';
  const match = /^10 seeds, (\d+) violations$/.exec(last);
  assert.ok(match !== null && Number(match[1]) >= 1, last);
  const header = lines.find((l) => /^seed \d+: VIOLATION [A-Z_]+ at /.test(l));
  assert.ok(header !== undefined);
  assert.ok(lines.some((l) => l.startsWith('  replay: catga sim --seed ') && l.endsWith('--fault grantVoteWithoutLogCheck --trace')));
  assert.ok(lines.some((l) => /^ {4}t=\d+ /.test(l)), 'trace lines');
});
