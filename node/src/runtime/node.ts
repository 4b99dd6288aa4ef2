// One Catga node, assembled: storage recovery, the mediator and its handlers, membership
// (runtime/membership.ts), the Raft core and its driver, the peer transport, the HTTP server, and an orderly
// shutdown. This is the only module that knows every other one; each of them stays testable alone.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfState, Snapshot, SoftState } from '../raft/types.js';
import { createRaft, defaultRaftConfig, type RaftCore } from '../raft/index.js';
import { NodeFileSystem, openFileStorage, type FileRaftStorage, type Recovered } from '../storage/index.js';
import { createPeerTransport, TlsReloader, type WsPeerTransport } from '../transport/index.js';
import { hostResolver } from '../membership/index.js';
import { CatgaServer } from '../server/server.js';
import type { NodeApi, Readiness } from '../server/api.js';
import type { NodeConfig } from './config.js';
import { RaftDriver } from '../driver/driver.js';
import { realTimers } from '../driver/timers.js';
import { createLogger, type Logger } from '../common/logger.js';
import { NodeMetrics } from './metrics.js';
import { NodeService } from './service.js';
import { Membership } from './membership.js';
import { PeerContact } from './peer-contact.js';
import { createMediatorPort, type NodeMediator } from './mediator-port.js';
import { LmdbStateEngine } from '../state/lmdb-engine.js';
import { EventStore } from '../state/event-store.js';
import { DirectorySegmentFiles } from '../state/event-files.js';
import { encodeDescriptor } from '../state/snapshot-stream.js';
import { SnapshotTransfer } from './snapshot-transfer.js';
import { SNAPSHOT_META_KEY } from '../state/snapshot-stream.js';
import { reconcile } from './state-recovery.js';
import { importImageV1, parseImageV1 } from '../catga/image-v1.js';
import { fail, ok, type Result } from '../catga/result.js';
import { readCheckpoint, REACTOR_MODULE } from '../catga/reactor-progress.js';
import { ClusterWatch } from './cluster-watch.js';
import type { Behavior, ModuleDefinition } from '../catga/api.js';
import { ReactorRunner } from './reactor-runner.js';
import { VersionGate } from './version-gate.js';
import { callRpc, serveRpc, VERSIONS_RPC } from './peer-rpc.js';
import { ModuleVersionError } from '../catga/module-versions.js';
import { asCatgaError } from '../common/errors.js';
import type { CommandOutcome } from '../server/api.js';
import { completeRestore, pendingRestore, RestoreError } from '../backup/restore.js';
import { BackupSources } from './backup-source.js';

export interface RunningNode {
  readonly httpPort: number;
  readonly api: NodeApi;
  /** Role, leader, term and membership as this node sees them, versioned and watchable. */
  readonly watch: ClusterWatch;
  /** Graceful stop: refuse new work, hand leadership over, flush, close. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when the node has stopped, for whatever reason. */
  readonly stopped: Promise<void>;
}

/** What an application hands a node it embeds, beyond the settings of `catga node`. */
export interface NodeExtras {
  /** Module definitions loaded after the builtins and CATGA_HANDLERS files. */
  readonly modules?: readonly ModuleDefinition[];
  /** Node-wide pipeline behaviours around every module's commands and queries, outermost first. */
  readonly behaviors?: readonly Behavior[];
}

/** Where Raft starts from: the storage's recovered state, reconciled with the state engine's. */
type RaftStart = ReturnType<typeof reconcile>;

/** The node's durable state, opened: the WAL, the state engine with the mediator over it, and where Raft starts. */
interface LocalState {
  readonly storage: FileRaftStorage;
  readonly engine: LmdbStateEngine;
  readonly mediator: NodeMediator;
  readonly recovered: Recovered;
  /** A data directory `catga restore` prepared: its first start makes it a member of a new cluster. */
  readonly restoring: ReturnType<typeof pendingRestore>;
  readonly start: RaftStart;
}

/** A stop asked for by a part of the node (a fatal storage error, module code behind the cluster), answered by the running node. */
class StopRequests {
  private handler: ((reason: string, exitCode: number) => void) | null = null;

  constructor(private readonly log: Logger) {}

  handleWith(handler: (reason: string, exitCode: number) => void): void {
    this.handler = handler;
  }

