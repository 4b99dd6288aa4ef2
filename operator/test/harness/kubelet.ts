// The kubelet test fixture: plays the scheduler and the kubelet for the pods of one namespace.
// It binds each pod to its own Node, starts a real process for it (a callback decides which),
// gives it a loopback address and a DNS name, reports phase, IP, container state and readiness
// (readinessProbe httpGet, see prober.ts), restarts the process with back-off when it exits or
// its livenessProbe fails (restartPolicy is treated as Always), and on deletion runs the preStop
// httpGet hook, sends SIGTERM, SIGKILL after the grace period, then removes the pod.
// PersistentVolumeClaims are bound by volumes.ts. Every write goes through the real API server.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1ContainerStateTerminated,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodCondition,
  type V1PodStatus,
} from '@kubernetes/client-node';
import { releaseDir, trackChild, trackDir } from './cleanup.js';
import type { ControlPlane } from './control-plane.js';
import { DnsServer, type DnsRecord } from './dns.js';
import { startInformer, type RunningInformer } from './informers.js';
import { LoopbackIpPool } from './ip-pool.js';
import { resolveEnv } from './pod-env.js';
import { resolveMounts, type PodMount } from './pod-volumes.js';
import { runHttpGet } from './probes.js';
import { ContainerProber } from './prober.js';
import { isRunning, terminate } from './process.js';
import { VolumeProvisioner } from './volumes.js';
import { waitFor } from './wait.js';

/** What the spawn callback gets to start a pod's process. */
export interface PodProcessContext {
  /** The pod as last seen (spec.containers[0] is the container the process stands for). */
  pod: V1Pod;
  /** The loopback address to bind, also the pod's status.podIP. */
  podIP: string;
  /** The pod's DNS name (hostname.subdomain.namespace.svc.<domain>) when it has a subdomain, else its IP. */
  hostname: string;
  /** The first container's environment as a kubelet computes it (env, fieldRef, secretKeyRef, …). */
  env: Record<string, string>;
  /** The first container's volume mounts mapped to host directories. */
  mounts: PodMount[];
  /** host:port of the DNS server serving pod names (for CATGA_DNS_SERVER). */
  dnsServer: string;
  /** How many times this pod's process was restarted before this start. */
  restartCount: number;
  /** A log file reserved for this start of the process (the callback decides whether to use it). */
  logFile: string;
}

/** Starts the pod's process; the fixture owns it from then on (kills it on deletion and stop()). */
export type SpawnPod = (context: PodProcessContext) => ChildProcess;

export interface KubeletOptions {
  namespace: string;
  spawn: SpawnPod;
  /** The Node the pods are bound to (default harness-<namespace>); created by the fixture. */
  nodeName?: string;
  /** Default cluster.local. */
  clusterDomain?: string;
  /** Readiness probe period, whatever the probe says (default 250 ms: tests need speed). */
  probePeriodMs?: number;
  /** Per readiness probe request (default 1 s). */
  probeTimeoutMs?: number;
  /** Liveness probe period (default: the probe's periodSeconds, as a kubelet does). */
  livenessPeriodMs?: number;
  /** First restart delay after the process exits; doubles per crash up to RESTART_BACKOFF_MAX_MS (default 500 ms). */
  restartBackoffMs?: number;
  /** Keep the fixture's temp dir (process logs, volumes) after stop(). Also CATGA_HARNESS_KEEP=1. */
  keep?: boolean;
  /** Errors of the fixture's own API calls (they are retried); default: printed to stderr. */
  onError?: (error: unknown) => void;
}

const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
const DEFAULT_PROBE_PERIOD_MS = 250;
const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
const DEFAULT_RESTART_BACKOFF_MS = 500;
export const RESTART_BACKOFF_MAX_MS = 8_000;
/** A process that ran this long before exiting restarts without accumulated back-off. */
const BACKOFF_RESET_AFTER_MS = 10_000;
const SYNC_RETRY_MS = 500;
const DEFAULT_GRACE_SECONDS = 30;
const STOP_GRACE_MS = 2_000;
const HOST_IP = '127.0.0.1';
const WAIT_POLL_MS = 100;

