// Owns one fault scenario run end to end: start a cluster, start subscribers, the leader monitor
// and the clients, let a nemesis inject faults for most of the traffic window, heal everything,
// then run the durability, event and linearizability checks (report.ts) and return one row.
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, type CatgaNode, type ClusterOptions } from './cluster.js';
import { History } from './history.js';
import { Workload } from './client.js';
import { EventSubscribers } from './events.js';
import { LeaderMonitor } from './monitor.js';
import { evaluateRun, runPassed, type FaultMark, type ScenarioResult } from './report.js';

export const TRAFFIC_SECONDS = Number(process.env['CATGA_E2E_SECONDS'] ?? 30);
/** The nemesis acts during this share of the traffic window; the rest runs on a healed cluster. */
export const FAULT_SHARE = 0.75;
/** Hard cap on traffic, as a multiple of the window (a nemesis that overruns stays bounded). */
export const MAX_TRAFFIC_FACTOR = 5;
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

/** Undoes every fault: network rules, paused and killed processes. */
async function healEverything(cluster: LocalCluster): Promise<void> {
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
  const monitor = new LeaderMonitor(() => cluster.memberNodes());
  let trace: WriteStream | undefined;
  try {
    trace = createWriteStream(`${cluster.runDir}/requests.log`);
    subscribers.start();
    monitor.start();
    const trafficMs = seconds * 1000;
    const trafficStart = Date.now();
    const faultEnd = trafficStart + trafficMs * FAULT_SHARE;
    const marks: FaultMark[] = [];
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
      maxDurationMs: trafficMs * MAX_TRAFFIC_FACTOR,
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
    // Traffic runs its full window and, if the nemesis overran it, a healed tail after it.
    const healedTailMs = trafficMs * (1 - FAULT_SHARE);
    await sleep(Math.max(trafficStart + trafficMs - Date.now(), healedTailMs));
    workload.stop();
    await traffic;
    await cluster.waitForLeader(SETTLE_TIMEOUT_MS);
    monitor.stop();

    const result = await evaluateRun({
      name: scenario.name,
      nodes: scenario.size,
      seconds,
      endpoints: cluster.memberNodes(),
      history,
      marks,
      leaderChanges: monitor.leaderChanges,
      subscribers,
      historyPath: `${cluster.runDir}/history.jsonl`,
      settleTimeoutMs: SETTLE_TIMEOUT_MS,
    });
    passed = runPassed(result);
    return result;
  } finally {
    monitor.stop();
    subscribers.stop();
    await new Promise((resolve) => (trace === undefined ? resolve(null) : trace.end(resolve)));
    await cluster.destroy(!passed);
  }
}

