// Owns the bug-catching probe: the classic stale read from a deposed leader. Write v1; freeze the
// leader (SIGSTOP) and cut it off; the rest elects a new leader and acknowledges v2; queue
// linearizable reads at the old leader while it is still frozen, then resume it, still isolated:
// it wakes believing it leads, so a build that serves linearizable reads locally (no ReadIndex)
// answers v1 after v2 was acknowledged, and the Porcupine check must say Illegal.
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, type CatgaNode } from './cluster.js';
import { History } from './history.js';
import { classify, readValue } from './client.js';
import { httpCall } from './http.js';
import { checkLinearizable, type Verdict } from './checks.js';

export const PROBE_READS = 5;
const HEALED_READ_ATTEMPTS = 20;
const KEY = 'stale';

export interface StaleReadProbe {
  readonly verdict: Verdict;
  readonly staleReads: number;
  readonly freshReads: number;
  readonly failedReads: number;
  /** Nodes answering v2 to a linearizable read after the partition healed. */
  readonly freshAfterHeal: number;
  readonly runDir: string;
}

async function put(history: History, node: CatgaNode, value: string): Promise<void> {
  const client = history.newClientId();
  const call = history.now();
  const res = await httpCall(`${node.url}/v1/commands/kv.put`, { method: 'POST', body: JSON.stringify({ key: KEY, value }), timeoutMs: 10_000 });
  const outcome = classify(res);
  if (outcome.kind !== 'ok') throw Object.assign(new Error(`probe write failed: ${res.status} ${res.raw}`), { code: 'PROBE_WRITE_FAILED' });
  history.add({ client, op: 'put', key: KEY, value, ok: true, call, return: history.now() });
}

async function read(history: History, node: CatgaNode): Promise<string | null | undefined> {
  const client = history.newClientId();
  const call = history.now();
  try {
    const res = await httpCall(`${node.url}/v1/queries/kv.get?consistency=linearizable`, {
      method: 'POST', body: JSON.stringify({ key: KEY }), timeoutMs: 4_000,
    });
    const outcome = classify(res);
    if (outcome.kind === 'ok') {
      const result = readValue(outcome.response.body);
      history.add({ client, op: 'get', key: KEY, ok: true, result, call, return: history.now() });
      return result;
    }
  } catch {
    // a failed read observed nothing
  }
  history.add({ client, op: 'get', key: KEY, ok: false, call, return: history.now() });
  return undefined;
}

async function readUntilAnswered(history: History, node: CatgaNode): Promise<string | null | undefined> {
  for (let attempt = 0; attempt < HEALED_READ_ATTEMPTS; attempt++) {
    const answer = await read(history, node);
    if (answer !== undefined) return answer;
    await sleep(200);
  }
  return undefined;
}

export async function runStaleReadProbe(seed: number, unsafe: boolean): Promise<StaleReadProbe> {
  const cluster = await LocalCluster.start({
    size: 3,
    seed,
    env: unsafe ? { CATGA_UNSAFE_LOCAL_LINEARIZABLE: '1' } : {},
  });
  let keep = true;
  try {
    const history = new History();
    const oldLeader = await cluster.waitForLeader(30_000);
    await put(history, oldLeader, 'v1');
    cluster.pause(oldLeader);
    const others = cluster.memberNodes().filter((n) => n !== oldLeader);
    await cluster.faults.partition([oldLeader.host], others.map((n) => n.host));
    const newLeader = await cluster.waitForLeader(30_000);
    await put(history, newLeader, 'v2');
    const reads = Array.from({ length: PROBE_READS }, () => read(history, oldLeader));
    await sleep(200); // the reads wait in the frozen process's socket queue
    cluster.resume(oldLeader);
    const answers = await Promise.all(reads);
    await cluster.faults.healAll();
    // Once healed, every node must serve v2: this keeps the correct build's history non-trivial.
    await cluster.waitForLeader(30_000);
    const healed = await Promise.all(cluster.memberNodes().map((n) => readUntilAnswered(history, n)));
    const path = `${cluster.runDir}/history.jsonl`;
    history.writeJsonl(path);
    const lin = await checkLinearizable(path);
    const result: StaleReadProbe = {
      verdict: lin.verdict,
      staleReads: answers.filter((a) => a === 'v1').length,
      freshReads: answers.filter((a) => a === 'v2').length,
      failedReads: answers.filter((a) => a === undefined).length,
      freshAfterHeal: healed.filter((a) => a === 'v2').length,
      runDir: cluster.runDir,
    };
    keep = lin.verdict !== (unsafe ? 'Illegal' : 'Ok');
    return result;
  } finally {
    await cluster.destroy(keep);
  }
}
