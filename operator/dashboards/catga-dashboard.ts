// The Catga Grafana dashboard, built with the Grafana Foundation SDK: its panels and their PromQL
// are the table below. `generate.ts` writes it to charts/catga-operator/dashboards/catga.json.
//
// It reads only the `namespace` and `pod` labels, which every Prometheus Operator ServiceMonitor
// and PodMonitor target carries: the cluster of a node is its StatefulSet pod name `X-<ordinal>`,
// so no relabelling is needed. Every rate runs over $__rate_interval; per-cluster figures group by
// `catga_cluster`, derived from the pod name in the query itself.
import { DashboardBuilder, DatasourceVariableBuilder, QueryVariableBuilder, RowBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { VizLegendOptionsBuilder, LegendDisplayMode, LegendPlacement } from '@grafana/grafana-foundation-sdk/common';

export const DASHBOARD_UID = 'catga-overview';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The selected CatgaClusters' nodes. */
export const NODES = 'namespace="$namespace", pod=~"$cluster-[0-9]+"';
/** The selected operator's replicas. */
export const OPERATOR = 'namespace="$operator_namespace"';

/** `expr` with a `catga_cluster` label taken from the pod name, for grouping by cluster. */
const withCluster = (expr: string): string => `label_replace(${expr}, "catga_cluster", "$1", "pod", "(.+)-[0-9]+")`;
const rate = (series: string, selector = NODES): string => `rate(${series}{${selector}}[$__rate_interval])`;
const increase = (series: string, selector = NODES): string => `increase(${series}{${selector}}[$__rate_interval])`;
const p = (q: number, by: string, bucket: string, selector = NODES): string => `histogram_quantile(${q}, sum by (${by}, le) (${rate(bucket, selector)}))`;
const pByCluster = (q: number, by: string, bucket: string): string => `histogram_quantile(${q}, sum by (${by}, le) (${withCluster(rate(bucket))}))`;

export interface Target { readonly expr: string; readonly legend: string }
export interface PanelSpec { readonly title: string; readonly description: string; readonly unit: string; readonly targets: readonly Target[] }
export interface RowSpec { readonly title: string; readonly panels: readonly PanelSpec[] }

export const ROWS: readonly RowSpec[] = [
  {
    title: 'Raft',
    panels: [
      { title: 'Leader', description: '1 on the node that is leader. Exactly one per cluster when healthy.', unit: 'short',
        targets: [{ expr: `max by (pod) (catga_raft_role{${NODES}, role="leader"})`, legend: '{{pod}}' }] },
      { title: 'Leader changes', description: 'Leader changes each node saw, per rate interval.', unit: 'short',
        targets: [{ expr: `sum by (pod) (${increase('catga_raft_leader_changes_total')})`, legend: '{{pod}}' }] },
      { title: 'Term', description: 'Raft term per node; a term that keeps rising means failed elections.', unit: 'short',
        targets: [{ expr: `max by (pod) (catga_raft_term{${NODES}})`, legend: '{{pod}}' }] },
      { title: 'Members answering the leader', description: 'On the leader: 1 when a member answered within the current check-quorum round; and the number of voters.', unit: 'short',
        targets: [
          { expr: `max by (pod, peer, voter) (catga_raft_peer_active{${NODES}})`, legend: '{{pod}} → {{peer}} (voter {{voter}})' },
          { expr: `max by (catga_cluster) (${withCluster(`catga_raft_voters{${NODES}}`)})`, legend: '{{catga_cluster}} voters' },
        ] },
    ],
  },
  {
    title: 'Replication',
    panels: [
      { title: 'Commit and applied index', description: 'Highest committed and applied log index per node.', unit: 'short',
        targets: [
          { expr: `max by (pod) (catga_raft_commit_index{${NODES}})`, legend: '{{pod}} commit' },
          { expr: `max by (pod) (catga_raft_applied_index{${NODES}})`, legend: '{{pod}} applied' },
        ] },
      { title: 'Follower lag', description: 'On each leader: its commit index minus what each member has (entries). Computed per leader, so per cluster.', unit: 'short',
        targets: [{ expr: `catga_raft_commit_index{${NODES}} - ignoring (peer) group_right catga_raft_peer_match_index{${NODES}}`, legend: '{{pod}} → {{peer}}' }] },
      { title: 'Apply lag', description: 'Entries each node has seen committed but not yet applied.', unit: 'short',
        targets: [{ expr: `max by (pod) (catga_raft_commit_index{${NODES}}) - max by (pod) (catga_raft_applied_index{${NODES}})`, legend: '{{pod}}' }] },
    ],
  },
  {
    title: 'Requests',
    panels: [
      { title: 'Commands per second', description: 'Commands answered, per cluster and outcome.', unit: 'reqps',
        targets: [{ expr: `sum by (catga_cluster, outcome) (${withCluster(rate('catga_command_duration_seconds_count'))})`, legend: '{{catga_cluster}} {{outcome}}' }] },
      { title: 'Command latency', description: 'From request to applied result, per cluster.', unit: 's',
        targets: [
          { expr: pByCluster(0.5, 'catga_cluster', 'catga_command_duration_seconds_bucket'), legend: '{{catga_cluster}} p50' },
          { expr: pByCluster(0.99, 'catga_cluster', 'catga_command_duration_seconds_bucket'), legend: '{{catga_cluster}} p99' },
        ] },
      { title: 'Query latency p99', description: 'Per cluster and consistency level.', unit: 's',
        targets: [{ expr: pByCluster(0.99, 'catga_cluster, consistency', 'catga_query_duration_seconds_bucket'), legend: '{{catga_cluster}} {{consistency}}' }] },
      { title: 'Forwarded to the leader', description: 'Requests a follower forwarded to the leader, per node and kind.', unit: 'reqps',
        targets: [{ expr: `sum by (pod, kind) (${rate('catga_forwarded_requests_total')})`, legend: '{{pod}} {{kind}}' }] },
    ],
  },
  {
    title: 'Events and WebSocket subscribers',
    panels: [
      { title: 'Events per second', description: 'Events applied, per cluster and type (every node applies every event; this is one node\'s count).', unit: 'ops',
        targets: [{ expr: `max by (catga_cluster, type) (${withCluster(rate('catga_events_published_total'))})`, legend: '{{catga_cluster}} {{type}}' }] },
      { title: 'WebSocket subscribers', description: 'Connected event subscribers per node.', unit: 'short',
        targets: [{ expr: `sum by (pod) (catga_ws_clients{${NODES}})`, legend: '{{pod}}' }] },
      { title: 'Subscribers closed as slow', description: 'Subscribers closed with 4008 (over their backlog, or the largest when the node-wide buffer ran out), per rate interval.', unit: 'short',
        targets: [{ expr: `sum by (pod) (${increase('catga_ws_slow_consumers_closed_total')})`, legend: '{{pod}}' }] },
    ],
  },
  {
    title: 'Peers',
    panels: [
      { title: 'Peer reconnects and drops', description: 'Peer link re-establishments, and Raft messages dropped on a full peer queue, per second.', unit: 'ops',
        targets: [
          { expr: `sum by (pod, peer) (${rate('catga_peer_reconnects_total')})`, legend: '{{pod}} → {{peer}} reconnects' },
          { expr: `sum by (pod, peer) (${rate('catga_peer_messages_dropped_total')})`, legend: '{{pod}} → {{peer}} dropped' },
        ] },
      { title: 'Handshakes rejected', description: 'Peer connections refused at the handshake, per reason, per second.', unit: 'ops',
        targets: [{ expr: `sum by (pod, reason) (${rate('catga_peer_handshakes_rejected_total')})`, legend: '{{pod}} {{reason}}' }] },
    ],
  },
  {
    title: 'Storage',
    panels: [
      { title: 'WAL write p99', description: 'Durable (O_DSYNC) WAL batch writes and segment syncs, per node.', unit: 's',
        targets: [{ expr: p(0.99, 'pod', 'catga_wal_fsync_duration_seconds_bucket'), legend: '{{pod}}' }] },
      { title: 'Data volume free', description: 'Free fraction of the file system holding each node\'s data directory.', unit: 'percentunit',
        targets: [{ expr: `max by (pod) (catga_data_volume_available_bytes{${NODES}}) / max by (pod) (catga_data_volume_size_bytes{${NODES}})`, legend: '{{pod}}' }] },
      { title: 'Snapshots', description: 'State machine snapshots taken, per node and rate interval.', unit: 'short',
        targets: [{ expr: `sum by (pod) (${increase('catga_snapshots_total')})`, legend: '{{pod}}' }] },
      { title: 'Torn WAL records', description: 'Torn tail records cut off when the node last started (a crash mid-write).', unit: 'short',
        targets: [{ expr: `max by (pod) (catga_wal_torn_records_total{${NODES}})`, legend: '{{pod}}' }] },
    ],
  },
  {
    title: 'Process',
    panels: [
      { title: 'Memory', description: 'Resident set size and V8 heap in use, per node.', unit: 'bytes',
        targets: [
          { expr: `max by (pod) (process_resident_memory_bytes{${NODES}})`, legend: '{{pod}} RSS' },
          { expr: `sum by (pod) (nodejs_heap_size_used_bytes{${NODES}})`, legend: '{{pod}} heap used' },
        ] },
      { title: 'Event-loop lag', description: 'p99 event-loop delay per node: a stall longer than the election timeout costs leadership.', unit: 's',
        targets: [{ expr: `max by (pod) (nodejs_eventloop_lag_p99_seconds{${NODES}})`, legend: '{{pod}}' }] },
      { title: 'CPU', description: 'CPU seconds per second, per node.', unit: 'short',
        targets: [{ expr: `sum by (pod) (${rate('process_cpu_seconds_total')})`, legend: '{{pod}}' }] },
    ],
  },
  {
    title: 'Operator',
    panels: [
      { title: 'Operator leader', description: '1 on the replica holding the leader Lease. Exactly one when healthy.', unit: 'short',
        targets: [{ expr: `max by (pod) (catga_operator_leader{${OPERATOR}})`, legend: '{{pod}}' }] },
      { title: 'Reconciles and errors', description: 'Reconcile passes by outcome, and failed passes by error code, per second.', unit: 'ops',
        targets: [
          { expr: `sum by (outcome) (${rate('catga_operator_reconciles_total', OPERATOR)})`, legend: '{{outcome}}' },
          { expr: `sum by (code) (${rate('catga_operator_reconcile_errors_total', OPERATOR)})`, legend: 'error {{code}}' },
        ] },
      { title: 'Reconcile p99 and queue depth', description: 'Duration of one reconcile pass (p99), and keys waiting in the work queue.', unit: 'short',
        targets: [
          { expr: p(0.99, 'namespace', 'catga_operator_reconcile_duration_seconds_bucket', OPERATOR), legend: 'reconcile p99 (s)' },
          { expr: `max(catga_operator_queue_depth{${OPERATOR}})`, legend: 'queue depth' },
        ] },
    ],
  },
];

const PANEL_HEIGHT = 8;
const GRID_WIDTH = 24;

function panel(spec: PanelSpec, width: number): PanelBuilder {
  const b = new PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .height(PANEL_HEIGHT)
    .span(width)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom));
  spec.targets.forEach((t, i) => b.withTarget(new DataqueryBuilder().expr(t.expr).legendFormat(t.legend).refId(String.fromCharCode(65 + i))));
  return b;
}

