// The linters, as part of `make test`: Biome over the TypeScript (rules and their reasons in
// biome.jsonc; warnings fail too) and shellcheck over the shell scripts (`make lint` runs the same).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');

function run(command: string, args: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.ok(r.error === undefined, `${command}: ${String(r.error)}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('Biome finds no error and no warning in the TypeScript of the repository', () => {
  const r = run(join(ROOT, 'node_modules/.bin/biome'), ['lint', '--error-on-warnings', '--max-diagnostics=50']);
  assert.equal(r.status, 0, r.output.slice(-8000));
});

test('shellcheck finds nothing in the shell scripts', () => {
  const scripts = ['scripts', 'e2e/kind', 'e2e/k8s']
    .flatMap((dir) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.sh')).map((f) => join(dir, f)));
  assert.ok(scripts.length > 3, `only ${scripts.length} scripts found`);
  const r = run('shellcheck', ['-x', ...scripts, '.ci/run']);
  assert.equal(r.status, 0, r.output.slice(-8000));
});
