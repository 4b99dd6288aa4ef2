// One Catga node, assembled: storage recovery, the mediator and its handlers, membership
// (runtime/membership.ts), the Raft core and its driver, the peer transport, the HTTP server, and an orderly
// shutdown. This is the only module that knows every other one; each of them stays testable alone.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Snapshot } from '../raft/types.js';
import { createRaft, defaultRaftConfig } from '../raft/index.js';
import { NodeFileSystem, openFileStorage } from '../storage/index.js';
import { createPeerTransport, TlsReloader } from '../transport/index.js';
import { hostResolver } from '../membership/index.js';
import { CatgaServer } from '../server/server.js';
import type { NodeApi } from '../server/api.js';
import type { NodeConfig } from './config.js';
import { RaftDriver } from '../driver/driver.js';
import { realTimers } from '../driver/timers.js';
import { createLogger } from '../common/logger.js';
import { NodeMetrics } from './metrics.js';
import { NodeService } from './service.js';
import { Membership } from './membership.js';
import { PeerContact } from './peer-contact.js';
import { createMediatorPort, type NodeMediator } from './mediator-port.js';
import { LmdbStateEngine } from '../state/lmdb-engine.js';
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
import { VERSIONS_RPC, VersionGate } from './version-gate.js';
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

export async function startNode(cfg: NodeConfig, extras: NodeExtras = {}): Promise<RunningNode> {
  let term = 0;
  const log = createLogger(cfg.nodeId, cfg.logLevel, () => term);
  mkdirSync(cfg.dataDir, { recursive: true });

  let driver: RaftDriver | null = null;
  const metrics = new NodeMetrics(() => driver!.status(), cfg.dataDir);
  const storage = openFileStorage(cfg.dataDir, { onFsync: (s: number) => metrics.walFsync.observe(s) }, new NodeFileSystem(cfg.testDiskDelayMs));
  const recovered = await storage.open();
  if (recovered.tornRecordsDropped > 0) {
    metrics.walTornRecords.inc(recovered.tornRecordsDropped);
    log.warn('wal_torn_tail_dropped', { records: recovered.tornRecordsDropped });
  }

  const engine = new LmdbStateEngine(join(cfg.dataDir, 'state'));
  let mediator: NodeMediator;
  try {
    mediator = await createMediatorPort(cfg, metrics, log, engine, (err) => stopBehind(err), extras);
  } catch (err) {
    // Bad modules, or code older than the state's active versions: release the data directory
    // (an embedding application may try again in the same process).
    await engine.close();
    await storage.close();
    throw err;
  }
  const image = recovered.snapshot === null ? null : parseImageV1(recovered.snapshot.data);
  if (image !== null && mediator.mediator.appliedIndex === 0) {
    importImageV1(mediator.mediator, image, recovered.snapshot!.meta.index);
    await engine.sync();
    log.info('state_imported', { index: recovered.snapshot!.meta.index, reason: 'the data directory predates the state engine' });
  }
  const m = mediator.mediator;
  const descriptor = (index: number): Uint8Array => encodeDescriptor(index === m.appliedIndex
    ? { format: 2, index, stateBytes: m.state.stateBytes, idemRows: m.idempotency.size }
    : { format: 2, index, stateBytes: -1, idemRows: -1 });
  const walFresh = recovered.hardState.term === 0 && recovered.snapshot === null && recovered.entries.length === 0;
  // A data directory `catga restore` prepared: its first start makes it a member of a new cluster.
  const restoring = pendingRestore(engine, cfg, walFresh, recovered.snapshot?.meta ?? null);
  const engineSnapshot = engine.get('meta', SNAPSHOT_META_KEY);
  let start = restoring !== null
    ? { hardState: recovered.hardState, snapshot: null, entries: [], applied: 0, persistSnapshot: false }
    : reconcile(recovered, {
      applied: m.appliedIndex,
      snapshotMeta: engineSnapshot === undefined ? null : JSON.parse(Buffer.from(engineSnapshot).toString('utf8')),
      descriptor,
    });
  if (start.persistSnapshot) {
    await storage.save(start.snapshot, [], start.hardState);
    log.warn('snapshot_recovered_from_state_engine', { index: start.applied, reason: 'the node stopped after installing a snapshot and before its log recorded it' });
  }
  metrics.observeState(() => ({ bytes: mediator.mediator.state.stateBytes, quota: cfg.stateQuotaBytes, refused: mediator.mediator.quotaRefused }));

  const transport = createPeerTransport({
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
  const membership = new Membership({ cfg, incarnation: recovered.incarnation, restoredFrom: restoring?.backup ?? null, transport, log });
  transport.onRequest(VERSIONS_RPC, async () => new TextEncoder().encode(JSON.stringify(mediator.mediator.running)));
  await transport.start();

  const fresh = start.hardState.term === 0 && start.snapshot === null && start.entries.length === 0;
  const bootstrap = await membership.firstConfiguration(fresh);
  if (restoring !== null) {
    if (bootstrap === null) {
      throw new RestoreError(`a first member of cluster ${cfg.clusterId} already runs: a restored data directory only starts a new cluster, with every first member restored from the same backup (remove this directory to join the running cluster as a new member)`);
    }
    // The new cluster's log starts after the backup's index, from a snapshot every first member
    // derives alike (term 1, as bootstrap entries have: the cluster is not established until a
    // leader of term 2 writes).
    const snapshot: Snapshot = { meta: { index: restoring.index, term: 1, conf: bootstrap }, data: descriptor(restoring.index) };
    membership.startedRestoredCluster({ from: restoring.backup, conf: bootstrap });
    const hardState = { term: 1, vote: null, commit: restoring.index };
    await storage.save(snapshot, [], hardState);
    engine.write((tx) => completeRestore(tx, snapshot.meta));
    await engine.sync();
    start = { hardState, snapshot, entries: [], applied: restoring.index, persistSnapshot: false };
    log.info('restored_cluster_started', { index: restoring.index, clusterId: cfg.clusterId, sourceClusterId: restoring.sourceClusterId, voters: snapshot.meta.conf.voters });
  }
  const snap: Snapshot | null = start.snapshot;
  if (!fresh) log.info('recovered', { term: start.hardState.term, commit: start.hardState.commit, snapshot: snap?.meta.index ?? 0, entries: start.entries.length, stateApplied: start.applied, incarnation: recovered.incarnation });

  const core = createRaft(
    {
      ...defaultRaftConfig(cfg.nodeId, Math.random),
      electionTicks: cfg.electionTicks,
      heartbeatTicks: cfg.heartbeatTicks,
      incarnation: recovered.incarnation,
      ...(cfg.unsafeIgnoreIncarnations ? { faults: { ignoreIncarnations: true } } : {}),
    },
    { hardState: start.hardState, snapshot: snap, entries: start.entries, bootstrap: restoring === null ? bootstrap : null, applied: start.applied },
  );

  const startConf = core.status().conf;
  membership.decideJoining(startConf, fresh, bootstrap);
  let lastLeader: string | null = null;
  const watch = new ClusterWatch({ role: 'follower', leader: null, term: start.hardState.term }, startConf);
  const transfer = new SnapshotTransfer({
    sm: mediator.transferable,
    transport,
    log,
    metrics: metrics.snapshotTransfer,
    deliver: (m) => driver?.deliverSnapshot(m),
    onStale: () => driver?.requestSnapshot(),
  });
  const contact = new PeerContact(cfg.tickMs * cfg.electionTicks);
  const d = new RaftDriver({
    core,
    onHeard: (from) => contact.heard(from, Date.now()),
    storage,
    transport,
    stateMachine: mediator.stateMachine(transfer),
    interceptSnapshot: (m, applied) => {
      membership.onSnapshotConf(m.snapshot.meta.conf);
      return transfer.intercept(m, applied);
    },
    log,
    timers: realTimers,
    startId: randomBytes(8).toString('hex'),
    tickMs: cfg.tickMs,
    snapshotEntries: cfg.snapshotEntries,
    snapshotBytes: cfg.snapshotBytes,
    snapshotRetain: cfg.snapshotRetain,
    applied: start.applied,
    onSoftState: (s) => {
      term = s.term;
      watch.softState(s);
      if (s.leader !== lastLeader) {
        if (s.leader !== null) metrics.leaderChanges.inc();
        lastLeader = s.leader;
      }
    },
    onConf: (c) => {
      membership.onConf(c);
      watch.conf(c);
    },
    onSnapshotTaken: () => metrics.snapshotsTaken.inc(),
    onFatal: (err) => {
      if (err instanceof ModuleVersionError) return stopBehind(err);
      log.error('fatal_storage_failure', { err });
      void shutdown('storage failure', 1);
    },
  });
  driver = d;
  term = d.softState.term;
  // Established: an elected leader has written to this log (bootstrap entries are term 1, a
  // leader's are later). A first member that merely wrote the bootstrap entries is still "fresh", so
  // a slower first member derives the same first configuration instead of joining a cluster that
  // has no leader yet. (Applied entries are not replayed at start: the state engine holds them.)
  const recoveredTerm = start.entries.length > 0 ? start.entries[start.entries.length - 1]!.term : snap?.meta.term ?? 0;
  // Every entry applied here was persisted here first (a snapshot's save counts its term).
  d.start();
  membership.running(d, () => Math.max(recoveredTerm, d.persistedTerm) > 1);

  const service = new NodeService({
    id: cfg.nodeId, incarnation: recovered.incarnation, advertisePeer: cfg.advertisePeer, driver: d, transport, mediator: mediator.port, metrics, log,
    unsafeLocalLinearizable: cfg.unsafeLocalLinearizable, contact,
  });
  const reactors = new ReactorRunner({
    reactors: [...m.registry.reactors.values()],
    events: m.events,
    progress: m.registry.states.get(REACTOR_MODULE)!,
    log,
    metrics: metrics.reactors,
    host: {
      leadingTerm: () => (d.isLeader ? d.softState.term : null),
      onLeadershipChange: (listener) => watch.on(listener),
      caughtUp: async () => d.waitApplied(await d.readIndex()),
      send: async (type, payload, idempotencyKey, deadline) => resultOf(() => service.commands([{ type, payload, idempotencyKey }], deadline).then((r) => r.outcomes[0]!)),
      sendOwn: (type, payload, deadline) => resultOf(() => service.ownCommand(type, payload, deadline).then((r) => r.outcome)),
      activeVersion: (module) => m.activeVersion(module),
    },
  });
  metrics.observeReactors(() => [...m.registry.reactors.keys()].map((name) => {
    const c = readCheckpoint(m.registry.states.get(REACTOR_MODULE)!, name);
    return { reactor: name, checkpointIndex: c.index, deadLetters: c.deadLetters };
  }));
  const versionGate = new VersionGate({
    self: cfg.nodeId,
    running: m.running,
    isLeader: () => d.isLeader,
    voters: () => d.status().conf.voters,
    active: (module) => m.activeVersion(module),
    ask: (peer, timeoutMs) => transport.request(peer, VERSIONS_RPC, new Uint8Array(0), timeoutMs),
    propose: async (type, payload, deadline) => {
      const { outcome } = await service.ownCommand(type, payload, deadline);
      if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}`);
    },
  }, log);
  let shuttingDown = false;
  const backups = new BackupSources({ sm: mediator.transferable, nodeId: cfg.nodeId, clusterId: cfg.clusterId, raft: () => d.status() });
  const api: NodeApi = {
    commands: (c, dl, caller) => service.commands(c, dl, caller),
    query: (t, p, c, dl, caller) => service.query(t, p, c, dl, caller),
    publish: (t, data, dl) => service.publish(t, data, dl),
    subscribe: (f, t, deliver, onCompacted) => service.subscribe(f, t, deliver, onCompacted),
    cluster: () => service.cluster(),
    watchCluster: (since, deadline, signal) => watch.next(since, Math.max(0, deadline - Date.now()), signal).then((c) => ({ version: c.version, changed: c.changed })),
    openapi: () => mediator.openapi,
    addMember: (id, a, v, dl, inc) => service.addMember(id, a, v, dl, inc),
    removeMember: (id, dl) => service.removeMember(id, dl),
    transferLeadership: (to, dl) => service.transferLeadership(to, dl),
    backup: () => backups.start(),
    readiness: () => {
      const r = service.readiness();
      const notes: string[] = [];
      if (transfer.receiving !== null) notes.push(`receiving snapshot ${transfer.receiving} from the leader`);
      if (mediator.mediator.quotaReached) notes.push(`state quota reached: ${mediator.mediator.state.stateBytes} of ${cfg.stateQuotaBytes} bytes, commands that grow the state fail with STATE_QUOTA_EXCEEDED`);
      return notes.length === 0 ? r : { ...r, reason: `${r.reason}; ${notes.join('; ')}` };
    },
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    state: async () => ({ id: cfg.nodeId, ...await m.digest(), modules: Object.fromEntries(Object.entries(m.running).map(([name, running]) => [name, { running, active: m.activeVersion(name) }])) }),
    isShuttingDown: () => shuttingDown,
  };
  const server = new CatgaServer({
    api, log, metrics,
    apiTokens: cfg.apiTokens, adminToken: cfg.adminToken, openAccess: cfg.openAccess,
    requestTimeoutMs: cfg.requestTimeoutMs, maxBodyBytes: cfg.maxBodyBytes,
    maxConnections: cfg.maxConnections, headersTimeoutMs: cfg.headersTimeoutMs, bodyTimeoutMs: cfg.bodyTimeoutMs, tls: cfg.tls, maxBatchCommands: cfg.maxBatchCommands,
    wsBacklogEvents: cfg.wsBacklogEvents,
    wsBufferBytes: cfg.wsBufferBytes,
  });
  const httpPort = await server.listen(cfg.bindHost, cfg.httpPort);
  reactors.start();
  versionGate.start();
  // A rotated certificate (a Kubernetes Secret the kubelet updated in place) is picked up from
  // disk for new connections, on both ports; nothing established is dropped.
  const tlsReloader = cfg.tls === null || cfg.tlsFiles === null ? null : new TlsReloader(cfg.tlsFiles, cfg.tls, cfg.tlsReloadMs, (event, fields) => (event === 'tls_reloaded' ? log.info : log.warn)(event, fields));
  tlsReloader?.onChange((m) => {
    server.setTls(m);
    transport.setTls(m);
  });
  tlsReloader?.start();

  if (bootstrap !== null && bootstrap.voters.length === 1 && bootstrap.voters[0] === cfg.nodeId) d.campaign();
  log.info('node_started', { http: `${cfg.bindHost}:${httpPort}`, peer: `${cfg.bindHost}:${cfg.peerPort}`, advertise: cfg.advertisePeer, bootstrap: bootstrap?.voters ?? null, joining: membership.isJoining });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => { resolveStopped = r; });
  let shutdownPromise: Promise<void> | null = null;

  /** This node's code is older than a module version active in the cluster: it stops rather than diverge. */
  function stopBehind(err: ModuleVersionError): void {
    log.error('module_version_behind', { code: err.code, module: err.module, active: err.active, running: err.running, message: err.message });
    void shutdown('module version behind the cluster', 1);
  }

  async function shutdown(reason: string, exitCode = 0): Promise<void> {
    if (shutdownPromise) return shutdownPromise;
    shuttingDown = true;
    shutdownPromise = (async () => {
      log.info('shutdown_started', { reason });
      membership.stopJoining();
      tlsReloader?.stop();
      const grace = Date.now() + cfg.shutdownGraceMs;
      if (d.isLeader && d.status().conf.voters.length > 1) {
        try {
          const r = await service.transferLeadership(null, Math.min(grace - 1_000, Date.now() + 5_000));
          log.info('leadership_handed_over', { to: r.leader });
        } catch (err) {
          log.warn('leadership_handover_failed', { err });
        }
      }
      await reactors.close();
      versionGate.close();
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([server.close(), new Promise((r) => { graceTimer = setTimeout(r, Math.max(0, grace - Date.now() - 500)); })]);
      clearTimeout(graceTimer);
      await d.stop();
      transfer.close();
      membership.close();
      await transport.close();
      await storage.close();
      await engine.close();
      log.info('shutdown_complete', { reason });
      if (exitCode !== 0) process.exitCode = exitCode;
      resolveStopped();
    })();
    return shutdownPromise;
  }

  return { httpPort, api, watch, shutdown: (reason) => shutdown(reason), stopped };
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
