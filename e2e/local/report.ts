// Owns the verdict of one run and its summary: the durability, event and linearizability checks
// run after healing, time-to-recover per injected fault, and the table the scenarios print.
import { checkDurability, checkLinearizable, type Verdict } from './checks.js';
import type { EventSubscribers } from './events.js';
import type { History } from './history.js';
import type { Endpoint } from './http.js';

/** A fault injected at `atNs` (History clock); time-to-recover is measured from it. */
export interface FaultMark {
  readonly label: string;
  readonly atNs: number;
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

export interface RunToEvaluate {
  readonly name: string;
  readonly nodes: number;
  readonly seconds: number;
  /** Every member, all healed and running. */
  readonly endpoints: readonly Endpoint[];
  readonly history: History;
  /** Injected faults; the last one is the heal. */
  readonly marks: readonly FaultMark[];
  readonly leaderChanges: number;
  readonly subscribers: EventSubscribers;
  readonly historyPath: string;
  readonly settleTimeoutMs: number;
}

export function runPassed(r: ScenarioResult): boolean {
  return r.verdict === 'Ok' && r.lostWrites === 0 && r.divergentKeys === 0 && r.missingEvents === 0 && r.eventsOutOfOrder === 0;
}

export async function evaluateRun(run: RunToEvaluate): Promise<ScenarioResult> {
  const { history } = run;
  const durability = await checkDurability(run.endpoints, history, run.settleTimeoutMs);
  const eventReports = await run.subscribers.finish(history.acked.map((w) => w.index), run.settleTimeoutMs);
  history.writeJsonl(run.historyPath);
  const lin = await checkLinearizable(run.historyPath);

  const recoveries = run.marks.map((m) => {
    const at = history.firstAckedWriteAfter(m.atNs);
    return at === null ? null : (at - m.atNs) / 1e6;
  });
  const measured = recoveries.filter((r): r is number => r !== null);
  const details = [...durability.details];
  details.push(`faults: ${run.marks.map((m) => `${m.label} @${(m.atNs / 1e9).toFixed(1)}s`).join('; ')}`);
  details.push(`outcomes: ${[...history.reasons].map(([r, n]) => `${r} x${n}`).join(', ') || 'all definite'}`);
  if (lin.verdict !== 'Ok') details.push(`checker: ${lin.stdout}; ${lin.stderr}; see ${lin.htmlPath}`);
  if (recoveries.some((r) => r === null)) details.push('a fault was never followed by an acknowledged write');
  details.push(`events: ${eventReports.map((r) => `${r.node} ${r.received} received, ${r.reconnects} reconnects, ${r.failovers} failovers`).join('; ')}`);
  for (const r of eventReports) {
    if (r.missing > 0 || r.outOfOrder > 0) {
      details.push(`events on ${r.node}: ${r.missing} missing, ${r.outOfOrder} out of order (of ${r.received}, ${r.reconnects} reconnects, ${r.failovers} failovers) ${r.anomalies.join(', ')}`);
    }
  }
  return {
    name: run.name,
    nodes: run.nodes,
    seconds: run.seconds,
    operations: history.operations,
    acked: history.acked.length,
    failures: history.failures,
    unknowns: history.unknowns,
    leaderChanges: run.leaderChanges,
    faults: Math.max(0, run.marks.length - 1),
    recoverMaxMs: measured.length === 0 ? null : Math.max(...measured),
    recoverAvgMs: measured.length === 0 ? null : measured.reduce((a, b) => a + b, 0) / measured.length,
    verdict: lin.verdict,
    lostWrites: durability.lost,
    divergentKeys: durability.divergentKeys,
    missingEvents: eventReports.reduce((a, r) => a + r.missing, 0),
    eventsOutOfOrder: eventReports.reduce((a, r) => a + r.outOfOrder, 0),
    details,
    runDir: run.historyPath.replace(/\/[^/]*$/, ''),
  };
}

/** The summary table: one row per run. */
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
