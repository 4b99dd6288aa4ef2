// Helpers shared by the tests that run against a real kube-apiserver: run the operator as a real process (so a crash point really ends it), read and change CatgaClusters,
// and poll until a condition holds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL, type CatgaCluster, type CatgaClusterSpec } from '../src/api/types.js';
import { trackChild } from './harness/cleanup.js';
import { REPO_ROOT } from './repo-paths.js';

export const OPERATOR_MAIN = resolve(REPO_ROOT, 'operator/dist/src/main.js');
const POLL_MS = 200;
const STOP_GRACE_MS = 10_000;

/** Polls `check` until it returns a value other than undefined/false; throws naming `what` on timeout. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export class Clusters {
  private readonly custom: CustomObjectsApi;
  constructor(kc: KubeConfig, private readonly namespace: string) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }
  create(name: string, spec: CatgaClusterSpec): Promise<CatgaCluster> {
    return this.custom.createNamespacedCustomObject({
      group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural: PLURAL,
      body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'CatgaCluster', metadata: { name }, spec },
    }) as Promise<CatgaCluster>;
  }
  get(name: string): Promise<CatgaCluster> {
    return this.custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural: PLURAL, name }) as Promise<CatgaCluster>;
  }
  patchSpec(name: string, spec: Partial<CatgaClusterSpec>): Promise<CatgaCluster> {
    return this.custom.patchNamespacedCustomObject({
      group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural: PLURAL, name, body: { spec },
    }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<CatgaCluster>;
  }
  /** Through the scale subresource, as `kubectl scale` does. */
  scale(name: string, replicas: number): Promise<unknown> {
    return this.custom.patchNamespacedCustomObjectScale({
      group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural: PLURAL, name, body: { spec: { replicas } },
    }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
  delete(name: string): Promise<unknown> {
    return this.custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural: PLURAL, name });
  }
}

/** Reasons of the Events recorded on a CatgaCluster, oldest first. */
export async function eventReasons(kc: KubeConfig, namespace: string, clusterName: string): Promise<string[]> {
  const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${clusterName},involvedObject.kind=CatgaCluster` });
  return events.items
    .sort((a, b) => new Date(a.metadata?.creationTimestamp ?? 0).getTime() - new Date(b.metadata?.creationTimestamp ?? 0).getTime())
    .map((e) => e.reason ?? '');
}

export interface OperatorProcessOptions {
  readonly kubeconfigPath: string;
  readonly leaseNamespace: string;
  readonly env?: Record<string, string>;
}

/** The operator binary as a child process; its JSON log goes to a temp file. */
export class OperatorProcess {
  private constructor(readonly child: ChildProcess, readonly logPath: string, private readonly dir: string, readonly exited: Promise<number | null>) {}

  static start(options: OperatorProcessOptions): OperatorProcess {
    const dir = mkdtempSync(join(tmpdir(), 'catga-operator-test-'));
    const logPath = join(dir, 'operator.log');
    const fd = openSync(logPath, 'a');
    const child = spawn(process.execPath, [OPERATOR_MAIN], {
      stdio: ['ignore', fd, fd],
      env: {
        PATH: process.env['PATH'] ?? '',
        KUBECONFIG: options.kubeconfigPath,
        CATGA_OPERATOR_NAMESPACE: options.leaseNamespace,
        CATGA_OPERATOR_HTTP_PORT: '0',
        CATGA_OPERATOR_BIND_HOST: '127.0.0.1',
        CATGA_OPERATOR_LEASE_SECONDS: '3',
        CATGA_OPERATOR_LOG_LEVEL: 'debug',
        ...options.env,
      },
    });
    closeSync(fd);
    trackChild(child);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return new OperatorProcess(child, logPath, dir, exited);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return readFileSync(this.logPath, 'utf8');
  }

  /** The port of its /metrics, /healthz, /readyz, once it logged it. */
  async httpPort(): Promise<number> {
    return eventually('the operator to start its HTTP server', 20_000, async () => {
      const line = this.log().split('\n').find((l) => l.includes('"operator started"'));
      return line === undefined ? undefined : (JSON.parse(line) as { httpPort: number }).httpPort;
    });
  }

  /** SIGTERM, then SIGKILL after a grace period; removes its temp dir. Returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    return this.child.exitCode;
  }
}

/** The Events the operator recorded, in the order it recorded them (from its JSON log). */
export function loggedEvents(logText: string): { reason: string; message: string }[] {
  return logText.split('\n').filter((l) => l.includes('"msg":"event"')).map((l) => {
    const e = JSON.parse(l) as { reason: string; message: string };
    return { reason: e.reason, message: e.message };
  });
}
