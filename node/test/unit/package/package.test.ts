// The published package: `npm pack` ships exactly the bin, the compiled runtime with its types and
// the client; every `exports` target and the bin are in it; the bin runs the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// node/dist/test/unit/package → node/
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

interface PackageJson {
  readonly bin: Record<string, string>;
  readonly exports: Record<string, { types: string; default: string }>;
}

test('npm pack publishes the bin, the runtime\'s JavaScript and types, and nothing else', () => {
  const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packageDir, encoding: 'utf8' });
  assert.equal(packed.status, 0, packed.stderr);
  const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  const outside = files.filter((f) => f !== 'package.json' && f !== 'bin/catga.js' && !/^dist\/src\/.+\.(js|d\.ts)$/.test(f));
  assert.deepEqual(outside, [], 'only the bin, package.json and dist/src JavaScript and declarations');
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as PackageJson;
  const shipped = new Set(files);
  for (const target of [...Object.values(pkg.bin), ...Object.values(pkg.exports).flatMap((e) => [e.types, e.default])]) {
    assert.ok(shipped.has(target.replace(/^\.\//, '')), `${target} is published`);
  }
  for (const required of ['dist/src/cli/main.js', 'dist/src/client/index.d.ts', 'dist/src/index.d.ts', 'dist/src/catga/index.d.ts', 'dist/src/runtime/node.js']) assert.ok(shipped.has(required), required);
  assert.ok(files.length < 400, `a bounded file list (${files.length})`);
});

test('the bin runs the CLI', () => {
  const run = spawnSync(process.execPath, [join(packageDir, 'bin/catga.js'), '--help'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: catga <verb>/);
});
