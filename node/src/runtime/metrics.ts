// The node's Prometheus metrics (docs/api.md#metrics): one registry per node process, holding the Raft,
// log, transport, command/query/event and WebSocket series plus prom-client's process defaults.
// Gauges that mirror Raft state (and the data volume's free space) are read at scrape time, so the
// hot path never touches them.
import { statfsSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RaftStatus, Role } from '../raft/types.js';
import { HANDSHAKE_REJECT_REASONS } from '../transport/handshake.js';
import type { TransferMetrics } from './snapshot-transfer.js';
import type { ServerMetrics } from '../server/metrics.js';
import { TypeLabels } from './type-labels.js';
import type { ReactorMetricsSink } from './reactor-runner.js';

/** Module state size against its quota, read at scrape time. */
export interface StateFigures {
  readonly bytes: number;
  readonly quota: number;
  /** Commands refused by the quota on this node since it started. */
  readonly refused: number;
}

const ROLES: readonly Role[] = ['follower', 'precandidate', 'candidate', 'leader'];
/** The gauges that read one number off the Raft status at scrape time: name, help, the number. */
const STATUS_GAUGES: readonly (readonly [string, string, (s: RaftStatus) => number])[] = [
  ['catga_raft_term', 'Current Raft term.', (s) => s.term],
  ['catga_raft_commit_index', 'Highest log index known to be committed.', (s) => s.commit],
  ['catga_raft_applied_index', 'Highest log index applied to the state machine.', (s) => s.applied],
  ['catga_raft_last_log_index', 'Index of the last entry in the local log.', (s) => s.lastIndex],
  ['catga_raft_voters', 'Voters in the configuration this node knows.', (s) => s.conf.voters.length],
];
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A reactor's replicated progress, read at scrape time. */
export interface ReactorFigures {
  readonly reactor: string;
  readonly checkpointIndex: number;
  readonly deadLetters: number;
}

export class NodeMetrics implements ServerMetrics {
  readonly registry = new Registry();
  /** The bounded `type` label values of the command, query and event series. */
  readonly typeLabels = new TypeLabels();
  readonly leaderChanges: Counter;
  readonly walFsync: Histogram;
  readonly walTornRecords: Counter;
  readonly commandDuration: Histogram<'type' | 'outcome'>;
  readonly queryDuration: Histogram<'type' | 'consistency'>;
  /** Events applied since the last scrape, by type: counted in a Map on the hot path, added at scrape time. */
  private readonly eventsUnscraped = new Map<string, number>();
  readonly wsClients: Gauge;
  readonly eventFeeds: Gauge;
  readonly httpConnections: Gauge;
  readonly httpConnectionsClosed: Counter<'reason'>;
  readonly wsSlowClosed: Counter;
  readonly peerDrops: Counter<'peer'>;
  readonly peerRejected: Counter<'reason'>;
  readonly peerReconnects: Counter<'peer'>;
  readonly snapshotsTaken: Counter;
  readonly forwarded: Counter<'kind'>;
  readonly snapshotTransfer: TransferMetrics;
  /** Reactor handlings, dead letters and whether reactors run here (the leader). */
  readonly reactors: ReactorMetricsSink;
  private stateFigures: () => StateFigures = () => ({ bytes: 0, quota: 0, refused: 0 });
  private reactorCheckpoints: () => readonly ReactorFigures[] = () => [];
  private raftStatus: (() => RaftStatus) | null = null;

