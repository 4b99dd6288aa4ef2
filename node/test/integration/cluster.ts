// Test fixture: a cluster of real `catga node` processes on 127.0.0.1 with free ports and a
// temporary directory; nodes can be killed, paused and restarted with their data, and `close()`
// removes every process and directory, even after a failure. Plus small HTTP helpers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type LocalMember } from '../../src/local/local-cluster.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const SECRET = 'test-cluster-secret-0123456789';

export interface ClusterOptions {
  readonly nodes: number;
  readonly env?: Record<string, string>;
  /** Members beyond the first `nodes`, started later by the test: they join. */
  readonly spare?: number;
  /** Runs once the members' directories are known, before any node starts. */
  readonly beforeStart?: (members: readonly LocalMember[]) => void | Promise<void>;
  /** CATGA_CLUSTER_ID (default "it"). */
  readonly clusterId?: string;
}

export interface JsonReply {
  status: number;
  body: { ok: boolean; value?: unknown; index?: number; error?: { code: string; message: string } };
  headers: Headers;
}

export async function http(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: JsonReply['body'];
  try { parsed = JSON.parse(text) as JsonReply['body']; } catch { parsed = { ok: false, error: { code: 'NOT_JSON', message: text } }; }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

export async function until<T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Waits until node `i`'s log has a line matching `pattern` (a node logs before the test reads, not always before it answers). */
export function logShows(c: TestCluster, i: number, pattern: RegExp, timeoutMs = 20_000): Promise<true> {
  return until(`node ${i + 1} to log ${pattern}`, () => pattern.test(c.log(i)), timeoutMs, 20);
}

/** A LocalCluster in a temporary directory, with captured logs and cluster-view helpers. */
export class TestCluster {
  private readonly logs = new Map<string, string[]>();
  private constructor(private readonly root: string, readonly local: LocalCluster) {}

  static async start(o: ClusterOptions): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), 'catga-it-'));
    let c: TestCluster | null = null;
    const local = await LocalCluster.create({
      dir: root, members: o.nodes + (o.spare ?? 0), bootstrapExpect: o.nodes,
      clusterId: o.clusterId ?? 'it', secret: SECRET, adminToken: ADMIN_TOKEN,
      // Clients of these tests send no token unless the test configures tokens.
      env: { CATGA_TICK_MS: '20', ...(o.env?.['CATGA_API_TOKENS'] === undefined ? { CATGA_OPEN_ACCESS: 'true' } : {}), ...o.env },
      output: (id, chunk) => {
        const l = c!.logs.get(id) ?? [];
        l.push(chunk);
        if (l.length > 2_000) l.splice(0, 1_000);
        c!.logs.set(id, l);
      },
    });
    c = new TestCluster(root, local);
    try {
      await o.beforeStart?.(local.members);
    } catch (err) {
      rmSync(root, { recursive: true, force: true });
      throw err;
    }
    local.startAll();
    return c;
  }

  get nodes(): LocalMember[] { return this.local.members; }
  url(i: number): string { return this.local.members[i]!.url; }
  log(i: number): string { return (this.logs.get(this.local.members[i]!.id) ?? []).join(''); }
  startNode(i: number, env: Record<string, string> = {}): void { this.logs.delete(this.local.members[i]!.id); this.local.start(i, env); }
  kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> { return this.local.stop(i, signal); }
  signal(i: number, signal: NodeJS.Signals): void { this.local.members[i]!.proc!.kill(signal); }

  async cluster(i: number): Promise<ClusterViewBody> {
    const r = await http(`${this.url(i)}/v1/cluster`, 'GET');
    if (r.status !== 200) throw new Error(`GET /v1/cluster on n${i + 1}: ${r.status}`);
    return r.body.value as ClusterViewBody;
  }

  running(i: number): boolean { return this.local.running(i); }

  /** Index of the leader every live member (or those in `among`) agrees on. */
  async leader(timeoutMs = 20_000, among?: number[]): Promise<number> {
    const live = among ?? this.nodes.map((_, i) => i).filter((i) => this.running(i));
    return until('one agreed leader', async () => {
      const views = await Promise.all(live.map((i) => this.cluster(i).catch(() => null)));
      const leaders = new Set(views.map((v) => v?.leader ?? null));
      if (leaders.size !== 1) return null;
      const id = [...leaders][0];
      const idx = this.nodes.findIndex((n) => n.id === id);
      return idx >= 0 && live.includes(idx) ? idx : null;
    }, timeoutMs);
  }

  dumpLogs(): string {
    return this.nodes.map((n, i) => `---- ${n.id}\n${this.log(i).split('\n').slice(-40).join('\n')}`).join('\n');
  }

  async close(): Promise<void> {
    await this.local.stopAll('SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface ClusterViewBody {
  id: string; role: string; term: number; leader: string | null; commitIndex: number; appliedIndex: number; lastLogIndex: number;
  members: Array<{ id: string; address: string; voter: boolean; matchIndex: number; healthy: boolean }>;
}

export function command(url: string, type: string, payload: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  return http(`${url}/v1/commands/${type}`, 'POST', payload, headers);
}

export function queryReq(url: string, type: string, payload: unknown, consistency = 'local'): Promise<JsonReply> {
  return http(`${url}/v1/queries/${type}?consistency=${consistency}`, 'POST', payload);
}