  /** This node's code is older than a module version active in the cluster: it stops rather than diverge. */
  behind(err: ModuleVersionError): void {
    this.log.error('module_version_behind', { code: err.code, module: err.module, active: err.active, running: err.running, message: err.message });
    this.handler?.('module version behind the cluster', 1);
  }

  fatal(err: unknown): void {
    if (err instanceof ModuleVersionError) return this.behind(err);
    this.log.error('fatal_storage_failure', { err });
    this.handler?.('storage failure', 1);
  }
}

/** The snapshot descriptor of the state at `index` (sizes known only for the applied index). */
function descriptorOf(m: NodeMediator['mediator'], index: number): Uint8Array {
  return encodeDescriptor(index === m.appliedIndex
    ? { format: 2, index, stateBytes: m.state.stateBytes, idemRows: m.idempotency.size }
    : { format: 2, index, stateBytes: -1, idemRows: -1 });
}

/** Opens the WAL and the state engine, loads the modules, and reconciles where Raft starts. */
async function openLocalState(cfg: NodeConfig, extras: NodeExtras, log: Logger, metrics: NodeMetrics, stops: StopRequests): Promise<LocalState> {
  const fs = new NodeFileSystem(cfg.testDiskDelayMs);
  const storage = openFileStorage(cfg.dataDir, { onFsync: (s: number) => metrics.walFsync.observe(s) }, fs);
  const recovered = await storage.open();
  if (recovered.tornRecordsDropped > 0) {
    metrics.walTornRecords.inc(recovered.tornRecordsDropped);
    log.warn('wal_torn_tail_dropped', { records: recovered.tornRecordsDropped });
  }
  const engine = new LmdbStateEngine(join(cfg.dataDir, 'state'));
  const events = new EventStore(new DirectorySegmentFiles(join(cfg.dataDir, 'events'), fs));
  let mediator: NodeMediator;
  try {
    mediator = await createMediatorPort(cfg, metrics, log, engine, events, (err) => stops.behind(err), extras);
  } catch (err) {
    // Bad modules, or code older than the state's active versions: release the data directory
    // (an embedding application may try again in the same process).
    events.close();
    await engine.close();
    await storage.close();
    throw err;
  }
  const m = mediator.mediator;
  const image = recovered.snapshot === null ? null : parseImageV1(recovered.snapshot.data);
  if (image !== null && recovered.snapshot !== null && m.appliedIndex === 0) {
    importImageV1(m, image, recovered.snapshot.meta.index);
    await engine.sync();
    log.info('state_imported', { index: recovered.snapshot.meta.index, reason: 'the data directory predates the state engine' });
  }
  const walFresh = recovered.hardState.term === 0 && recovered.snapshot === null && recovered.entries.length === 0;
  const restoring = pendingRestore(engine, cfg, walFresh, recovered.snapshot?.meta ?? null);
  const engineSnapshot = engine.get('meta', SNAPSHOT_META_KEY);
  const start: RaftStart = restoring !== null
    ? { hardState: recovered.hardState, snapshot: null, entries: [], applied: 0, persistSnapshot: false }
    : reconcile(recovered, {
      applied: m.appliedIndex,
      snapshotMeta: engineSnapshot === undefined ? null : JSON.parse(Buffer.from(engineSnapshot).toString('utf8')),
      descriptor: (index) => descriptorOf(m, index),
    });
  if (start.persistSnapshot) {
    await storage.save(start.snapshot, [], start.hardState);
    log.warn('snapshot_recovered_from_state_engine', { index: start.applied, reason: 'the node stopped after installing a snapshot and before its log recorded it' });
  }
  metrics.observeState(() => ({ bytes: m.state.stateBytes, quota: cfg.stateQuotaBytes, refused: m.quotaRefused }));
  return { storage, engine, mediator, recovered, restoring, start };
}

function createNodeTransport(cfg: NodeConfig, metrics: NodeMetrics, log: Logger): WsPeerTransport {
  return createPeerTransport({
    id: cfg.nodeId,
    clusterId: cfg.clusterId,
    secret: cfg.clusterSecret,
    tls: cfg.tls,
    listenHost: cfg.bindHost,
    listenPort: cfg.peerPort,
    resolveHost: hostResolver(cfg.dnsServer),
    metrics: {
      onHandshakeRejected: (reason) => metrics.peerRejected.inc({ reason }),
      onDrop: (peer, count) => metrics.peerDrops.inc({ peer }, count),
      onReconnect: (peer) => metrics.peerReconnects.inc({ peer }),
    },
    // Connection churn (refused dials while a peer restarts) is debug; what an operator acts on is info.
    log: (event, fields) => (/rejected|bad_frame|connected|listening|closed/.test(event) ? log.info : log.debug)(event, fields as Record<string, unknown>),
  });
}

