// docs/configuration.md is generated from the settings table and the CLI usage texts
// (node/src/cli/docs.ts); this fails when the checked-in file has drifted from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REGENERATE, renderConfigurationDoc, repoRoot } from '../../../src/cli/docs.js';
import { SPECS } from '../../../src/runtime/config.js';

test('docs/configuration.md is what node/src/cli/docs.ts renders', () => {
  const path = resolve(repoRoot(), 'docs/configuration.md');
  const checkedIn = readFileSync(path, 'utf8');
  assert.ok(checkedIn === renderConfigurationDoc(), `docs/configuration.md is out of date with node/src/runtime/config.ts or the CLI usage; regenerate it with: ${REGENERATE}`);
});

test('the generated reference lists every setting with its flag, variable and default', () => {
  const text = renderConfigurationDoc();
  for (const s of Object.values(SPECS)) {
    assert.ok(text.includes(`\`--${s.flag}\``), s.flag);
    assert.ok(text.includes(`\`${s.env}\``), s.env);
  }
  assert.match(text, /\| `--http-port` \| `CATGA_HTTP_PORT` \| `httpPort` \| int \| 8080 \| 1 to 65535 \|/);
});
