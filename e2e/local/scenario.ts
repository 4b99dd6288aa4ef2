// Owns one fault scenario run end to end: start a cluster, start subscribers, the leader monitor
// and the clients, let a nemesis inject faults for most of the traffic window, heal everything,
// then run the durability, event and linearizability checks and return one summary row.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, type CatgaNode, type ClusterOptions } from './cluster.js';
import { History } from './history.js';
import { Workload } from './client.js';
import { EventSubscribers, type SubscriberReport } from './events.js';
import { LeaderMonitor } from './monitor.js';
import { checkDurability, checkLinearizable, type Verdict } from './checks.js';

export const TRAFFIC_SECONDS = Number(process.env['CATGA_E2E_SECONDS'] ?? 30);
/** The nemesis acts during this share of the traffic window; the rest runs on a healed cluster. */
export const FAULT_SHARE = 0.75;
export const CLIENTS_PER_NODE = 2;
export const SHARED_KEYS = 6;
export const REQUEST_TIMEOUT_MS = 3_000;
export const NODE_REQUEST_TIMEOUT_MS = 2_000;
export const THINK_MS = 20;
export const MAX_OPS_PER_CLIENT = 20_000;
export const SETTLE_TIMEOUT_MS = 30_000;
export const EVENT_CUT_EVERY_MS = 3_000;

export interface NemesisContext {
  readonly cluster: LocalCluster;
  readonly random: () => number;
  /** Records that a fault was injected now (time-to-recover is measured from each mark). */
  mark(label: string): void;
  /** Sleeps `ms` (cut short at the end of the fault window); false once the window is over. */
  pause(ms: number): Promise<boolean>;
  /** The members other than `node`. */
  others(node: CatgaNode): CatgaNode[];
  /** The current leader (waits for one, bounded). */
  leader(): Promise<CatgaNode>;
}

export interface Scenario {
  readonly name: string;
  readonly size: number;
  readonly cluster?: Partial<Pick<ClusterOptions, 'linkDelay' | 'env'>>;
  readonly nemesis: (ctx: NemesisContext) => Promise<void>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly nodes: number;
  readonly seconds: number;
  readonly operations: number;
  readonly acked: number;
  readonly failures: number;
  readonly unknowns: number;
  readonly leaderChanges: number;
  readonly faults: number;
  readonly recoverMaxMs: number | null;
  readonly recoverAvgMs: number | null;
  readonly verdict: Verdict;
  readonly lostWrites: number;
  readonly divergentKeys: number;
  readonly missingEvents: number;
  readonly eventsOutOfOrder: number;
  readonly details: string[];
  readonly runDir: string;
}

/** Undoes every fault: network rules, paused and killed processes. */
export async function healEverything(cluster: LocalCluster): Promise<void> {
  await cluster.faults.healAll();
  for (const node of cluster.memberNodes()) {
    if (node.paused) cluster.resume(node);
  }
  await Promise.all(cluster.memberNodes().filter((n) => n.child === null).map((n) => cluster.restart(n)));
}