interface PodRuntime {
  readonly uid: string;
  readonly name: string;
  readonly dir: string;
  pod: V1Pod;
  deleted: boolean;
  ip?: string;
  child?: ChildProcess;
  firstStartedAt?: string;
  startedAt?: string;
  startedAtMs: number;
  restartCount: number;
  crashStreak: number;
  lastTermination?: V1ContainerStateTerminated;
  restartTimer?: NodeJS.Timeout;
  ready: boolean;
  readySince: string;
  /** Ready as last written to the API server. */
  publishedReady: boolean;
  prober?: ContainerProber;
  probing: boolean;
  terminating: boolean;
  finished: boolean;
  syncing: boolean;
  resync: boolean;
  lastStatus?: string;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function isStatus(error: unknown, ...codes: number[]): boolean {
  return codes.includes((error as { code?: number }).code ?? 0);
}

export class Kubelet {
  readonly nodeName: string;
  /** host:port of the DNS server serving pod names. */
  readonly dnsServer: string;
  private readonly runtimes = new Map<string, PodRuntime>();
  private readonly ips = new LoopbackIpPool();
  private readonly core: CoreV1Api;
  private readonly clusterDomain: string;
  private readonly probePeriodMs: number;
  private readonly probeTimeoutMs: number;
  private readonly restartBackoffMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly probeTimer: NodeJS.Timeout;
  private podInformer: RunningInformer | undefined;
  private stopped = false;

  private constructor(
    controlPlane: ControlPlane,
    private readonly options: KubeletOptions,
    private readonly dir: string,
    private readonly dns: DnsServer,
    private readonly volumes: VolumeProvisioner,
  ) {
    this.nodeName = options.nodeName ?? `harness-${options.namespace}`;
    this.dnsServer = dns.address;
    this.core = controlPlane.kubeConfig().makeApiClient(CoreV1Api);
    this.clusterDomain = options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
    this.probePeriodMs = options.probePeriodMs ?? DEFAULT_PROBE_PERIOD_MS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.restartBackoffMs = options.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS;
    const report = options.onError ?? ((error: unknown) => console.error('harness kubelet:', error));
    this.onError = (error) => {
      if (!this.stopped) report(error);
    };
    this.probeTimer = setInterval(() => this.probeAll(), this.probePeriodMs);
  }

