// The node image starts its process with the environment local clusters use (common/process-env.ts):
// the memory figures measured on local clusters hold for the image too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_ENV } from '../../../src/common/process-env.js';

const DOCKERFILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../Dockerfile');

test('node/Dockerfile sets every variable of NODE_PROCESS_ENV to the same value', () => {
  const env = new Map<string, string>();
  for (const line of readFileSync(DOCKERFILE, 'utf8').split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      env.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }
  assert.ok(Object.keys(NODE_PROCESS_ENV).length > 0);
  for (const [name, value] of Object.entries(NODE_PROCESS_ENV)) assert.equal(env.get(name), value, `ENV ${name} in node/Dockerfile`);
});
