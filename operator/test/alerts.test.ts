// The chart's PrometheusRule: every alert is run by `promtool test rules` on crafted series, and
// must both fire (with its labels and rendered annotations) and stay quiet on a healthy or
// borderline variant; every alert links to its own section of docs/runbooks.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT } from './repo-paths.js';
import { RELEASE_NAMESPACE, byKind, render } from './chart-render.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup { name: string; rules: Rule[] }

interface Firing {
  readonly labels: Record<string, string>;
  /** The rendered summary annotation; description and runbook_url are compared to the rule's. */
  readonly summary: string;
}
interface AlertCase {
  readonly name: string;
  /** Sample spacing of `series` (promtool's notation, for example `0+1x20` is 0, 1, … 20). */
  readonly interval?: string;
  readonly series: Record<string, string>;
  readonly at: string;
  /** The alerts expected at `at`; empty: the alert stays quiet. */
  readonly fires: readonly Firing[];
}

const RUNBOOK = 'https://github.com/catga/catga/blob/main/docs/runbooks.md';

// Series carry the labels every ServiceMonitor or PodMonitor target has: namespace and pod.
const node = (ns: string, pod: string, extra = ''): string => `namespace="${ns}",pod="${pod}",job="${ns}/catga"${extra}`;
const shop = (pod: string, extra = ''): string => node('shop', pod, extra);