  /** Registers the Node, starts DNS and the claim binder, then acts on the namespace's pods. */
  static async start(controlPlane: ControlPlane, options: KubeletOptions): Promise<Kubelet> {
    const dir = mkdtempSync(join(tmpdir(), 'catga-kubelet-'));
    trackDir(dir);
    for (const sub of ['logs', 'pods', 'volumes']) mkdirSync(join(dir, sub));
    const kubeConfig = controlPlane.kubeConfig();
    let dns: DnsServer;
    try {
      dns = await DnsServer.start(dir, options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
    } catch (error) {
      releaseDir(dir);
      throw error;
    }
    let created: Kubelet | undefined; // the provisioner's callbacks need the kubelet it serves
    const volumes = new VolumeProvisioner(kubeConfig, options.namespace, join(dir, 'volumes'), () => created?.syncAll(), (error) => created?.onError(error));
    const kubelet = new Kubelet(controlPlane, options, dir, dns, volumes);
    created = kubelet;
    try {
      await kubelet.registerNode();
      await volumes.start();
      const { namespace } = options;
      kubelet.podInformer = await startInformer<V1Pod>(kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => kubelet.core.listNamespacedPod({ namespace }), {
        change: (pod) => kubelet.observe(pod, false),
        deleted: (pod) => kubelet.observe(pod, true),
      });
    } catch (error) {
      await kubelet.stop();
      throw error;
    }
    return kubelet;
  }

  /** The address of a live pod (by name), if it has one. */
  podIP(podName: string): string | undefined {
    return this.live(podName)?.ip;
  }

  /** The pid of a pod's running process, if any. */
  pid(podName: string): number | undefined {
    const child = this.live(podName)?.child;
    return child && isRunning(child) ? child.pid : undefined;
  }

  /** Sends a signal to a pod's process (a crash when SIGKILL: the fixture restarts it after back-off). */
  kill(podName: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const child = this.live(podName)?.child;
    return child !== undefined && isRunning(child) && child.kill(signal);
  }

  /** Waits until each named pod reports Ready=True (as the fixture last published it). */
  async waitForReady(podNames: string[], timeoutMs: number): Promise<void> {
    await waitFor(`pods ${podNames.join(', ')} Ready`, async () => podNames.every((name) => this.live(name)?.publishedReady === true), {
      timeoutMs,
      intervalMs: WAIT_POLL_MS,
    });
  }

  /** Kills every process, stops watching, stops DNS, removes the temp dir; idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.probeTimer);
    await this.podInformer?.stop();
    await this.volumes.stop();
    await Promise.all(
      [...this.runtimes.values()].map(async (rt) => {
        clearTimeout(rt.restartTimer);
        rt.finished = true;
        if (rt.child) await terminate(rt.child, STOP_GRACE_MS);
      }),
    );
    await this.dns.stop();
    releaseDir(this.dir, this.options.keep ?? process.env.CATGA_HARNESS_KEEP === '1');
  }

  private live(podName: string): PodRuntime | undefined {
    for (const rt of this.runtimes.values()) if (rt.name === podName && !rt.finished) return rt;
    return undefined;
  }

  private async registerNode(): Promise<void> {
    try {
      await this.core.createNode({
        body: { metadata: { name: this.nodeName, labels: { 'kubernetes.io/hostname': this.nodeName, 'kubernetes.io/os': 'linux' } } },
      });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    const capacity = { cpu: '2', memory: '8Gi', pods: '110' };
    const heartbeat = now();
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            addresses: [
              { type: 'InternalIP', address: HOST_IP },
              { type: 'Hostname', address: this.nodeName },
            ],
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'harness kubelet', lastHeartbeatTime: heartbeat, lastTransitionTime: heartbeat } as never],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private observe(pod: V1Pod, deleted: boolean): void {
    const uid = pod.metadata!.uid!;
    let rt = this.runtimes.get(uid);
    if (rt === undefined) {
      if (deleted) return;
      rt = {
        uid,
        name: pod.metadata!.name!,
        dir: join(this.dir, 'pods', uid),
        pod,
        deleted: false,
        startedAtMs: 0,
        restartCount: 0,
        crashStreak: 0,
        ready: false,
        readySince: now(),
        publishedReady: false,
        probing: false,
        terminating: false,
        finished: false,
        syncing: false,
        resync: false,
      };
      this.runtimes.set(uid, rt);
    }
    rt.pod = pod;
    rt.deleted ||= deleted;
    this.requestSync(rt);
  }

  private syncAll(): void {
    for (const rt of this.runtimes.values()) this.requestSync(rt);
  }

  private requestSync(rt: PodRuntime): void {
    if (this.stopped || rt.finished) return;
    if (rt.syncing) {
      rt.resync = true;
      return;
    }
    rt.syncing = true;
    void this.runSync(rt);
  }

  private async runSync(rt: PodRuntime): Promise<void> {
    try {
      do {
        rt.resync = false;
        await this.syncOnce(rt);
      } while (rt.resync && !this.stopped && !rt.finished);
    } catch (error) {
      this.onError(error);
      setTimeout(() => this.requestSync(rt), SYNC_RETRY_MS);
    } finally {
      rt.syncing = false;
    }
  }

  /** Level-triggered: brings the pod's process and status in line with the pod as last seen. */
  private async syncOnce(rt: PodRuntime): Promise<void> {
    if (this.stopped || rt.finished) return;
    const { pod } = rt;
    if (rt.deleted) return this.teardown(rt, 0);
    if (pod.metadata?.deletionTimestamp) return this.terminateGracefully(rt);
    if (!pod.spec?.nodeName) return this.bind(rt);
    if (pod.spec.nodeName !== this.nodeName) return;
    if (rt.child === undefined && rt.restartTimer === undefined && !(await this.startProcess(rt))) return;
    await this.publishStatus(rt);
  }

  private async bind(rt: PodRuntime): Promise<void> {
    try {
      await this.core.createNamespacedPodBinding({
        name: rt.name,
        namespace: this.options.namespace,
        body: { metadata: { name: rt.name, uid: rt.uid }, target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName } },
      });
    } catch (error) {
      if (!isStatus(error, 409)) throw error; // 409: bound already, the update is on its way
    }
  }

