// One file-naming convention for the TypeScript sources: every .ts file under node/, operator/,
// e2e/ and examples/ (tracked or new, node_modules and dist left out) is named in kebab-case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { repoRoot } from '../../../src/cli/docs.js';

const TREES = ['node', 'operator', 'e2e', 'examples'];
const SKIPPED_DIRS = ['node_modules', 'dist'];

/** Lower-case words joined by hyphens, then dotted suffixes: `leader-election.test.ts`, `main.d.ts`. */
export function isKebabCase(fileName: string): boolean {
  return /^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+)*\.ts$/.test(fileName);
}

function typeScriptFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...TREES], {
    cwd: repoRoot(), encoding: 'utf8', maxBuffer: 64 << 20,
  });
  return out.split('\0').filter((p) => p.endsWith('.ts') && !p.split('/').some((d) => SKIPPED_DIRS.includes(d)));
}

test('the kebab-case check accepts hyphenated names and refuses snake_case and capitals', () => {
  for (const ok of ['main.ts', 'leader-election.ts', 'leader-election.test.ts', 'v2-wire.d.ts']) assert.ok(isKebabCase(ok), ok);
  for (const bad of ['leader_election.ts', 'LeaderElection.ts', 'httpServer.ts', '-lead.ts', 'a--b.ts']) {
    assert.ok(!isKebabCase(bad), bad);
  }
});

test('every TypeScript file under node/, operator/, e2e/ and examples/ is named in kebab-case', () => {
  const files = typeScriptFiles();
  assert.ok(files.some((p) => p.startsWith('operator/')), 'the file list reaches operator/');
  assert.deepEqual(files.filter((p) => !isKebabCase(basename(p))), []);
});
