// A whole test world for operator scenarios: a real control plane, the CRD, the harness kubelet
// running real `catga node` processes for the pods of one namespace, the operator as a process,
// and helpers to read the cluster's state and drive writes through the nodes' HTTP API.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { resolve } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { CatgaCluster } from '../src/api/types.js';
import { httpEndpoint } from '../src/controller/observe.js';
import { DATA_DIR, GENERATED_API_TOKEN_KEY, LABEL_CLUSTER, LABEL_ROLE, ROLE_LEADER, generatedSecretName } from '../src/specs/names.js';
import { CA_BUNDLE_KEY, membersTlsSecretName } from '../src/specs/tls.js';
import { startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { Kubelet, type PodProcessContext } from './harness/kubelet.js';
import { Clusters, OperatorProcess, eventually } from './support.js';
import { CRD_PATH, REPO_ROOT } from './repo-paths.js';

export const NODE_MAIN = resolve(REPO_ROOT, 'node/dist/src/cli/main.js');
/** Bound of one HTTP call a test makes to a node. */
export const NODE_CALL_TIMEOUT_MS = 3_000;

/** The pod's env with paths inside its mounts (the TLS files) turned into where the harness put them. */
function hostPaths(ctx: PodProcessContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.env)) {
    const mount = ctx.mounts.find((m) => value.startsWith(`${m.mountPath}/`));
    env[name] = mount === undefined ? value : `${mount.hostPath}${value.slice(mount.mountPath.length)}`;
  }
  return env;
}

/** Starts `catga node` for a pod the way its container would run: the pod's env, bound to the pod IP. */
function spawnNode(ctx: PodProcessContext) {
  const data = ctx.mounts.find((m) => m.mountPath === DATA_DIR)?.hostPath;
  if (data === undefined) throw new Error(`pod ${ctx.pod.metadata?.name} has no ${DATA_DIR} volume`);
  const fd = openSync(ctx.logFile, 'a');
  const child = spawn(process.execPath, [NODE_MAIN, 'node'], {
    stdio: ['ignore', fd, fd],
    env: { PATH: process.env['PATH'] ?? '', ...hostPaths(ctx), CATGA_BIND_HOST: ctx.podIP, CATGA_DNS_SERVER: ctx.dnsServer, CATGA_DATA_DIR: data },
  });
  closeSync(fd);
  return child;
}

export interface World {
  readonly cp: ControlPlane;
  readonly kc: KubeConfig;
  readonly ns: string;
  readonly kubelet: Kubelet;
  readonly clusters: Clusters;
  operator: OperatorProcess;
  startOperator(env?: Record<string, string>): OperatorProcess;
  stop(): Promise<void>;
}

export async function startWorld(ns: string): Promise<World> {
  const cp = await startControlPlane({ crdFiles: [CRD_PATH] });
  try {
    const kc = cp.kubeConfig();
    await cp.createNamespace(ns);
    // Every pod the operator makes must pass the restricted Pod Security Standard: the API server
    // refuses the others.
    await kc.makeApiClient(CoreV1Api).patchNamespace(
      { name: ns, body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const kubelet = await Kubelet.start(cp, { namespace: ns, spawn: spawnNode, onError: () => undefined });
    const startOperator = (env: Record<string, string> = {}): OperatorProcess =>
      OperatorProcess.start({ kubeconfigPath: cp.kubeconfigPath, leaseNamespace: ns, env });
    const world: World = {
      cp, kc, ns, kubelet, clusters: new Clusters(kc, ns), operator: startOperator(), startOperator,
      stop: async () => {
        await world.operator.stop();
        await kubelet.stop();
        await cp.stop();
      },
    };
    return world;
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

export async function clusterPods(w: World, name: string): Promise<V1Pod[]> {
  return (await w.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: w.ns, labelSelector: `${LABEL_CLUSTER}=${name}` })).items;
}

/** Names of the pods labelled leader. */
export async function labelledLeaders(w: World, name: string): Promise<string[]> {
  return (await clusterPods(w, name)).filter((p) => p.metadata?.labels?.[LABEL_ROLE] === ROLE_LEADER).map((p) => p.metadata!.name!);
}

export async function waitAvailable(w: World, name: string, replicas: number, timeoutMs: number): Promise<CatgaCluster> {
  return eventually(`${name} Available with ${replicas} voters`, timeoutMs, async () => {
    const c = await w.clusters.get(name);
    const s = c.status;
    const voters = s?.members?.filter((m) => m.voter).length;
    return s?.phase === 'Available' && s.readyReplicas === replicas && voters === replicas && s.observedGeneration === c.metadata.generation ? c : undefined;
  });
}

/** The client API token the operator generated for `cluster` (its pods accept nothing without one). */
export async function clientToken(w: World, cluster: string): Promise<string> {
  const secret = await eventually(`the generated Secret of ${cluster}`, 30_000, async () => {
    const s = await w.kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: generatedSecretName(cluster), namespace: w.ns });
    return s.data?.[GENERATED_API_TOKEN_KEY];
  });
  return Buffer.from(secret, 'base64').toString('utf8');
}