export async function runScenario(scenario: Scenario, seed: number, seconds = TRAFFIC_SECONDS): Promise<ScenarioResult> {
  const cluster = await LocalCluster.start({
    size: scenario.size,
    seed,
    ...scenario.cluster,
    env: { CATGA_REQUEST_TIMEOUT_MS: String(NODE_REQUEST_TIMEOUT_MS), ...scenario.cluster?.env },
  });
  let passed = false;
  const history = new History();
  const originals = cluster.nodes.slice(0, scenario.size);
  const subscribers = new EventSubscribers(originals, cluster.random, EVENT_CUT_EVERY_MS);
  const monitor = new LeaderMonitor(cluster);
  let trace: WriteStream | undefined;
  try {
    mkdirSync(cluster.runDir, { recursive: true });
    trace = createWriteStream(`${cluster.runDir}/requests.log`);
    subscribers.start();
    monitor.start();
    const trafficMs = seconds * 1000;
    const faultEnd = Date.now() + trafficMs * FAULT_SHARE;
    const marks: Array<{ label: string; atNs: number }> = [];
    const ctx: NemesisContext = {
      cluster,
      random: cluster.random,
      mark: (label) => marks.push({ label, atNs: history.now() }),
      pause: async (ms) => {
        const left = faultEnd - Date.now();
        if (left <= 0) return false;
        await sleep(Math.min(ms, left));
        return Date.now() < faultEnd;
      },
      others: (node) => cluster.memberNodes().filter((n) => n !== node),
      leader: () => cluster.waitForLeader(SETTLE_TIMEOUT_MS),
    };
    const workload = new Workload(history, {
      durationMs: trafficMs,
      clients: CLIENTS_PER_NODE * scenario.size,
      keys: SHARED_KEYS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      thinkMs: THINK_MS,
      maxOpsPerClient: MAX_OPS_PER_CLIENT,
      random: cluster.random,
      targets: () => originals.filter((n) => !n.removed),
      trace,
    });
    const traffic = workload.run();
    await scenario.nemesis(ctx);
    marks.push({ label: 'heal', atNs: history.now() });
    await healEverything(cluster);
    await traffic;
    await cluster.waitForLeader(SETTLE_TIMEOUT_MS);
    monitor.stop();

    const durability = await checkDurability(cluster, history, SETTLE_TIMEOUT_MS);
    const ackedIndexes = history.acked.map((w) => w.index);
    const eventReports: SubscriberReport[] = await subscribers.finish(ackedIndexes, SETTLE_TIMEOUT_MS);
    const historyPath = `${cluster.runDir}/history.jsonl`;
    history.writeJsonl(historyPath);
    const lin = await checkLinearizable(historyPath);

    const recoveries = marks.map((m) => {
      const at = history.firstAckedWriteAfter(m.atNs);
      return at === null ? null : (at - m.atNs) / 1e6;
    });
    const measured = recoveries.filter((r): r is number => r !== null);
    const details = [...durability.details];
    details.push(`outcomes: ${[...history.reasons].map(([r, n]) => `${r} x${n}`).join(', ') || 'all definite'}`);
    if (lin.verdict !== 'Ok') details.push(`checker: ${lin.stdout}; ${lin.stderr}; see ${lin.htmlPath}`);
    if (recoveries.some((r) => r === null)) details.push('a fault was never followed by an acknowledged write');
    for (const r of eventReports) {
      if (r.missing > 0 || r.outOfOrder > 0) details.push(`events on ${r.node}: ${r.missing} missing, ${r.outOfOrder} out of order (of ${r.received}, ${r.reconnects} reconnects) ${r.anomalies.join(', ')}`);
    }
    const result: ScenarioResult = {
      name: scenario.name,
      nodes: scenario.size,
      seconds,
      operations: history.operations,
      acked: history.acked.length,
      failures: history.failures,
      unknowns: history.unknowns,
      leaderChanges: monitor.leaderChanges,
      faults: marks.length - 1,
      recoverMaxMs: measured.length === 0 ? null : Math.max(...measured),
      recoverAvgMs: measured.length === 0 ? null : measured.reduce((a, b) => a + b, 0) / measured.length,
      verdict: lin.verdict,
      lostWrites: durability.lost,
      divergentKeys: durability.divergentKeys,
      missingEvents: eventReports.reduce((a, r) => a + r.missing, 0),
      eventsOutOfOrder: eventReports.reduce((a, r) => a + r.outOfOrder, 0),
      details,
      runDir: cluster.runDir,
    };
    passed = result.verdict === 'Ok' && result.lostWrites === 0 && result.divergentKeys === 0 &&
      result.missingEvents === 0 && result.eventsOutOfOrder === 0;
    return result;
  } finally {
    monitor.stop();
    subscribers.stop();
    await new Promise((resolve) => (trace === undefined ? resolve(null) : trace.end(resolve)));
    await cluster.destroy(!passed);
  }
}

/** The summary table: one row per scenario. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const ms = (v: number | null): string => (v === null ? '-' : String(Math.round(v)));
  const header = ['scenario', 'nodes', 's', 'ops', 'acked', 'failures', 'unknowns', 'leader changes', 'faults',
    'recover max ms', 'recover avg ms', 'porcupine', 'lost writes', 'missing events'];
  const rows = results.map((r) => [r.name, String(r.nodes), String(r.seconds), String(r.operations), String(r.acked),
    String(r.failures), String(r.unknowns), String(r.leaderChanges), String(r.faults), ms(r.recoverMaxMs),
    ms(r.recoverAvgMs), r.verdict, String(r.lostWrites + r.divergentKeys), String(r.missingEvents + r.eventsOutOfOrder)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
