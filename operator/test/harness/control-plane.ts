// A real Kubernetes control plane on loopback for operator tests: etcd, kube-apiserver and
// kube-controller-manager from bin/ (`make tools`), on random ports, credentials generated per
// run, everything in one temp dir. There is no scheduler and no kubelet: see kubelet.ts.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { toolPath } from './binaries.js';
import { generatePki, FRONT_PROXY_CLIENT } from './certs.js';
import { installCrds } from './crds.js';
import { releaseDir, trackDir } from './cleanup.js';
import { HarnessError } from './errors.js';
import { ManagedProcess } from './process.js';
import { freePort, httpGet, isPortClash, waitFor } from './wait.js';

export interface ControlPlaneOptions {
  /** Parent of the control plane's temp dir (default: the OS temp dir). */
  tmpRoot?: string;
  /** Leave the temp dir (logs, certificates, etcd data) on disk after stop(). Also CATGA_HARNESS_KEEP=1. */
  keep?: boolean;
  /** Time for each component to become healthy (default 60 s). */
  startTimeoutMs?: number;
  /** --service-cluster-ip-range (default 10.96.0.0/16). */
  serviceClusterIpRange?: string;
  /** kube-controller-manager --controllers (default every default controller except node lifecycle). */
  controllers?: string;
  extraApiServerArgs?: string[];
  extraControllerManagerArgs?: string[];
  /**
   * CustomResourceDefinition YAML files installed (and Established) before
   * kube-controller-manager starts, so that its garbage collector watches them from the start.
   */
  crdFiles?: string[];
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** A kubeconfig for the admin user (client certificate in system:masters). */
  readonly kubeconfigPath: string;
  /** A static bearer token of the same admin user. */
  readonly token: string;
  readonly caCertPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  /** http://127.0.0.1:<port> */
  readonly etcdServer: string;
  /** The temp dir holding everything, with logs/ (etcd.log, kube-apiserver.log, kube-controller-manager.log). */
  readonly dir: string;
  /** A KubeConfig loaded from kubeconfigPath. */
  kubeConfig(): KubeConfig;
  /** Creates a namespace and waits until its default ServiceAccount exists (pods need it). */
  createNamespace(name: string): Promise<void>;
  /** Stops every component and removes the temp dir; idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 3;
const POLL_MS = 200;
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;
const STOP_GRACE_MS = 5_000;
const NAMESPACE_READY_TIMEOUT_MS = 30_000;
/** Node lifecycle would mark the fixture's node NotReady (no kubelet heartbeats) and evict pods. */
const DEFAULT_CONTROLLERS = '*,-node-lifecycle-controller';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: harness',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${ca}`,
    'users:',
    '- name: admin',
    '  user:',
    `    client-certificate: ${cert}`,
    `    client-key: ${key}`,
    'contexts:',
    '- name: harness',
    '  context: {cluster: harness, user: admin}',
    'current-context: harness',
    '',
  ].join('\n');
}

/** Starts etcd, kube-apiserver and kube-controller-manager; resolves once all are healthy. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // Another process may take a port between our check and a component's bind: start afresh.
      if (attempt >= START_ATTEMPTS || !isPortClash(error)) throw error;
    }
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const binaries = {
    etcd: toolPath('etcd'),
    apiserver: toolPath('kube-apiserver'),
    controllerManager: toolPath('kube-controller-manager'),
  };
  const keep = options.keep ?? process.env.CATGA_HARNESS_KEEP === '1';
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const dir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), 'catga-control-plane-'));
  trackDir(dir);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const started: ManagedProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const component of started.reverse()) await component.stop(STOP_GRACE_MS);
    releaseDir(dir, keep);
  };

  try {
    const pki = await generatePki(dir, ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes.default.svc']);
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const etcdServer = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const etcd = new ManagedProcess({
      name: 'etcd',
      command: binaries.etcd,
      logFile: join(logs, 'etcd.log'),
      args: [
        '--name=harness',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdServer}`,
        `--advertise-client-urls=${etcdServer}`,
        `--listen-peer-urls=${etcdPeer}`,
        `--initial-advertise-peer-urls=${etcdPeer}`,
        `--initial-cluster=harness=${etcdPeer}`,
        '--unsafe-no-fsync', // a throw-away store; fsync would only slow the tests
        '--log-level=warn',
      ],
    });
    started.push(etcd);
    await waitFor('etcd /health', async () => (await httpGet(`${etcdServer}/health`, { timeoutMs: HEALTH_REQUEST_TIMEOUT_MS })).status === 200, {
      timeoutMs,
      intervalMs: POLL_MS,
      abortIf: () => etcd.deathNotice(),
    });

    const apiserver = new ManagedProcess({
      name: 'kube-apiserver',
      command: binaries.apiserver,
      logFile: join(logs, 'kube-apiserver.log'),
      args: [
        `--etcd-servers=${etcdServer}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${pki.tokenFile}`,
        `--requestheader-client-ca-file=${pki.caCert}`,
        `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${pki.frontProxyCert}`,
        `--proxy-client-key-file=${pki.frontProxyKey}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        `--service-cluster-ip-range=${options.serviceClusterIpRange ?? '10.96.0.0/16'}`,
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        // The "kubernetes" Service's endpoint would be 127.0.0.1, which Endpoints validation rejects.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=1',
        ...(options.extraApiServerArgs ?? []),
      ],
    });
    started.push(apiserver);
    const auth = { ca: readFileSync(pki.caCert), headers: { Authorization: `Bearer ${pki.adminToken}` }, timeoutMs: HEALTH_REQUEST_TIMEOUT_MS };
    await waitFor('kube-apiserver /readyz', async () => (await httpGet(`${server}/readyz`, auth)).status === 200, {
      timeoutMs,
      intervalMs: POLL_MS,
      abortIf: () => apiserver.deathNotice() ?? etcd.deathNotice(),
    });

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki.caCert, pki.adminCert, pki.adminKey), { mode: 0o600 });
    const kubeConfig = (): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    };
    if (options.crdFiles?.length) await installCrds(kubeConfig(), options.crdFiles);
    const controllerManager = new ManagedProcess({
      name: 'kube-controller-manager',
      command: binaries.controllerManager,
      logFile: join(logs, 'kube-controller-manager.log'),
      args: [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'controller-manager-certs')}`,
        `--controllers=${options.controllers ?? DEFAULT_CONTROLLERS}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=false',
        '--leader-elect=false',
        '--profiling=false',
        '--v=1',
        ...(options.extraControllerManagerArgs ?? []),
      ],
    });
    started.push(controllerManager);
    await waitFor(
      'kube-controller-manager /healthz',
      async () => (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true, timeoutMs: HEALTH_REQUEST_TIMEOUT_MS })).status === 200,
      { timeoutMs, intervalMs: POLL_MS, abortIf: () => controllerManager.deathNotice() ?? apiserver.deathNotice() },
    );

    return {
      server,
      kubeconfigPath,
      token: pki.adminToken,
      caCertPath: pki.caCert,
      clientCertPath: pki.adminCert,
      clientKeyPath: pki.adminKey,
      etcdServer,
      dir,
      kubeConfig,
      createNamespace: async (name: string) => {
        if (stopped) throw new HarnessError('HARNESS_STOPPED', 'createNamespace after stop()');
        const core = kubeConfig().makeApiClient(CoreV1Api);
        await core.createNamespace({ body: { metadata: { name } } });
        await waitFor(
          `ServiceAccount ${name}/default`,
          async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: name })).metadata?.name === 'default',
          { timeoutMs: NAMESPACE_READY_TIMEOUT_MS, intervalMs: POLL_MS },
        );
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
