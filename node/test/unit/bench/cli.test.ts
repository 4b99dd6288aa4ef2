// `catga bench` flags: parsed through common/flags.ts, so an unknown flag or a malformed value is a
// FlagError naming the flag (runBenchCli prints it with the usage and exits 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { medianRun, parseBenchArgs } from '../../../src/bench/cli.js';
import { FlagError } from '../../../src/common/flags.js';

test('reads the flags it knows', () => {
  const o = parseBenchArgs(['--quick', '--json', '--only=put,fanout', '--seconds=2', '--state-mb=8', '--rounds=5']);
  assert.equal(o.rounds, 5);
  assert.equal(parseBenchArgs([]).rounds, 3, 'a full run alternates three runs per row');
  assert.equal(parseBenchArgs(['--quick']).rounds, 1, 'the CI smoke run one');
  assert.equal(o.quick, true);
  assert.equal(o.json, true);
  assert.deepEqual([...o.only], ['put', 'fanout']);
  assert.equal(o.seconds, 2);
  assert.equal(o.stateMb, 8);
  const soak = parseBenchArgs(['--soak=30']);
  assert.equal(soak.soakSeconds, 30);
  assert.equal(soak.only.size, 0, 'a soak alone runs no other section');
});

test('an unknown flag is a FlagError naming it', () => {
  assert.throws(() => parseBenchArgs(['--fast']), (e: unknown) => e instanceof FlagError && e.message.includes('--fast'));
});

test('a malformed value is a FlagError naming the flag', () => {
  for (const [argv, flag] of [[['--seconds=abc'], '--seconds'], [['--state-mb=0'], '--state-mb'], [['--only=nope'], '--only'], [['--soak'], '--soak'], [['--quick=yes'], '--quick'], [['--only=tls'], '--only'], [['--rounds=0'], '--rounds'], [['--rounds=1.5'], '--rounds'], [['--rounds=99'], '--rounds']] as const) {
    assert.throws(() => parseBenchArgs(argv), (e: unknown) => e instanceof FlagError && e.message.includes(flag), argv.join(' '));
  }
});

test('a row shows each system\'s median run: the middle one, the upper middle of an even count', () => {
  const run = (perSecond: number) => ({ result: { perSecond }, cpuUsPerOp: perSecond / 10 });
  assert.equal(medianRun([run(9), run(7), run(8)]).result.perSecond, 8);
  assert.equal(medianRun([run(4), run(1), run(3), run(2)]).result.perSecond, 3);
  assert.equal(medianRun([run(5)]).cpuUsPerOp, 0.5, 'the median run keeps its own CPU figure');
  assert.throws(() => medianRun([]), /no runs/);
});
