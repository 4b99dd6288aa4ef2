// The operator process wired together: informers feed a work queue, workers run reconcile passes
// while this replica holds the leader Lease, and a small HTTP server serves /metrics, /healthz
// and /readyz. start() returns a handle whose stop() shuts everything down in order.
import type { KubeConfig, KubernetesListObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL, type CatgaCluster } from './api/types.js';
import { HttpNodeAdmin, ADMIN_CALL_TIMEOUT_MS } from './controller/admin-client.js';
import { KubeEventRecorder } from './controller/events.js';
import { KubeClient } from './controller/kube.js';
import { Reconciler } from './controller/reconciler.js';
import { FIELD_MANAGER, LABEL_CLUSTER } from './specs/names.js';
import type { OperatorConfig } from './machinery/config.js';
import { crashHook } from './machinery/crash.js';
import { startProbeServer, type ProbeServer } from './machinery/http-server.js';
import { ResilientInformer } from './machinery/informer.js';
import { LeaderElector } from './machinery/leader-election.js';
import type { Logger } from './machinery/log.js';
import { createMetrics, type OperatorMetrics } from './machinery/metrics.js';
import { DEFAULT_WORK_QUEUE_OPTIONS, WorkQueue } from './machinery/workqueue.js';

/** Only objects the operator created are watched (besides the CatgaClusters). */
export const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${FIELD_MANAGER}`;
/** Bound of the wait for in-flight reconcile passes at shutdown. */
export const SHUTDOWN_DRAIN_MS = 10_000;

export interface RunningOperator {
  readonly httpPort: number;
  readonly metrics: OperatorMetrics;
  isLeader(): boolean;
  stop(): Promise<void>;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
  if (typeof code === 'number') return `HTTP_${code}`;
  return 'INTERNAL';
}

/** One worker: takes keys off the queue and reconciles each until the queue shuts down, requeueing as the pass asks. */
async function reconcileKeys(queue: WorkQueue, reconciler: Reconciler, metrics: OperatorMetrics, log: Logger): Promise<void> {
  for (;;) {
    const key = await queue.next();
    if (key === null) return;
    const slash = key.indexOf('/');
    const stopTimer = metrics.duration.startTimer();
    try {
      const again = await reconciler.reconcile(key.slice(0, slash), key.slice(slash + 1));
      queue.done(key, 'ok');
      if (again !== null) queue.addAfter(key, again);
      metrics.reconciles.inc({ outcome: 'ok' });
    } catch (err) {
      queue.done(key, 'failed');
      metrics.reconciles.inc({ outcome: 'error' });
      metrics.errors.inc({ code: errorCode(err) });
      log.warn('reconcile failed', { key, code: errorCode(err), error: (err as Error).message });
    } finally {
      stopTimer();
      metrics.queueDepth.set(queue.depth);
    }
  }
}

/** The informers the operator reconciles from: CatgaClusters, and the pods and StatefulSets it manages, each event enqueueing its cluster's key. */
function watchManaged(kc: KubeConfig, kube: KubeClient, log: Logger, enqueue: (namespace: string | undefined, name: string | undefined) => void) {
  const clusters = new ResilientInformer<CatgaCluster>(kc, `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`,
    () => kube.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: PLURAL }) as Promise<KubernetesListObject<CatgaCluster>>,
    undefined, log, (c) => enqueue(c.metadata.namespace, c.metadata.name));
  const pods = new ResilientInformer<V1Pod>(kc, '/api/v1/pods',
    () => kube.core.listPodForAllNamespaces({ labelSelector: MANAGED_SELECTOR }), MANAGED_SELECTOR, log,
    (p) => enqueue(p.metadata?.namespace, p.metadata?.labels?.[LABEL_CLUSTER]));
  const statefulSets = new ResilientInformer<V1StatefulSet>(kc, '/apis/apps/v1/statefulsets',
    () => kube.apps.listStatefulSetForAllNamespaces({ labelSelector: MANAGED_SELECTOR }), MANAGED_SELECTOR, log,
    (s) => enqueue(s.metadata?.namespace, s.metadata?.labels?.[LABEL_CLUSTER]));
  return { clusters, pods, statefulSets };
}

export async function startOperator(kc: KubeConfig, config: OperatorConfig, log: Logger, onFatal: (reason: string) => void): Promise<RunningOperator> {
  const kube = new KubeClient(kc);
  const metrics = createMetrics();
  const queue = new WorkQueue(DEFAULT_WORK_QUEUE_OPTIONS);
  const enqueue = (namespace: string | undefined, name: string | undefined): void => {
    if (namespace === undefined || name === undefined) return;
    try {
      queue.add(`${namespace}/${name}`);
    } catch (err) {
      // Over the queue's bound: the key is picked up again on its next watch event.
      log.error('work queue full, dropping a key', { key: `${namespace}/${name}`, code: errorCode(err) });
    }
    metrics.queueDepth.set(queue.depth);
  };

  const { clusters, pods, statefulSets } = watchManaged(kc, kube, log, enqueue);
  const informers = [clusters, pods, statefulSets];

  const reconciler = new Reconciler({
    kube,
    events: new KubeEventRecorder(kube, config.identity, log),
    log,
    metrics,
    crash: crashHook(config.crashAt, log),
    admin: (token, tls, timeoutMs = ADMIN_CALL_TIMEOUT_MS) => new HttpNodeAdmin(() => token, timeoutMs, tls),
    pods: (namespace, name) => pods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_CLUSTER] === name),
    peerAddressMode: config.peerAddressMode,
    networkPolicyFrom: config.networkPolicies ? config.leaseNamespace : null,
    now: Date.now,
  });

  const workers: Promise<void>[] = [];
  const elector = new LeaderElector(kube.leaseStore(config.leaseNamespace, config.leaseName), {
    identity: config.identity, namespace: config.leaseNamespace, name: config.leaseName,
    leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs,
  }, log, () => {
    metrics.isLeader.set(1);
    for (let i = 0; i < config.workers; i++) workers.push(reconcileKeys(queue, reconciler, metrics, log));
    for (const c of clusters.list()) enqueue(c.metadata.namespace, c.metadata.name);
  }, () => {
    metrics.isLeader.set(0);
    onFatal('lost the leader lease');
  });

  for (const informer of informers) informer.start();
  const probes: ProbeServer = await startProbeServer(config.bindHost, config.httpPort, metrics.registry, () => informers.every((i) => i.synced));
  elector.start();
  log.info('operator started', { identity: config.identity, httpPort: probes.port, lease: `${config.leaseNamespace}/${config.leaseName}` });

  return {
    httpPort: probes.port,
    metrics,
    isLeader: () => elector.isLeader,
    stop: async () => {
      queue.shutdown();
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(workers), new Promise((resolve) => { drainTimer = setTimeout(resolve, SHUTDOWN_DRAIN_MS); })]);
      clearTimeout(drainTimer);
      await elector.stop();
      await Promise.all(informers.map((i) => i.stop()));
      await probes.close();
      log.info('operator stopped');
    },
  };
}