/**
 * The first start of a restored data directory: the new cluster's log starts after the backup's
 * index, from a snapshot every first member derives alike (term 1, as bootstrap entries have: the
 * cluster is not established until a leader of term 2 writes). Returns where Raft starts.
 */
async function startRestoredCluster(cfg: NodeConfig, local: LocalState, restoring: NonNullable<LocalState['restoring']>, bootstrap: ConfState | null,
  membership: Membership, log: Logger): Promise<RaftStart> {
  if (bootstrap === null) {
    throw new RestoreError(`a first member of cluster ${cfg.clusterId} already runs: a restored data directory only starts a new cluster, with every first member restored from the same backup (remove this directory to join the running cluster as a new member)`);
  }
  const snapshot: Snapshot = { meta: { index: restoring.index, term: 1, conf: bootstrap }, data: descriptorOf(local.mediator.mediator, restoring.index) };
  membership.startedRestoredCluster({ from: restoring.backup, conf: bootstrap });
  const hardState = { term: 1, vote: null, commit: restoring.index };
  await local.storage.save(snapshot, [], hardState);
  local.engine.write((tx) => completeRestore(tx, snapshot.meta));
  await local.engine.sync();
  log.info('restored_cluster_started', { index: restoring.index, clusterId: cfg.clusterId, sourceClusterId: restoring.sourceClusterId, voters: snapshot.meta.conf.voters });
  return { hardState, snapshot, entries: [], applied: restoring.index, persistSnapshot: false };
}

/** What the node decided before its core runs: where Raft starts and the configuration it bootstraps, if any. */
interface Boot {
  readonly start: RaftStart;
  readonly fresh: boolean;
  readonly bootstrap: ConfState | null;
}

export async function startNode(cfg: NodeConfig, extras: NodeExtras = {}): Promise<RunningNode> {
  const term = { current: 0 };
  const log = createLogger(cfg.nodeId, cfg.logLevel, () => term.current);
  mkdirSync(cfg.dataDir, { recursive: true });
  const metrics = new NodeMetrics(cfg.dataDir);
  const stops = new StopRequests(log);
  const local = await openLocalState(cfg, extras, log, metrics, stops);
  const transport = createNodeTransport(cfg, metrics, log);
  const membership = new Membership({ cfg, incarnation: local.recovered.incarnation, restoredFrom: local.restoring?.backup ?? null, transport, log });
  serveRpc(transport, VERSIONS_RPC, () => local.mediator.mediator.running);
  await transport.start();
  const fresh = local.start.hardState.term === 0 && local.start.snapshot === null && local.start.entries.length === 0;
  const bootstrap = await membership.firstConfiguration(fresh);
  const start = local.restoring === null ? local.start : await startRestoredCluster(cfg, local, local.restoring, bootstrap, membership, log);
  if (!fresh) log.info('recovered', { term: start.hardState.term, commit: start.hardState.commit, snapshot: start.snapshot?.meta.index ?? 0, entries: start.entries.length, stateApplied: start.applied, incarnation: local.recovered.incarnation });
  const node = new NodeRuntime({ cfg, log, term, metrics, stops, local, transport, membership, boot: { start, fresh, bootstrap } });
  await node.listen();
  return node;
}

interface NodeParts {
  readonly cfg: NodeConfig;
  readonly log: Logger;
  /** The term the logger stamps on every line. */
  readonly term: { current: number };
  readonly metrics: NodeMetrics;
  readonly stops: StopRequests;
  readonly local: LocalState;
  readonly transport: WsPeerTransport;
  readonly membership: Membership;
  readonly boot: Boot;
}

/** A running node: the Raft core and driver over the local state, the service, reactors, version gate and HTTP server, and its shutdown. */
class NodeRuntime implements RunningNode {
  httpPort = 0;
  readonly api: NodeApi;
  readonly watch: ClusterWatch;
  readonly stopped: Promise<void>;
  private readonly driver: RaftDriver;
  private readonly transfer: SnapshotTransfer;
  private readonly service: NodeService;
  private readonly reactors: ReactorRunner;
  private readonly versionGate: VersionGate;
  private readonly server: CatgaServer;
  private readonly tlsReloader: TlsReloader | null;
  private lastLeader: string | null = null;
  private shuttingDown = false;
  private shutdownPromise: Promise<void> | null = null;
  private markStopped: () => void = () => {};