const CASES: Record<string, readonly AlertCase[]> = {
  CatgaNoLeader: [
    {
      name: 'no leader for minutes in shop/orders; billing/orders (same name, other namespace) has one',
      series: {
        [`catga_raft_term{${shop('orders-0')}}`]: '3+1x10',
        [`catga_raft_role{${shop('orders-0', ',role="leader"')}}`]: '0x10',
        [`catga_raft_term{${shop('orders-1')}}`]: '3+1x10',
        [`catga_raft_role{${shop('orders-1', ',role="leader"')}}`]: '0x10',
        [`catga_raft_term{${node('billing', 'orders-0')}}`]: '2x10',
        [`catga_raft_role{${node('billing', 'orders-0', ',role="leader"')}}`]: '1x10',
        [`catga_raft_term{${node('billing', 'orders-1')}}`]: '2x10',
        [`catga_raft_role{${node('billing', 'orders-1', ',role="leader"')}}`]: '0x10',
      },
      at: '5m',
      fires: [{ labels: { namespace: 'shop', catga_cluster: 'orders' }, summary: 'CatgaCluster shop/orders has no Raft leader' }],
    },
    {
      name: 'every node of shop/orders stops answering scrapes',
      series: {
        [`catga_raft_term{${shop('orders-0')}}`]: '4 4 4 _ _ _ _ _ _ _',
        [`catga_raft_role{${shop('orders-0', ',role="leader"')}}`]: '1 1 1 _ _ _ _ _ _ _',
        [`catga_raft_term{${shop('orders-1')}}`]: '4 4 4 _ _ _ _ _ _ _',
        [`catga_raft_role{${shop('orders-1', ',role="leader"')}}`]: '0 0 0 _ _ _ _ _ _ _',
      },
      at: '10m',
      fires: [{ labels: { namespace: 'shop', catga_cluster: 'orders' }, summary: 'CatgaCluster shop/orders has no Raft leader' }],
    },
    {
      name: 'a cluster gone for more than 15 minutes (deleted) is forgotten',
      series: { [`catga_raft_term{${shop('old-0')}}`]: '4 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _', [`catga_raft_role{${shop('old-0', ',role="leader"')}}`]: '1 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _' },
      at: '24m',
      fires: [],
    },
    {
      name: 'an election shorter than a minute',
      series: {
        [`catga_raft_term{${shop('orders-0')}}`]: '3 4 4 4 4',
        [`catga_raft_role{${shop('orders-0', ',role="leader"')}}`]: '1 0 1 1 1',
        [`catga_raft_role{${shop('orders-1', ',role="leader"')}}`]: '0x4',
      },
      at: '2m',
      fires: [],
    },
  ],
  CatgaFrequentLeaderChanges: [
    {
      name: 'a new leader every minute',
      series: { [`catga_raft_leader_changes_total{${shop('orders-1')}}`]: '0+1x10', [`catga_raft_leader_changes_total{${shop('orders-2')}}`]: '0+1x10' },
      at: '10m',
      fires: [{ labels: { namespace: 'shop', catga_cluster: 'orders' }, summary: 'CatgaCluster shop/orders changed leader 10 times in 15 minutes' }],
    },
    {
      name: 'one leader change (a rolling update)',
      series: { [`catga_raft_leader_changes_total{${shop('orders-1')}}`]: '0 1 1 1 1 1 1 1 1 1 1' },
      at: '10m',
      fires: [],
    },
  ],
  CatgaMemberDown: [
    {
      name: 'the leader has not heard from orders-2 for minutes',
      series: {
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-1",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-2",voter="true"')}}`]: '0x10',
      },
      at: '5m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0', job: 'shop/catga', peer: 'orders-2', voter: 'true' }, summary: 'Catga member orders-2 has not answered leader shop/orders-0 for 3 minutes' }],
    },
    {
      name: 'a live peer caught between two check-quorum rounds now and then',
      series: { [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-2",voter="true"')}}`]: '1 0 1 1 0 1 0 1 1 1 1' },
      at: '7m',
      fires: [],
    },
  ],
  CatgaQuorumAtRisk: [
    {
      name: 'three voters, one gone',
      series: {
        [`catga_raft_voters{${shop('orders-0')}}`]: '3x10',
        [`catga_raft_voters{${shop('orders-1')}}`]: '3x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-1",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-2",voter="true"')}}`]: '0x10',
      },
      at: '5m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0' }, summary: 'Catga leader shop/orders-0 reaches only 2 voters: one more failure stops the cluster' }],
    },
    {
      name: 'five voters, one gone; a learner gone in a healthy three; two voters both up',
      series: {
        [`catga_raft_voters{${shop('big-0')}}`]: '5x10',
        [`catga_raft_peer_active{${shop('big-0', ',peer="big-1",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('big-0', ',peer="big-2",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('big-0', ',peer="big-3",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('big-0', ',peer="big-4",voter="true"')}}`]: '0x10',
        [`catga_raft_voters{${shop('orders-0')}}`]: '3x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-1",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-2",voter="true"')}}`]: '1x10',
        [`catga_raft_peer_active{${shop('orders-0', ',peer="orders-3",voter="false"')}}`]: '0x10',
        [`catga_raft_voters{${shop('pair-0')}}`]: '2x10',
        [`catga_raft_peer_active{${shop('pair-0', ',peer="pair-1",voter="true"')}}`]: '1x10',
      },
      at: '5m',
      fires: [],
    },
  ],
  CatgaFollowerLagGrowing: [
    {
      name: 'orders-2 stuck while the leader commits 100 entries a minute',
      series: {
        [`catga_raft_commit_index{${shop('orders-0')}}`]: '1000+100x30',
        [`catga_raft_peer_match_index{${shop('orders-0', ',peer="orders-1"')}}`]: '1000+100x30',
        [`catga_raft_peer_match_index{${shop('orders-0', ',peer="orders-2"')}}`]: '1000x30',
      },
      at: '25m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0', job: 'shop/catga', peer: 'orders-2' }, summary: 'Catga member orders-2 is 2500 entries behind leader shop/orders-0 and falling further behind' }],
    },
    {
      name: 'a follower 2000 entries behind that keeps pace (not growing)',
      series: {
        [`catga_raft_commit_index{${shop('orders-0')}}`]: '5000+100x30',
        [`catga_raft_peer_match_index{${shop('orders-0', ',peer="orders-2"')}}`]: '3000+100x30',
      },
      at: '25m',
      fires: [],
    },
  ],
  CatgaWALWriteSlow: [
    {
      name: 'every WAL write between 100 and 250 ms',
      series: {
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="0.001"')}}`]: '0x20',
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="0.1"')}}`]: '0x20',
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="0.25"')}}`]: '0+600x20',
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="+Inf"')}}`]: '0+600x20',
      },
      at: '20m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-1' }, summary: 'Catga node shop/orders-1: durable WAL writes take 248.5ms at p99' }],
    },
    {
      name: 'WAL writes under a millisecond',
      series: {
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="0.001"')}}`]: '0+600x20',
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="0.1"')}}`]: '0+600x20',
        [`catga_wal_fsync_duration_seconds_bucket{${shop('orders-1', ',le="+Inf"')}}`]: '0+600x20',
      },
      at: '20m',
      fires: [],
    },
  ],
  CatgaDataVolumeNearlyFull: [
    {
      name: '5% free',
      series: { [`catga_data_volume_available_bytes{${shop('orders-2')}}`]: '5e8x10', [`catga_data_volume_size_bytes{${shop('orders-2')}}`]: '1e10x10' },
      at: '10m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-2', job: 'shop/catga' }, summary: 'Catga node shop/orders-2: 5% of its data volume is free' }],
    },
    {
      name: '50% free',
      series: { [`catga_data_volume_available_bytes{${shop('orders-2')}}`]: '5e9x10', [`catga_data_volume_size_bytes{${shop('orders-2')}}`]: '1e10x10' },
      at: '10m',
      fires: [],
    },
  ],
  CatgaStateQuotaNearlyFull: [
    {
      name: '95% of the state quota used',
      series: { [`catga_state_bytes{${shop('orders-0')}}`]: '95x10', [`catga_state_quota_bytes{${shop('orders-0')}}`]: '100x10' },
      at: '10m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0', job: 'shop/catga' }, summary: 'Catga node shop/orders-0 uses 95% of its state quota' }],
    },
    {
      name: 'half the quota used',
      series: { [`catga_state_bytes{${shop('orders-0')}}`]: '50x10', [`catga_state_quota_bytes{${shop('orders-0')}}`]: '100x10' },
      at: '10m',
      fires: [],
    },
  ],
  CatgaSnapshotTransfersFailing: [
    {
      name: 'a failed transfer every minute',
      series: { [`catga_snapshot_failures_total{${shop('orders-0')}}`]: '0+1x20' },
      at: '20m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0' }, summary: 'Catga node shop/orders-0: 15 snapshot transfers failed in 15 minutes' }],
    },
    {
      name: 'one failure, then success',
      series: { [`catga_snapshot_failures_total{${shop('orders-0')}}`]: '0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1' },
      at: '10m',
      fires: [],
    },
  ],
  CatgaPeerHandshakesRejected: [
    {
      name: 'a process with the wrong secret dials for 20 minutes',
      series: { [`catga_peer_handshakes_rejected_total{${shop('orders-0', ',reason="auth_failed"')}}`]: '0+5x20' },
      at: '20m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-0', reason: 'auth_failed' }, summary: 'Catga node shop/orders-0 keeps refusing peer connections (auth_failed)' }],
    },
    {
      name: 'a few refusals in one minute, then none',
      series: { [`catga_peer_handshakes_rejected_total{${shop('orders-0', ',reason="handshake_timeout"')}}`]: '0 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3' },
      at: '20m',
      fires: [],
    },
  ],
  CatgaSubscribersClosedSlow: [
    {
      name: 'five slow subscribers closed a minute',
      series: { [`catga_ws_slow_consumers_closed_total{${shop('orders-1')}}`]: '0+5x20' },
      at: '20m',
      fires: [{ labels: { namespace: 'shop', pod: 'orders-1' }, summary: 'Catga node shop/orders-1 closed 50 WebSocket subscribers as too slow in 10 minutes' }],
    },
    {
      name: 'one closed every two minutes',
      series: { [`catga_ws_slow_consumers_closed_total{${shop('orders-1')}}`]: '0+0.5x20' },
      at: '20m',
      fires: [],
    },
  ],
  CatgaBackupOverdue: [
    {
      name: 'the last success at time 0, evaluated 27 hours later',
      interval: '1h',
      series: { 'catga_backup_last_success_timestamp_seconds{namespace="shop",catga_cluster="orders"}': '0x30' },
      at: '27h',
      fires: [{ labels: { namespace: 'shop', catga_cluster: 'orders' }, summary: 'The last successful backup of shop/orders is 1d 3h 0m 0s old' }],
    },
    {
      name: 'a backup every hour',
      interval: '1h',
      series: { 'catga_backup_last_success_timestamp_seconds{namespace="shop",catga_cluster="orders"}': '0+3600x30' },
      at: '27h',
      fires: [],
    },
  ],
  CatgaOperatorReconcileErrors: [
    {
      name: 'a failing reconcile every minute for 30 minutes; another release\'s operator fails too',
      series: {
        [`catga_operator_reconcile_errors_total{namespace="${RELEASE_NAMESPACE}",pod="op-1",code="CONFLICT"}`]: '0+1x30',
        'catga_operator_reconcile_errors_total{namespace="other",pod="op-1",code="CONFLICT"}': '0+1x30',
      },
      at: '25m',
      fires: [{ labels: { namespace: RELEASE_NAMESPACE, code: 'CONFLICT' }, summary: `The Catga operator in ${RELEASE_NAMESPACE} keeps failing to reconcile (CONFLICT)` }],
    },
    {
      name: 'one error, then clean passes',
      series: { [`catga_operator_reconcile_errors_total{namespace="${RELEASE_NAMESPACE}",pod="op-1",code="CONFLICT"}`]: '0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1' },
      at: '25m',
      fires: [],
    },
  ],
  CatgaOperatorNoLeader: [
    {
      name: 'two replicas, neither holds the Lease',
      series: {
        [`catga_operator_leader{namespace="${RELEASE_NAMESPACE}",pod="op-1"}`]: '0x10',
        [`catga_operator_leader{namespace="${RELEASE_NAMESPACE}",pod="op-2"}`]: '0x10',
      },
      at: '10m',
      fires: [{ labels: { namespace: RELEASE_NAMESPACE }, summary: `No Catga operator replica in ${RELEASE_NAMESPACE} holds the leader Lease` }],
    },
    {
      name: 'no operator scraped at all',
      series: { 'catga_operator_leader{namespace="elsewhere",pod="op-1"}': '1x10' },
      at: '10m',
      fires: [{ labels: { namespace: RELEASE_NAMESPACE }, summary: `No Catga operator replica in ${RELEASE_NAMESPACE} holds the leader Lease` }],
    },
    {
      name: 'one of two replicas leads',
      series: {
        [`catga_operator_leader{namespace="${RELEASE_NAMESPACE}",pod="op-1"}`]: '0x10',
        [`catga_operator_leader{namespace="${RELEASE_NAMESPACE}",pod="op-2"}`]: '1x10',
      },
      at: '10m',
      fires: [],
    },
  ],
};

