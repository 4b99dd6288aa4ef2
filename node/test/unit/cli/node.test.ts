// `catga node` refuses a flag it does not take with a message naming it, the usage, and exit 2
// (as bench, backup and restore do); a value a setting refuses also exits 2, naming the setting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runNodeCli } from '../../../src/cli/node.js';
import { NODE_USAGE } from '../../../src/runtime/config.js';
import { stderrOf } from './stderr-of.js';

const refused: readonly [string, string[], string][] = [
  ['an unknown flag', ['--bogus'], "'--bogus'"],
  ['a value flag without its value', ['--http-port'], "'--http-port <value>'"],
  ['a switch given a value', ['--open-access=true'], "'--open-access' does not take an argument"],
  ['a negated value flag', ['--no-tick-ms'], "'--no-tick-ms'"],
  ['a stray argument', ['--open-access', 'yes'], "'yes'"],
];

for (const [name, argv, named] of refused) {
  test(`catga node: ${name} prints the message and the usage, exit 2`, async () => {
    const { code, text } = await stderrOf(runNodeCli, argv);
    assert.equal(code, 2, text);
    assert.ok(text.startsWith('catga node: '), text);
    assert.ok(text.includes(named), text);
    assert.ok(text.includes(NODE_USAGE), text);
  });
}

test('catga node: a value out of its limits exits 2 naming the flag and the variable, without the usage', async () => {
  const { code, text } = await stderrOf(runNodeCli, ['--open-access', '--http-port=0']);
  assert.equal(code, 2, text);
  assert.match(text, /^catga node: invalid configuration: CATGA_HTTP_PORT \(--http-port\): expected an integer from 1 to 65535, got "0"\n$/);
});