  constructor(private readonly p: NodeParts) {
    const { cfg, local, transport, log, metrics } = p;
    this.stopped = new Promise<void>((r) => { this.markStopped = r; });
    this.transfer = new SnapshotTransfer({
      sm: local.mediator.transferable, transport, log, metrics: metrics.snapshotTransfer,
      deliver: (m) => this.driver.deliverSnapshot(m),
      onStale: () => this.driver.requestSnapshot(),
    });
    const contact = new PeerContact(cfg.tickMs * cfg.electionTicks);
    const core = this.createCore();
    this.watch = new ClusterWatch({ role: 'follower', leader: null, term: p.boot.start.hardState.term }, core.status().conf);
    this.driver = this.createDriver(core, contact);
    metrics.observeRaft(() => this.driver.status());
    this.service = new NodeService({
      id: cfg.nodeId, incarnation: local.recovered.incarnation, advertisePeer: cfg.advertisePeer, driver: this.driver, transport, mediator: local.mediator.port, metrics, log,
      unsafeLocalLinearizable: cfg.unsafeLocalLinearizable, contact,
    });
    this.reactors = this.createReactors();
    this.versionGate = this.createVersionGate();
    this.api = this.createApi();
    this.server = new CatgaServer({
      api: this.api, log, metrics,
      apiTokens: cfg.apiTokens, adminToken: cfg.adminToken, openAccess: cfg.openAccess,
      requestTimeoutMs: cfg.requestTimeoutMs, maxBodyBytes: cfg.maxBodyBytes,
      maxConnections: cfg.maxConnections, headersTimeoutMs: cfg.headersTimeoutMs, bodyTimeoutMs: cfg.bodyTimeoutMs, tls: cfg.tls, maxBatchCommands: cfg.maxBatchCommands,
      wsBacklogEvents: cfg.wsBacklogEvents,
      wsBufferBytes: cfg.wsBufferBytes,
    });
    // A rotated certificate (a Kubernetes Secret the kubelet updated in place) is picked up from
    // disk for new connections, on both ports; nothing established is dropped.
    this.tlsReloader = cfg.tls === null || cfg.tlsFiles === null ? null : new TlsReloader(cfg.tlsFiles, cfg.tls, cfg.tlsReloadMs, (event, fields) => (event === 'tls_reloaded' ? log.info : log.warn)(event, fields));
    p.stops.handleWith((reason, exitCode) => void this.shutdown(reason, exitCode));
  }

  /** The Raft core from where it starts; membership decides from its configuration whether to join. */
  private createCore(): RaftCore {
    const { cfg, local, boot, membership } = this.p;
    const { start } = boot;
    const core = createRaft(
      {
        ...defaultRaftConfig(cfg.nodeId, Math.random),
        electionTicks: cfg.electionTicks,
        heartbeatTicks: cfg.heartbeatTicks,
        incarnation: local.recovered.incarnation,
        ...(cfg.unsafeIgnoreIncarnations ? { faults: { ignoreIncarnations: true } } : {}),
      },
      { hardState: start.hardState, snapshot: start.snapshot, entries: start.entries, bootstrap: local.restoring === null ? boot.bootstrap : null, applied: start.applied },
    );
    membership.decideJoining(core.status().conf, boot.fresh, boot.bootstrap);
    return core;
  }

  /** The driver around the core; membership and the cluster watch follow its configurations. */
  private createDriver(core: RaftCore, contact: PeerContact): RaftDriver {
    const { cfg, local, boot, membership, metrics, log, term } = this.p;
    const { start } = boot;
    const d = new RaftDriver({
      core,
      onHeard: (from) => contact.heard(from, Date.now()),
      storage: local.storage,
      transport: this.p.transport,
      stateMachine: local.mediator.stateMachine(this.transfer),
      interceptSnapshot: (m, applied) => {
        membership.onSnapshotConf(m.snapshot.meta.conf);
        return this.transfer.intercept(m, applied);
      },
      log,
      timers: realTimers,
      startId: randomBytes(8).toString('hex'),
      tickMs: cfg.tickMs,
      snapshotEntries: cfg.snapshotEntries,
      snapshotBytes: cfg.snapshotBytes,
      snapshotRetain: cfg.snapshotRetain,
      applied: start.applied,
      onSoftState: (s) => this.onSoftState(s),
      onConf: (c) => {
        membership.onConf(c);
        this.watch.conf(c);
      },
      onSnapshotTaken: () => metrics.snapshotsTaken.inc(),
      onFatal: (err) => this.p.stops.fatal(err),
    });
    term.current = d.softState.term;
    return d;
  }