function ruleGroups(...set: string[]): RuleGroup[] {
  const rules = byKind(render('prometheusRule.enabled=true', ...set), 'PrometheusRule');
  assert.equal(rules.length, 1, 'one PrometheusRule');
  return (rules[0] as unknown as { spec: { groups: RuleGroup[] } }).spec.groups;
}

const alertsOf = (groups: RuleGroup[]): Rule[] => groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

/** promtool's unit-test file: one test group per case, so that cases never see each other's series. */
function promtoolTests(alerts: Rule[]): object {
  const byName = new Map(alerts.map((a) => [a.alert!, a]));
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: Object.entries(CASES).flatMap(([alertname, cases]) => cases.map((c) => {
      const rule = byName.get(alertname);
      assert.ok(rule !== undefined, `cases for ${alertname}, which the chart does not define`);
      return {
        name: `${alertname}: ${c.name}`,
        interval: c.interval ?? '1m',
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [{
          eval_time: c.at,
          alertname,
          exp_alerts: c.fires.map((f) => ({
            exp_labels: { ...rule.labels, ...f.labels },
            exp_annotations: { summary: f.summary, description: rule.annotations!['description'], runbook_url: rule.annotations!['runbook_url'] },
          })),
        }],
      };
    })),
  };
}

test('promtool checks the rendered rules and every alert case: each alert fires and stays quiet', () => {
  const groups = ruleGroups();
  const dir = mkdtempSync(join(tmpdir(), 'catga-alerts-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), yaml.dump({ groups }));
    writeFileSync(join(dir, 'tests.yaml'), yaml.dump(promtoolTests(alertsOf(groups)), { lineWidth: -1 }));
    execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { stdio: 'pipe' });
    try {
      execFileSync('promtool', ['test', 'rules', join(dir, 'tests.yaml')], { stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      assert.fail(`promtool test rules failed:\n${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every alert has a case where it fires and one where it stays quiet', () => {
  const names = alertsOf(ruleGroups()).map((a) => a.alert!).sort();
  assert.deepEqual(Object.keys(CASES).sort(), names);
  for (const name of names) {
    assert.ok(CASES[name]!.some((c) => c.fires.length > 0), `${name} fires in some case`);
    assert.ok(CASES[name]!.some((c) => c.fires.length === 0), `${name} stays quiet in some case`);
  }
});

test('every alert has a severity and a runbook section in docs/runbooks.md at its runbook_url', () => {
  const runbooks = readFileSync(resolve(REPO_ROOT, 'docs/runbooks.md'), 'utf8');
  const headings = new Set([...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!));
  for (const a of alertsOf(ruleGroups())) {
    assert.match(a.labels?.['severity'] ?? '', /^(warning|critical)$/, `${a.alert} severity`);
    assert.equal(a.annotations?.['runbook_url'], `${RUNBOOK}#${a.alert!.toLowerCase()}`);
    assert.ok(headings.has(a.alert!), `docs/runbooks.md has a section "## ${a.alert}"`);
  }
  const moved = alertsOf(ruleGroups('prometheusRule.runbookBaseUrl=https://wiki.example/catga'))[0]!;
  assert.equal(moved.annotations!['runbook_url'], `https://wiki.example/catga#${moved.alert!.toLowerCase()}`);
});

test('the rule is off by default and carries the labels a Prometheus selects rules by', () => {
  assert.equal(byKind(render(), 'PrometheusRule').length, 0);
  const [rule] = byKind(render('prometheusRule.enabled=true', 'prometheusRule.labels.release=kube-prometheus-stack'), 'PrometheusRule');
  assert.equal(rule!.metadata.labels!['release'], 'kube-prometheus-stack');
  assert.equal(rule!.metadata.namespace, RELEASE_NAMESPACE);
});
