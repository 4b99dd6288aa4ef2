// Asks a Prometheus every query of the shipped Grafana dashboard (its panels and its variables),
// with the variables set to one CatgaCluster, and fails unless every panel shows data
// (at least one of its queries returns a series; an error counter has none until the first
// error): the proof that the metric names, labels and scrape settings the dashboard relies on
// really meet.
//   node dashboard-check.js --prometheus http://127.0.0.1:9090 --dashboard catga.json --cluster cg \
//     --namespace e2e --operator-namespace catga-system
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

interface Dashboard {
  panels?: { title?: string; targets?: { expr?: string }[] }[];
  templating?: { list?: { name: string; definition?: string }[] };
}

export interface PanelQuery { readonly title: string; readonly expr: string }

/** What the dashboard's variables are set to: one CatgaCluster, its namespace, the operator's. */
export interface Selection { readonly cluster: string; readonly namespace: string; readonly operatorNamespace: string }

/** Rates span four scrapes of 15 s, as Grafana's $__rate_interval would at that interval. */
const RATE_INTERVAL = '1m';

/** `expr` with the dashboard's variables replaced (`$1`-style regex groups are not variables). */
export function substitute(expr: string, s: Selection): string {
  return expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$operator_namespace', s.operatorNamespace)
    .replaceAll('$namespace', s.namespace).replaceAll('$cluster', s.cluster);
}

/** Every panel query with the dashboard's variables replaced. */
export function panelQueries(dashboard: Dashboard, selection: Selection): PanelQuery[] {
  const queries = (dashboard.panels ?? []).flatMap((panel) =>
    (panel.targets ?? []).filter((t) => t.expr).map((t) => ({ title: panel.title ?? '(untitled)', expr: substitute(t.expr!, selection) })));
  const leftover = queries.find((q) => /\$[A-Za-z_]\w*/.test(q.expr));
  if (leftover) throw new Error(`panel "${leftover.title}" uses a variable this check does not set: ${leftover.expr}`);
  return queries;
}

/** `label_values(selector, label)` of a variable, as a query whose series carry that label. */
export function variableQuery(definition: string): { expr: string; label: string } {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(definition.trim());
  if (m === null) throw new Error(`variable definition not understood: ${definition}`);
  return { expr: m[1]!.trim(), label: m[2]! };
}

/** Whether a variable's label value selects the chosen cluster (pods name it: `cg-0` is cluster `cg`). */
function selects(variable: string, value: string | undefined, s: Selection): boolean {
  if (value === undefined) return false;
  if (variable === 'cluster') return value === s.cluster || value.startsWith(`${s.cluster}-`);
  if (variable === 'namespace') return value === s.namespace;
  if (variable === 'operator_namespace') return value === s.operatorNamespace;
  return true;
}

interface QueryResult { status: string; error?: string; data?: { result: { metric: Record<string, string> }[] } }

async function query(prometheus: string, expr: string): Promise<QueryResult> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as QueryResult;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      prometheus: { type: 'string' }, dashboard: { type: 'string' }, cluster: { type: 'string' }, namespace: { type: 'string' },
      'operator-namespace': { type: 'string' }, 'timeout-seconds': { type: 'string', default: '90' },
    },
  });
  if (!values.prometheus || !values.dashboard || !values.cluster || !values.namespace || !values['operator-namespace']) {
    console.error('usage: dashboard-check --prometheus URL --dashboard FILE --cluster NAME --namespace NS --operator-namespace NS [--timeout-seconds 90]');
    return 2;
  }
  const selection: Selection = { cluster: values.cluster, namespace: values.namespace, operatorNamespace: values['operator-namespace'] };
  const dashboard = JSON.parse(readFileSync(values.dashboard, 'utf8')) as Dashboard;
  const checks = panelQueries(dashboard, selection).map((q, i) => ({ ...q, panel: `panel ${q.title}`, i, accept: (r: QueryResult) => (r.data?.result.length ?? 0) > 0 }));
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.definition === undefined) continue;
    const { expr, label } = variableQuery(variable.definition);
    const title = `variable $${variable.name}`;
    checks.push({ title, expr: substitute(expr, selection), panel: title, i: checks.length, accept: (r) => (r.data?.result ?? []).some((m) => selects(variable.name, m.metric[label], selection)) });
  }
  // Rates need two scrapes inside their window: a query may need a few scrape intervals.
  const deadline = Date.now() + Number(values['timeout-seconds']) * 1000;
  const withData = new Set<number>();
  const blankPanels = (): string[] => [...new Set(checks.map((c) => c.panel))].filter((p) => !checks.some((c) => c.panel === p && withData.has(c.i)));
  for (;;) {
    const pending = checks.filter((c) => !withData.has(c.i));
    const results = await Promise.all(pending.map(async (c) => ({ c, r: await query(values.prometheus!, c.expr) })));
    const failed = results.find(({ r }) => r.status !== 'success');
    if (failed) {
      console.error(`query failed: ${failed.c.expr}: ${failed.r.error}`);
      return 1;
    }
    for (const { c, r } of results) if (c.accept(r)) withData.add(c.i);
    if (blankPanels().length === 0 || Date.now() > deadline) break;
    await sleep(5_000);
  }
  for (const c of checks) console.log(`${withData.has(c.i) ? 'data   ' : 'no data'}  ${c.title}: ${c.expr}`);
  const blank = blankPanels();
  for (const p of blank) console.log(`BLANK  ${p}`);
  return blank.length === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