  private onSoftState(s: SoftState): void {
    this.p.term.current = s.term;
    this.watch.softState(s);
    if (s.leader !== this.lastLeader) {
      if (s.leader !== null) this.p.metrics.leaderChanges.inc();
      this.lastLeader = s.leader;
    }
  }

  private createReactors(): ReactorRunner {
    const { local, log, metrics } = this.p;
    const m = local.mediator.mediator;
    const d = this.driver;
    const progress = m.registry.states.get(REACTOR_MODULE)!;
    metrics.observeReactors(() => [...m.registry.reactors.keys()].map((name) => {
      const c = readCheckpoint(progress, name);
      return { reactor: name, checkpointIndex: c.index, deadLetters: c.deadLetters };
    }));
    return new ReactorRunner({
      reactors: [...m.registry.reactors.values()],
      events: m.events,
      progress,
      log,
      metrics: metrics.reactors,
      host: {
        leadingTerm: () => (d.isLeader ? d.softState.term : null),
        onLeadershipChange: (listener) => this.watch.on(listener),
        caughtUp: async () => d.waitApplied(await d.readIndex()),
        send: async (type, payload, idempotencyKey, deadline) => resultOf(() => this.service.commands([{ type, payload, idempotencyKey }], deadline).then((r) => r.outcomes[0]!)),
        sendOwn: (type, payload, deadline) => resultOf(() => this.service.ownCommand(type, payload, deadline).then((r) => r.outcome)),
        activeVersion: (module) => m.activeVersion(module),
      },
    });
  }

