// The repository documents itself: no tracked file may cite the design notes that lived outside it
// (a clone does not have them), and every citation of a page under docs/ must name a page that
// exists, and a section of it that exists when it names one (GitHub's heading anchors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../src/cli/docs.js';

const ROOT = repoRoot();
// Spelled in pieces so that this file does not cite them itself.
const FORBIDDEN = ['CONTRACT', 'TOOLS', 'STYLE'].map((n) => `${n}.md`).concat(['..' + '/shared/']);
const MAX_BYTES = 4 << 20;

function trackedTextFiles(): { path: string; text: string }[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  const files: { path: string; text: string }[] = [];
  for (const path of out.split('\0')) {
    if (path === '') continue;
    const full = join(ROOT, path);
    if (!existsSync(full)) continue;
    const st = statSync(full);
    if (!st.isFile() || st.size > MAX_BYTES) continue;
    const buf = readFileSync(full);
    if (buf.includes(0)) continue;
    files.push({ path, text: buf.toString('utf8') });
  }
  return files;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) { fenced = !fenced; continue; }
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const files = trackedTextFiles();

test('no tracked file cites the design notes kept outside the repository', () => {
  const found: string[] = [];
  for (const { path, text } of files) {
    text.split('\n').forEach((line, i) => {
      for (const f of FORBIDDEN) if (line.includes(f)) found.push(`${path}:${i + 1}: ${f}`);
    });
  }
  assert.deepEqual(found, [], `cite the page under docs/ that documents it instead (${FORBIDDEN.join(', ')} are not in a clone)`);
});

test('every cited docs/ page and section exists', () => {
  const pages = new Map<string, Set<string> | null>();
  const anchors = (page: string): Set<string> | null => {
    if (!pages.has(page)) {
      const full = join(ROOT, 'docs', page);
      pages.set(page, existsSync(full) ? anchorsOf(readFileSync(full, 'utf8')) : null);
    }
    return pages.get(page)!;
  };
  const broken: string[] = [];
  const check = (where: string, page: string, anchor: string | undefined): void => {
    const a = anchors(page);
    if (a === null) broken.push(`${where}: docs/${page} does not exist`);
    else if (anchor !== undefined && !a.has(anchor)) broken.push(`${where}: docs/${page} has no section #${anchor}`);
  };
  let citations = 0;
  for (const { path, text } of files) {
    const inDocs = /^docs\/[^/]+\.md$/.test(path);
    text.split('\n').forEach((line, i) => {
      const where = `${path}:${i + 1}`;
      for (const m of line.matchAll(/(?<![\w./-])docs\/([\w.-]+\.md)(?:#([\w-]+))?/g)) { citations++; check(where, m[1]!, m[2]); }
      if (!inDocs) return;
      // Links between the pages of docs/, and to a section of the same page.
      for (const m of line.matchAll(/\]\(([\w.-]+\.md)(?:#([\w-]+))?\)/g)) { citations++; check(where, m[1]!, m[2]); }
      for (const m of line.matchAll(/\]\(#([\w-]+)\)/g)) { citations++; check(where, path.slice('docs/'.length), m[1]); }
    });
  }
  assert.deepEqual(broken, []);
  assert.ok(citations > 20, `expected the code to cite docs/ pages, found ${citations} citations`);
});

test('the anchor of a heading is the one GitHub makes', () => {
  assert.equal(slug('WebSocket fan-out'), 'websocket-fan-out');
  assert.equal(slug('Cluster and admin routes'), 'cluster-and-admin-routes');
  assert.equal(slug('The path of a command'), 'the-path-of-a-command');
});
