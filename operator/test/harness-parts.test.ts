// Unit tests of the harness's parts that need no control plane: loopback address pool, container
// environment, probe thresholds, the dnsmasq wrapper, and process termination.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import { DnsServer } from './harness/dns.js';
import { LoopbackIpPool } from './harness/ip-pool.js';
import { resolveEnv } from './harness/pod-env.js';
import { ContainerProber } from './harness/prober.js';
import { terminate } from './harness/process.js';
import { HarnessError } from './harness/errors.js';
import { freePort, isPortClash } from './harness/wait.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('the loopback pool hands out distinct addresses round-robin and reports exhaustion', () => {
  const pool = new LoopbackIpPool();
  const first = pool.allocate();
  const second = pool.allocate();
  assert.match(first, /^127\.\d+\.\d+\.2$/);
  assert.notEqual(first, second);
  pool.release(first);
  assert.notEqual(pool.allocate(), first, 'a released address is not reused at once');
  assert.throws(() => {
    for (let i = 0; i < 300; i++) pool.allocate();
  }, { code: 'IP_POOL_EXHAUSTED' });
});

test('container env: values with $(VAR) expansion and downward-API fields', async () => {
  const pod: V1Pod = { metadata: { name: 'c-1', namespace: 'ns', labels: { app: 'x' } }, spec: { nodeName: 'n', containers: [] } };
  const container: V1Container = {
    name: 'c',
    env: [
      { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'PEER', value: '$(NAME).hl:$(PORT) $$(NAME)' },
    ],
  };
  // No Secret or ConfigMap reference: the API client is never used.
  const env = await resolveEnv({} as CoreV1Api, pod, container, '127.1.2.3');
  assert.deepEqual(env, { NAME: 'c-1', IP: '127.1.2.3', APP: 'x', PEER: 'c-1.hl:$(PORT) $(NAME)' });
});

async function listen(handler: (path: string) => number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.writeHead(handler(req.url ?? '/'));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test('probes follow success and failure thresholds; liveness failures mark the process unhealthy', async () => {
  let readyStatus = 200;
  let liveStatus = 200;
  const { server, port } = await listen((path) => (path === '/readyz' ? readyStatus : liveStatus));
  try {
    const container: V1Container = {
      name: 'c',
      readinessProbe: { httpGet: { path: '/readyz', port: port as never }, successThreshold: 2, failureThreshold: 2 },
      livenessProbe: { httpGet: { path: '/healthz', port: port as never }, failureThreshold: 2 },
    };
    const prober = new ContainerProber(container, '127.0.0.1', 0, { readinessPeriodMs: 0, readinessTimeoutMs: 1000, livenessPeriodMs: 0 });
    const tick = () => prober.tick(Date.now());
    assert.deepEqual(await tick(), { ready: false, unhealthy: false }, 'one success is below successThreshold');
    assert.deepEqual(await tick(), { ready: true, unhealthy: false });
    readyStatus = 503;
    liveStatus = 500;
    assert.deepEqual(await tick(), { ready: true, unhealthy: false }, 'one failure is below failureThreshold');
    assert.deepEqual(await tick(), { ready: false, unhealthy: true });
  } finally {
    server.close();
  }
});

test('the DNS server serves, replaces and drops records', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-dns-test-'));
  dirs.push(dir);
  const server = await DnsServer.start(dir, 'cluster.local');
  try {
    const resolver = new dns.Resolver();
    resolver.setServers([server.address]);
    await server.setRecords('pod-a', [{ name: 'a-0.a-hl.ns.svc.cluster.local', ip: '127.9.0.2' }]);
    assert.deepEqual(await resolver.resolve4('a-0.a-hl.ns.svc.cluster.local'), ['127.9.0.2']);
    await server.setRecords('pod-a', [{ name: 'a-0.a-hl.ns.svc.cluster.local', ip: '127.9.0.3' }]);
    assert.deepEqual(await resolver.resolve4('a-0.a-hl.ns.svc.cluster.local'), ['127.9.0.3']);
    server.removeRecords('pod-a');
    await assert.rejects(
      async () => {
        for (let i = 0; i < 50; i++) {
          await resolver.resolve4('a-0.a-hl.ns.svc.cluster.local');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      { code: 'ENOTFOUND' },
    );
  } finally {
    await server.stop();
  }
});

test('terminate sends SIGTERM, then SIGKILL to a process that ignores it', async () => {
  const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => stubborn.stdout!.once('data', resolve));
  const started = Date.now();
  const status = await terminate(stubborn, 300);
  assert.equal(status.signal, 'SIGKILL');
  assert.ok(Date.now() - started >= 300, 'the grace period was given');
});

test('free ports come from below the ephemeral range, distinct; a bind clash is recognised', async () => {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  assert.equal(new Set(ports).size, 4);
  for (const port of ports) assert.ok(port >= 20_000 && port < 32_768, `${port}`);
  assert.equal(isPortClash(new HarnessError('PROCESS_EXITED', 'etcd exited; listen tcp 127.0.0.1:1: bind: address already in use')), true);
  assert.equal(isPortClash(new HarnessError('PROCESS_EXITED', 'dnsmasq: failed to create listening socket for 127.0.0.1: Address in use')), true);
  assert.equal(isPortClash(new HarnessError('WAIT_TIMEOUT', 'address already in use')), false);
});
