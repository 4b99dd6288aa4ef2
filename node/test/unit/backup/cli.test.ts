// `catga backup` and `catga restore` flags: parsed through common/flags.ts, so an unknown flag or a
// malformed value prints a message naming the flag, then the verb's usage, and exits 2.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBackupCli, runRestoreCli } from '../../../src/cli/backup.js';
import { stderrOf } from '../cli/stderr-of.js';

const cases: readonly [string, (argv: string[]) => Promise<number>, string[], string, string][] = [
  ['backup: unknown flag', runBackupCli, ['--to=/tmp/x', '--bogus'], '--bogus', 'catga backup --to <dir'],
  ['backup: flag without its value', runBackupCli, ['--to'], '--to', 'catga backup --to <dir'],
  ['backup: malformed --keep', runBackupCli, ['--to=/tmp/x', '--keep=zero'], '--keep', 'catga backup --to <dir'],
  ['backup verify: unknown flag', runBackupCli, ['verify', '--bogus', 'dir'], '--bogus', 'catga backup --to <dir'],
  ['restore: unknown flag', runRestoreCli, ['--bogus'], '--bogus', 'usage: catga restore'],
  ['restore: flag without its value', runRestoreCli, ['--from=/tmp/x', '--data-dir=/tmp/y', '--id'], '--id', 'usage: catga restore'],
];

for (const [name, run, argv, flag, usage] of cases) {
  test(name, async () => {
    const { code, text } = await stderrOf(run, argv);
    assert.equal(code, 2, text);
    assert.ok(text.includes(flag), text);
    assert.ok(text.includes(usage), text);
  });
}