/** The CA bundle the cluster's pods are trusted by (operator-issued TLS), undefined when it has none. */
export async function clusterCa(w: World, cluster: string): Promise<string | undefined> {
  try {
    const s = await w.kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: membersTlsSecretName(cluster), namespace: w.ns });
    const ca = s.data?.[CA_BUNDLE_KEY];
    return ca === undefined ? undefined : Buffer.from(ca, 'base64').toString('utf8');
  } catch {
    return undefined;
  }
}

/** The node API of a pod as the operator reaches it (https when the pod serves TLS). */
export function podEndpoint(pod: V1Pod): string | null {
  return httpEndpoint(pod);
}

type NodeAnswer = { status: number; json: { ok: boolean; value?: unknown } };

/** POST over http, or over https trusting `ca` (the node is reached by IP: its names are checked by the CA alone). */
async function nodeCall(url: string, token: string, body: unknown, headers: Record<string, string> = {}, ca?: string): Promise<NodeAnswer> {
  const allHeaders = { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers };
  if (!url.startsWith('https:')) {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: allHeaders, signal: AbortSignal.timeout(NODE_CALL_TIMEOUT_MS) });
    return { status: res.status, json: (await res.json()) as NodeAnswer['json'] };
  }
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(url, { method: 'POST', headers: allHeaders, ca, checkServerIdentity: () => undefined, signal: AbortSignal.timeout(NODE_CALL_TIMEOUT_MS) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolvePromise({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as NodeAnswer['json'] });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * Writes kv.put commands with unique keys through whichever pods are up, retrying each with its
 * Idempotency-Key until acknowledged, until stop() — then reports every acknowledged key.
 */
export class Writer {
  private stopped = false;
  readonly acked: string[] = [];
  private readonly loop: Promise<void>;

  constructor(private readonly w: World, private readonly cluster: string, private readonly pauseMs = 20) {
    this.loop = this.run();
  }

  private async endpoints(): Promise<string[]> {
    const pods = await clusterPods(this.w, this.cluster);
    return pods.filter((p) => p.metadata?.deletionTimestamp === undefined).map(podEndpoint).filter((e): e is string => e !== null);
  }

  private async run(): Promise<void> {
    let n = 0;
    let endpoints: string[] = [];
    const token = await clientToken(this.w, this.cluster);
    let ca = await clusterCa(this.w, this.cluster);
    while (!this.stopped) {
      const key = `w-${n++}`;
      for (let attempt = 0; !this.stopped; attempt++) {
        if (endpoints.length === 0 || attempt > 0) {
          endpoints = await this.endpoints().catch(() => []);
          if (attempt > 0) ca = (await clusterCa(this.w, this.cluster)) ?? ca;
        }
        const url = endpoints[(n + attempt) % Math.max(1, endpoints.length)];
        if (url !== undefined) {
          try {
            const r = await nodeCall(`${url}/v1/commands/kv.put`, token, { key, value: n }, { 'idempotency-key': key }, ca);
            if (r.status === 200 && r.json.ok) {
              this.acked.push(key);
              break;
            }
          } catch {
            // unreachable pod or timeout: retried with the same idempotency key
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  async stop(): Promise<string[]> {
    this.stopped = true;
    await this.loop;
    return this.acked;
  }
}

/** Keys of `keys` that a linearizable read on `endpoint` does not find (`ca`: the cluster's bundle, for https). */
export async function missingKeys(endpoint: string, token: string, keys: readonly string[], ca?: string): Promise<string[]> {
  const missing: string[] = [];
  for (const key of keys) {
    const r = await nodeCall(`${endpoint}/v1/queries/kv.get?consistency=linearizable`, token, { key }, {}, ca);
    if (!r.json.ok || r.json.value === null) missing.push(key);
  }
  return missing;
}