  private createVersionGate(): VersionGate {
    const { cfg, local, transport, log } = this.p;
    const m = local.mediator.mediator;
    const d = this.driver;
    return new VersionGate({
      self: cfg.nodeId,
      running: m.running,
      isLeader: () => d.isLeader,
      voters: () => d.status().conf.voters,
      active: (module) => m.activeVersion(module),
      ask: (peer, timeoutMs) => callRpc(transport, peer, VERSIONS_RPC, null, timeoutMs),
      propose: async (type, payload, deadline) => {
        const { outcome } = await this.service.ownCommand(type, payload, deadline);
        if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}`);
      },
    }, log);
  }

  /** What the HTTP server serves: the service's request paths, plus what only the assembled node knows. */
  private createApi(): NodeApi {
    const { cfg, local } = this.p;
    const m = local.mediator.mediator;
    const service = this.service;
    const backups = new BackupSources({ sm: local.mediator.transferable, nodeId: cfg.nodeId, clusterId: cfg.clusterId, raft: () => this.driver.status() });
    return {
      commands: (c, dl, caller) => service.commands(c, dl, caller),
      query: (t, q, c, dl, caller) => service.query(t, q, c, dl, caller),
      publish: (t, data, dl) => service.publish(t, data, dl),
      subscribe: (f, t, deliver, onCompacted) => service.subscribe(f, t, deliver, onCompacted),
      cluster: () => service.cluster(),
      watchCluster: (since, deadline, signal) => this.watch.next(since, Math.max(0, deadline - Date.now()), signal).then((c) => ({ version: c.version, changed: c.changed })),
      openapi: () => local.mediator.openapi,
      addMember: (id, a, v, dl, inc) => service.addMember(id, a, v, dl, inc),
      removeMember: (id, dl) => service.removeMember(id, dl),
      transferLeadership: (to, dl) => service.transferLeadership(to, dl),
      backup: () => backups.start(),
      readiness: () => this.readiness(),
      metrics: async () => ({ contentType: this.p.metrics.registry.contentType, body: await this.p.metrics.registry.metrics() }),
      state: async () => ({ id: cfg.nodeId, ...await m.digest(), modules: Object.fromEntries(Object.entries(m.running).map(([name, running]) => [name, { running, active: m.activeVersion(name) }])) }),
      isShuttingDown: () => this.shuttingDown,
    };
  }

  private readiness(): Readiness {
    const r = this.service.readiness();
    const m = this.p.local.mediator.mediator;
    const notes: string[] = [];
    if (this.transfer.receiving !== null) notes.push(`receiving snapshot ${this.transfer.receiving} from the leader`);
    if (m.quotaReached) notes.push(`state quota reached: ${m.state.stateBytes} of ${this.p.cfg.stateQuotaBytes} bytes, commands that grow the state fail with STATE_QUOTA_EXCEEDED`);
    return notes.length === 0 ? r : { ...r, reason: `${r.reason}; ${notes.join('; ')}` };
  }

  /** Starts the driver, the HTTP server, reactors, the version gate and TLS reloads. */
  async listen(): Promise<void> {
    const { cfg, boot, membership, log, transport } = this.p;
    const d = this.driver;
    // Established: an elected leader has written to this log (bootstrap entries are term 1, a
    // leader's are later). A first member that merely wrote the bootstrap entries is still "fresh", so
    // a slower first member derives the same first configuration instead of joining a cluster that
    // has no leader yet. (Applied entries are not replayed at start: the state engine holds them.)
    // Every entry applied here was persisted here first (a snapshot's save counts its term).
    const { start } = boot;
    const recoveredTerm = start.entries.length > 0 ? start.entries[start.entries.length - 1]!.term : start.snapshot?.meta.term ?? 0;
    d.start();
    membership.running(d, () => Math.max(recoveredTerm, d.persistedTerm) > 1);
    this.httpPort = await this.server.listen(cfg.bindHost, cfg.httpPort);
    this.reactors.start();
    this.versionGate.start();
    this.tlsReloader?.onChange((m) => {
      this.server.setTls(m);
      transport.setTls(m);
    });
    this.tlsReloader?.start();
    const bootstrap = boot.bootstrap;
    if (bootstrap !== null && bootstrap.voters.length === 1 && bootstrap.voters[0] === cfg.nodeId) d.campaign();
    log.info('node_started', { http: `${cfg.bindHost}:${this.httpPort}`, peer: `${cfg.bindHost}:${cfg.peerPort}`, advertise: cfg.advertisePeer, bootstrap: bootstrap?.voters ?? null, joining: membership.isJoining });
  }

  shutdown(reason: string, exitCode = 0): Promise<void> {
    if (this.shutdownPromise) return this.shutdownPromise;
    this.shuttingDown = true;
    this.shutdownPromise = this.stop(reason, exitCode);
    return this.shutdownPromise;
  }

  /** Graceful stop: refuse new work, hand leadership over, flush, close. */
  private async stop(reason: string, exitCode: number): Promise<void> {
    const { cfg, log, membership, local, transport } = this.p;
    const d = this.driver;
    log.info('shutdown_started', { reason });
    membership.stopJoining();
    this.tlsReloader?.stop();
    const grace = Date.now() + cfg.shutdownGraceMs;
    if (d.isLeader && d.status().conf.voters.length > 1) {
      try {
        const r = await this.service.transferLeadership(null, Math.min(grace - 1_000, Date.now() + 5_000));
        log.info('leadership_handed_over', { to: r.leader });
      } catch (err) {
        log.warn('leadership_handover_failed', { err });
      }
    }
    await this.reactors.close();
    this.versionGate.close();
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.server.close(), new Promise((r) => { graceTimer = setTimeout(r, Math.max(0, grace - Date.now() - 500)); })]);
    clearTimeout(graceTimer);
    await d.stop();
    this.transfer.close();
    membership.close();
    await transport.close();
    await local.storage.close();
    local.mediator.mediator.eventStore.close();
    await local.engine.close();
    log.info('shutdown_complete', { reason });
    if (exitCode !== 0) process.exitCode = exitCode;
    this.markStopped();
  }
}

/**
 * A command's outcome as a Result: refusals a client could not fix by waiting (400, 404, 409,
 * 413, 422) are failures; transient ones (no leader, timeouts, overload) throw, so a reactor's
 * try fails and is retried.
 */
async function resultOf(call: () => Promise<CommandOutcome>): Promise<Result<unknown>> {
  try {
    const outcome = await call();
    return outcome.ok ? ok(outcome.value) : fail(outcome.error.code, outcome.error.message);
  } catch (err) {
    const e = asCatgaError(err);
    if (e.status >= 400 && e.status < 500 && e.status !== 429) return fail(e.code, e.message);
    throw e;
  }
}