  /** false while the pod must wait (a claim not bound yet). */
  private async startProcess(rt: PodRuntime): Promise<boolean> {
    const { pod } = rt;
    const container: V1Container = pod.spec!.containers[0]!;
    const mounts = await resolveMounts(this.core, pod, container, rt.dir, (claim) => this.volumes.hostPathOf(claim));
    if (mounts === undefined) return false;
    rt.ip ??= this.ips.allocate();
    const records = this.dnsRecords(pod, rt.ip);
    await this.dns.setRecords(rt.uid, records);
    const env = await resolveEnv(this.core, pod, container, rt.ip);
    if (this.stopped || rt.finished || rt.deleted || rt.pod.metadata?.deletionTimestamp) {
      if (!this.stopped && !rt.finished) rt.resync = true; // deleted meanwhile: tear down instead
      return false;
    }
    const child = this.options.spawn({
      pod,
      podIP: rt.ip,
      hostname: records[0]?.name ?? rt.ip,
      env,
      mounts,
      dnsServer: this.dnsServer,
      restartCount: rt.restartCount,
      logFile: join(this.dir, 'logs', `${rt.name}.${rt.restartCount}.log`),
    });
    trackChild(child);
    rt.child = child;
    rt.startedAt = now();
    rt.firstStartedAt ??= rt.startedAt;
    rt.startedAtMs = Date.now();
    rt.prober = new ContainerProber(container, rt.ip, rt.startedAtMs, {
      readinessPeriodMs: this.probePeriodMs,
      readinessTimeoutMs: this.probeTimeoutMs,
      livenessPeriodMs: this.options.livenessPeriodMs,
    });
    this.setReady(rt, false);
    let exited = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exited) return;
      exited = true;
      this.onProcessExit(rt, child, code, signal);
    };
    child.once('exit', onExit);
    child.once('error', (error) => {
      this.onError(new Error(`pod ${rt.name}: process error: ${error.message}`));
      if (child.pid === undefined) onExit(127, null); // never started: no 'exit' will come
    });
    return true;
  }

  /** The pod's own name and its subdomain's (the headless Service's) name, as cluster DNS serves them. */
  private dnsRecords(pod: V1Pod, ip: string): DnsRecord[] {
    const subdomain = pod.spec?.subdomain;
    if (!subdomain) return [];
    const service = `${subdomain}.${pod.metadata!.namespace}.svc.${this.clusterDomain}`;
    return [
      { name: `${pod.spec?.hostname ?? pod.metadata!.name}.${service}`, ip },
      { name: service, ip },
    ];
  }

  private onProcessExit(rt: PodRuntime, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (rt.child !== child) return;
    rt.child = undefined;
    this.setReady(rt, false);
    const finishedAt = now();
    rt.lastTermination = {
      exitCode: code ?? 128 + (signal ? osConstants.signals[signal] : 0),
      ...(signal ? { signal: osConstants.signals[signal], message: `killed by ${signal}` } : {}),
      reason: code === 0 ? 'Completed' : 'Error',
      startedAt: rt.startedAt as never,
      finishedAt: finishedAt as never,
    };
    if (this.stopped || rt.finished || rt.terminating) return;
    rt.restartCount += 1;
    rt.crashStreak = Date.now() - rt.startedAtMs >= BACKOFF_RESET_AFTER_MS ? 1 : rt.crashStreak + 1;
    const delay = Math.min(this.restartBackoffMs * 2 ** (rt.crashStreak - 1), RESTART_BACKOFF_MAX_MS);
    rt.restartTimer = setTimeout(() => {
      rt.restartTimer = undefined;
      this.requestSync(rt);
    }, delay);
    this.requestSync(rt); // publish the crash
  }

  private async terminateGracefully(rt: PodRuntime): Promise<void> {
    if (rt.terminating) return;
    rt.terminating = true;
    const { pod } = rt;
    const graceSeconds = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const deadline = Date.now() + graceSeconds * 1000;
    clearTimeout(rt.restartTimer);
    rt.restartTimer = undefined;
    const container = pod.spec!.containers[0]!;
    const preStop = container.lifecycle?.preStop?.httpGet;
    if (rt.child && isRunning(rt.child) && preStop && rt.ip) {
      await runHttpGet(preStop, container, rt.ip, Math.max(0, deadline - Date.now()));
    }
    await this.teardown(rt, Math.max(0, deadline - Date.now()));
    try {
      // The grace period goes in the body: with a body, the API server ignores the query's.
      await this.core.deleteNamespacedPod({ name: rt.name, namespace: this.options.namespace, body: { gracePeriodSeconds: 0, preconditions: { uid: rt.uid } } });
    } catch (error) {
      if (!isStatus(error, 404, 409)) throw error; // gone already, or a new pod of that name
    }
  }

  /** Stops the process (SIGTERM, SIGKILL after graceMs), frees the address, name and pod dir. */
  private async teardown(rt: PodRuntime, graceMs: number): Promise<void> {
    rt.terminating = true;
    clearTimeout(rt.restartTimer);
    rt.restartTimer = undefined;
    if (rt.child) await terminate(rt.child, graceMs);
    this.dns.removeRecords(rt.uid);
    if (rt.ip) this.ips.release(rt.ip);
    rmSync(rt.dir, { recursive: true, force: true });
    rt.finished = true;
    this.runtimes.delete(rt.uid);
  }

  private setReady(rt: PodRuntime, ready: boolean): void {
    if (rt.ready === ready) return;
    rt.ready = ready;
    rt.readySince = now();
  }

  private probeAll(): void {
    for (const rt of this.runtimes.values()) {
      const { child, prober } = rt;
      if (rt.probing || rt.terminating || !child || !prober) continue;
      rt.probing = true;
      void prober.tick(Date.now()).then(({ ready, unhealthy }) => {
        rt.probing = false;
        if (rt.child !== child || rt.terminating) return;
        if (unhealthy) {
          // As a kubelet does: the container is killed (grace period applies) and restarted.
          const graceSeconds = rt.pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
          void terminate(child, graceSeconds * 1000);
          return;
        }
        if (rt.ready === ready) return;
        this.setReady(rt, ready);
        this.requestSync(rt);
      });
    }
  }

  private podStatus(rt: PodRuntime): V1PodStatus {
    const { pod } = rt;
    const running = rt.child !== undefined;
    const ready = running && rt.ready;
    const since = rt.firstStartedAt ?? rt.readySince;
    const condition = (type: string, status: boolean, at: string): V1PodCondition => ({ type, status: status ? 'True' : 'False', lastTransitionTime: at as never });
    const containerStatuses: V1ContainerStatus[] = pod.spec!.containers.map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: `harness://${c.image ?? ''}`,
      ...(running ? { containerID: `harness://${rt.child!.pid}` } : {}),
      ready,
      started: running,
      restartCount: rt.restartCount,
      state: running
        ? { running: { startedAt: rt.startedAt as never } }
        : { waiting: { reason: rt.restartCount > 0 ? 'CrashLoopBackOff' : 'ContainerCreating' } },
      lastState: rt.lastTermination ? { terminated: rt.lastTermination } : {},
    }));
    return {
      phase: rt.firstStartedAt ? 'Running' : 'Pending',
      hostIP: HOST_IP,
      hostIPs: [{ ip: HOST_IP }],
      ...(rt.ip ? { podIP: rt.ip, podIPs: [{ ip: rt.ip }] } : {}),
      ...(rt.firstStartedAt ? { startTime: rt.firstStartedAt as never } : {}),
      conditions: [
        condition('PodScheduled', true, since),
        condition('Initialized', true, since),
        condition('PodReadyToStartContainers', rt.ip !== undefined, since),
        condition('ContainersReady', ready, rt.readySince),
        condition('Ready', ready, rt.readySince),
      ],
      containerStatuses,
    };
  }

  private async publishStatus(rt: PodRuntime): Promise<void> {
    const status = this.podStatus(rt);
    const serialized = JSON.stringify(status);
    if (serialized === rt.lastStatus) return;
    try {
      await this.core.patchNamespacedPodStatus(
        { name: rt.name, namespace: this.options.namespace, body: { metadata: { uid: rt.uid }, status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (error) {
      if (isStatus(error, 404, 409)) return; // deleted meanwhile: the delete event follows
      throw error;
    }
    rt.lastStatus = serialized;
    rt.publishedReady = status.conditions!.some((c) => c.type === 'Ready' && c.status === 'True');
  }
}