  /** `dataDir`: the data directory whose file system the volume gauges describe (none: no volume gauges). */
  constructor(dataDir?: string) {
    const r = this.registry;
    const status = (): RaftStatus => {
      if (this.raftStatus === null) throw new Error('NodeMetrics: observeRaft was not called before a scrape');
      return this.raftStatus();
    };
    collectDefaultMetrics({ register: r });
    // prom-client names these gauges `_total`, which the exposition format reserves for counters
    // (`promtool check metrics` refuses them); the handle and request counts are not worth a rename.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(name);
    for (const [name, help, read] of STATUS_GAUGES) {
      new Gauge({ name, help, registers: [r], collect() { this.set(read(status())); } });
    }
    new Gauge({
      name: 'catga_raft_role', help: 'Current Raft role: 1 for the role this node has, 0 for the others.',
      labelNames: ['role'], registers: [r],
      collect() {
        const role = status().role;
        for (const x of ROLES) this.set({ role: x }, x === role ? 1 : 0);
      },
    });
    new Gauge({
      name: 'catga_raft_peer_match_index', help: 'On the leader: highest index known replicated on each peer.',
      labelNames: ['peer'], registers: [r],
      collect() {
        this.reset();
        for (const [peer, p] of Object.entries(status().progress)) this.set({ peer }, p.match);
      },
    });
    new Gauge({
      name: 'catga_raft_peer_active', help: 'On the leader: 1 when the peer answered within the current check-quorum round (an election timeout), 0 otherwise; label voter tells voters from learners.',
      labelNames: ['peer', 'voter'], registers: [r],
      collect() {
        this.reset();
        for (const [peer, p] of Object.entries(status().progress)) this.set({ peer, voter: String(p.voter) }, p.recentActive ? 1 : 0);
      },
    });
    if (dataDir !== undefined) {
      // One statfs per scrape and per gauge: two cheap syscalls, and each gauge reads the volume as it is.
      new Gauge({
        name: 'catga_data_volume_available_bytes', help: 'Bytes available to the node on the file system of its data directory.', registers: [r],
        collect() { const fs = statfsSync(dataDir); this.set(fs.bavail * fs.bsize); },
      });
      new Gauge({
        name: 'catga_data_volume_size_bytes', help: 'Size in bytes of the file system of the data directory.', registers: [r],
        collect() { const fs = statfsSync(dataDir); this.set(fs.blocks * fs.bsize); },
      });
    }
    this.leaderChanges = new Counter({ name: 'catga_raft_leader_changes_total', help: 'Times this node saw the leader change.', registers: [r] });
    this.walFsync = new Histogram({
      name: 'catga_wal_fsync_duration_seconds', help: 'Duration of write-ahead log syncs: each durable (O_DSYNC) batch write, and the fsyncs of new segments and the directory.', registers: [r],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
    this.walTornRecords = new Counter({ name: 'catga_wal_torn_records_total', help: 'Torn tail records cut off during recovery.', registers: [r] });
    this.commandDuration = new Histogram({
      name: 'catga_command_duration_seconds', help: 'Command latency from request to applied result.',
      labelNames: ['type', 'outcome'], buckets: LATENCY_BUCKETS, registers: [r],
    });
    this.queryDuration = new Histogram({
      name: 'catga_query_duration_seconds', help: 'Query latency.',
      labelNames: ['type', 'consistency'], buckets: LATENCY_BUCKETS, registers: [r],
    });
    const unscraped = this.eventsUnscraped;
    new Counter({
      name: 'catga_events_published_total', help: 'Events applied on this node, by type.', labelNames: ['type'], registers: [r],
      collect() {
        for (const [type, n] of unscraped) this.inc({ type }, n);
        unscraped.clear();
      },
    });
    this.wsClients = new Gauge({ name: 'catga_ws_clients', help: 'Connected WebSocket event subscribers.', registers: [r] });
    this.eventFeeds = new Gauge({ name: 'catga_event_feeds', help: 'Event feeds open on this node: WebSocket subscribers and upgrades still in progress.', registers: [r] });
    this.httpConnections = new Gauge({ name: 'catga_http_connections', help: 'Open connections to the HTTP API (WebSocket subscribers included).', registers: [r] });
    this.httpConnectionsClosed = new Counter({ name: 'catga_http_connections_closed_total', help: 'HTTP connections the node closed: `cap` (the connection limit was reached), `idle` (no request in time).', labelNames: ['reason'], registers: [r] });
    this.wsSlowClosed = new Counter({ name: 'catga_ws_slow_consumers_closed_total', help: 'Subscribers closed as too slow: over their backlog, or holding the most when the node-wide buffer budget ran out.', registers: [r] });
    this.peerDrops = new Counter({ name: 'catga_peer_messages_dropped_total', help: 'Raft messages dropped on a full peer queue.', labelNames: ['peer'], registers: [r] });
    this.peerRejected = new Counter({ name: 'catga_peer_handshakes_rejected_total', help: 'Peer connections refused at the handshake.', labelNames: ['reason'], registers: [r] });
    // Every reason is a series from the start (at 0): a healthy cluster shows zero refusals, not no data.
    for (const reason of HANDSHAKE_REJECT_REASONS) this.peerRejected.inc({ reason }, 0);
    this.peerReconnects = new Counter({ name: 'catga_peer_reconnects_total', help: 'Peer connection re-establishments.', labelNames: ['peer'], registers: [r] });
    this.snapshotsTaken = new Counter({ name: 'catga_snapshots_total', help: 'State machine snapshots taken by this node.', registers: [r] });
    this.forwarded = new Counter({ name: 'catga_forwarded_requests_total', help: 'Requests forwarded to the leader.', labelNames: ['kind'], registers: [r] });
    const sent = new Counter({ name: 'catga_snapshot_sent_bytes_total', help: 'Snapshot chunk bytes served to other members.', registers: [r] });
    const received = new Counter({ name: 'catga_snapshot_received_bytes_total', help: 'Snapshot chunk bytes received from the leader.', registers: [r] });
    const duration = new Histogram({
      name: 'catga_snapshot_transfer_duration_seconds', help: 'Time from a snapshot message to its state installed here (received, verified, swapped in).', registers: [r],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    });
    const failures = new Counter({ name: 'catga_snapshot_transfer_failures_total', help: 'Snapshot chunk requests that failed and were retried (kind=retry), transfers given up (kind=abandoned).', labelNames: ['kind'], registers: [r] });
    this.snapshotTransfer = {
      bytesSent: (n) => sent.inc(n),
      bytesReceived: (n) => received.inc(n),
      installed: (seconds) => duration.observe(seconds),
      failed: (kind) => failures.inc({ kind }),
    };
    const handled = new Counter({ name: 'catga_reactor_handled_total', help: 'Reactor handlings on this node (the leader), by reactor and outcome: ok, error, timeout (a try failed), dead_letter (given up after the last try).', labelNames: ['reactor', 'outcome'], registers: [r] });
    const handleDuration = new Histogram({ name: 'catga_reactor_handle_duration_seconds', help: 'Duration of one reactor try.', labelNames: ['reactor'], buckets: LATENCY_BUCKETS, registers: [r] });
    const running = new Gauge({ name: 'catga_reactor_running', help: 'Reactors running on this node: all of them on the leader, 0 elsewhere.', registers: [r] });
    this.reactors = {
      handled: (reactor, outcome, seconds) => {
        handled.inc({ reactor, outcome });
        if (outcome !== 'dead_letter') handleDuration.observe({ reactor }, seconds);
      },
      running: (count) => running.set(count),
    };
    const reactorFigures = (): readonly ReactorFigures[] => this.reactorCheckpoints();
    new Gauge({
      name: 'catga_reactor_checkpoint_index', help: 'Index of the entry of the last event each reactor finished (replicated: the same on every node once applied).', labelNames: ['reactor'], registers: [r],
      collect() { for (const f of reactorFigures()) this.set({ reactor: f.reactor }, f.checkpointIndex); },
    });
    new Gauge({
      name: 'catga_reactor_dead_letters', help: 'Dead letters held per reactor (replicated).', labelNames: ['reactor'], registers: [r],
      collect() { for (const f of reactorFigures()) this.set({ reactor: f.reactor }, f.deadLetters); },
    });
    const figures = (): StateFigures => this.stateFigures();
    new Gauge({ name: 'catga_state_bytes', help: 'Bytes of module state (keys and values), what the state quota counts.', registers: [r], collect() { this.set(figures().bytes); } });
    new Gauge({ name: 'catga_state_quota_bytes', help: 'The state quota of this node (CATGA_STATE_QUOTA_BYTES).', registers: [r], collect() { this.set(figures().quota); } });
    let refusedSeen = 0;
    new Counter({
      name: 'catga_state_quota_exceeded_total', help: 'Commands refused with STATE_QUOTA_EXCEEDED (applied on this node).', registers: [r],
      collect() {
        const refused = figures().refused;
        if (refused > refusedSeen) this.inc(refused - refusedSeen);
        refusedSeen = refused;
      },
    });
  }

  /** Where the reactor progress gauges read their figures. */
  observeReactors(figures: () => readonly ReactorFigures[]): void {
    this.reactorCheckpoints = figures;
  }

  /** Where the state gauges read their figures. */
  /** Where the Raft gauges are read from: the driver, once it exists. */
  observeRaft(status: () => RaftStatus): void {
    this.raftStatus = status;
  }

  observeState(figures: () => StateFigures): void {
    this.stateFigures = figures;
  }

  /** An event of `type` was applied here (once per event of every entry, on every node). */
  eventApplied(type: string, raisedByCommand: boolean): void {
    const label = this.typeLabels.event(type, raisedByCommand);
    this.eventsUnscraped.set(label, (this.eventsUnscraped.get(label) ?? 0) + 1);
  }
}
