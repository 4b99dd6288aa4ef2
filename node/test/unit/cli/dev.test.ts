// `catga dev` flag checks that refuse before any node starts: port 0 on a used data directory,
// out-of-range ports, an empty --handlers list. (The shop example's test runs a whole dev cluster.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CATGA_MAIN } from '../../../src/local/local-cluster.js';

function dev(...args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [CATGA_MAIN, 'dev', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stderr: run.stderr };
}

test('catga dev refuses port 0 on a data directory that already holds a cluster', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-dev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'n1'));
  for (const flag of ['--http-port', '--peer-port']) {
    const run = dev('--data-dir', dir, flag, '0');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /port 0: .* give its ports or a fresh --data-dir/);
  }
});

test('catga dev refuses bad flags with the flag named and its usage (exit 2)', () => {
  for (const [args, message] of [
    [['--http-port=-1'], /--http-port needs an integer from 0 to 65000, got "-1"/],
    [['--peer-port', '70000'], /--peer-port needs an integer from 0 to 65000, got "70000"/],
    [['--handlers', ' , '], /--handlers: expected comma-separated module paths/],
    [['--nodes'], /--nodes/],
    [['--bogus'], /--bogus/],
  ] as const) {
    const run = dev(...args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /usage: catga dev /);
  }
});
