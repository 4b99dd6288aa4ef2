// `catga bench` flags: parsed through common/flags.ts, so an unknown flag or a malformed value is a
// FlagError naming the flag (runBenchCli prints it with the usage and exits 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs } from '../../../src/bench/cli.js';
import { FlagError } from '../../../src/common/flags.js';

test('reads the flags it knows', () => {
  const o = parseBenchArgs(['--quick', '--json', '--only=put,fanout', '--seconds=2', '--state-mb=8']);
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
  for (const [argv, flag] of [[['--seconds=abc'], '--seconds'], [['--state-mb=0'], '--state-mb'], [['--only=nope'], '--only'], [['--soak'], '--soak'], [['--quick=yes'], '--quick'], [['--only=tls'], '--only']] as const) {
    assert.throws(() => parseBenchArgs(argv), (e: unknown) => e instanceof FlagError && e.message.includes(flag), argv.join(' '));
  }
});
