// Owns the end-of-run verdicts: durability (every acknowledged write readable on every member
// with local reads once its applied index has caught up) and linearizability (the history file
// handed to the Porcupine checker, bin/porcupine-check).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterView } from './cluster.js';
import type { History } from './history.js';
import { getValue, httpCall, type Endpoint } from './http.js';
import { readValue } from './client.js';

export const PORCUPINE_CHECK = process.env['CATGA_PORCUPINE_CHECK'] ??
  fileURLToPath(new URL('../../../bin/porcupine-check', import.meta.url));
export const CHECK_TIMEOUT_S = 120;
export const READ_CONCURRENCY = 16;

export type Verdict = 'Ok' | 'Illegal' | 'Unknown';

export interface LinearizabilityResult {
  readonly verdict: Verdict;
  readonly stdout: string;
  readonly stderr: string;
  readonly htmlPath: string;
}

export function checkerExists(): boolean {
  return existsSync(PORCUPINE_CHECK);
}

/** Runs the checker on a JSONL history; exit 0 Ok, 1 Illegal, 2 Unknown, anything else throws. */
export function checkLinearizable(historyPath: string): Promise<LinearizabilityResult> {
  const htmlPath = historyPath.replace(/\.jsonl$/, '.html');
  return new Promise((resolve, reject) => {
    execFile(PORCUPINE_CHECK, ['--model', 'kv', '--history', historyPath, '--html', htmlPath, '--timeout', `${CHECK_TIMEOUT_S}s`],
      { timeout: (CHECK_TIMEOUT_S + 30) * 1000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : (err as { code?: unknown }).code;
        const verdict: Verdict | null = code === 0 ? 'Ok' : code === 1 ? 'Illegal' : code === 2 ? 'Unknown' : null;
        if (verdict === null) reject(Object.assign(new Error(`porcupine-check failed (${String(code)}): ${stderr}`), { code: 'CHECKER_FAILED' }));
        else resolve({ verdict, stdout: stdout.trim(), stderr: stderr.trim(), htmlPath });
      });
  });
}

export interface DurabilityResult {
  /** Acknowledged writes not readable where they must be, one per (node, key). */
  readonly lost: number;
  /** Keys whose value differs between members. */
  readonly divergentKeys: number;
  readonly details: string[];
}

async function waitApplied(node: Endpoint, index: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = await getValue<ClusterView>(`${node.url}/v1/cluster`, 2_000, undefined, node.tls);
    if (view !== null && view.appliedIndex >= index) return true;
    await sleep(100);
  }
  return false;
}

async function localRead(node: Endpoint, key: string): Promise<string | null | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const res = await httpCall(`${node.url}/v1/queries/kv.get?consistency=local`, {
        method: 'POST', body: JSON.stringify({ key }), timeoutMs: 5_000, ...(node.tls ? { tls: node.tls } : {}),
      });
      if (res.status === 200) return readValue(res.body);
    } catch {
      // retried
    }
  }
  return undefined; // unreadable
}

/**
 * For every member: waits until it has applied the highest acknowledged index, then reads every
 * written key locally. A key written once must hold that value; a key written many times must
 * hold its highest-index acknowledged value or the value of a write whose outcome is unknown
 * (which may have been applied later); and every member must hold the same value.
 */
export async function checkDurability(nodes: readonly Endpoint[], history: History, timeoutMs: number): Promise<DurabilityResult> {
  const latest = new Map<string, { value: string; index: number }>();
  for (const w of history.acked) {
    const cur = latest.get(w.key);
    if (cur === undefined || w.index > cur.index) latest.set(w.key, { value: w.value, index: w.index });
  }
  const target = history.maxAckedIndex();
  const details: string[] = [];
  let lost = 0;
  const valuesByKey = new Map<string, Set<string | null>>();
  for (const node of nodes) {
    if (!(await waitApplied(node, target, timeoutMs))) {
      details.push(`${node.id} did not apply index ${target} within ${timeoutMs} ms`);
      lost += latest.size;
      continue;
    }
    const keys = [...latest.keys()];
    for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
      const batch = keys.slice(i, i + READ_CONCURRENCY);
      const reads = await Promise.all(batch.map((k) => localRead(node, k)));
      batch.forEach((key, j) => {
        const got = reads[j];
        const want = latest.get(key)!;
        let values = valuesByKey.get(key);
        if (values === undefined) {
          values = new Set();
          valuesByKey.set(key, values);
        }
        if (got !== undefined) values.add(got);
        const fromUnknown = got !== null && got !== undefined && (history.unknownWrites.get(key)?.has(got) ?? false);
        if (got !== want.value && !fromUnknown) {
          lost++;
          if (details.length < 20) details.push(`${node.id} ${key}: read ${JSON.stringify(got)}, acknowledged ${want.value}@${want.index}`);
        }
      });
    }
  }
  let divergentKeys = 0;
  for (const [key, values] of valuesByKey) {
    if (values.size > 1) {
      divergentKeys++;
      if (details.length < 20) details.push(`${key}: members disagree: ${JSON.stringify([...values])}`);
    }
  }
  return { lost, divergentKeys, details };
}