export function catgaDashboard(): object {
  const b = new DashboardBuilder('Catga')
    .uid(DASHBOARD_UID)
    .description('Catga clusters (Raft, requests, events, storage, process) and the Catga operator.')
    .tags(['catga'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(new QueryVariableBuilder('namespace').label('Namespace').datasource(DATASOURCE)
      .query('label_values(catga_raft_term, namespace)').definition('label_values(catga_raft_term, namespace)')
      .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc))
    .withVariable(new QueryVariableBuilder('cluster').label('CatgaCluster').datasource(DATASOURCE)
      // Pods of cluster X are X-0, X-1, …: the regex keeps X.
      .query('label_values(catga_raft_term{namespace="$namespace"}, pod)').definition('label_values(catga_raft_term{namespace="$namespace"}, pod)')
      .regex('/^(.+)-[0-9]+$/').multi(true).includeAll(true).allValue('.+')
      .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc))
    .withVariable(new QueryVariableBuilder('operator_namespace').label('Operator namespace').datasource(DATASOURCE)
      .query('label_values(catga_operator_leader, namespace)').definition('label_values(catga_operator_leader, namespace)')
      .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc));
  for (const row of ROWS) {
    b.withRow(new RowBuilder(row.title));
    const width = Math.max(GRID_WIDTH / row.panels.length, 6);
    for (const spec of row.panels) b.withPanel(panel(spec, width));
  }
  return b.build();
}
