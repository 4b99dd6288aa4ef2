// The Kubernetes runs' checker (remote-check) over TLS, as e2e/k8s/scenario.sh uses it against a
// cluster with TLS on by default: HTTPS clients and wss:// subscribers that trust the cluster's CA
// and check each node's certificate under the node's id, against a real `catga dev --tls` cluster
// on loopback (no namespaces, no root); the recorded history goes through Porcupine.
import { after, before, test } from 'node:test';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_MAIN, nodeMainExists } from './cluster.js';
import { PORCUPINE_CHECK, checkerExists } from './checks.js';
import { registerCleanup } from './cleanup.js';
import { httpCall } from './http.js';

const REMOTE_CHECK = fileURLToPath(new URL('./remote-check.js', import.meta.url));
const NODES = 3;
/** How long the cluster may take to print its nodes and elect a leader (remote-check waits for the leader). */
const START_TIMEOUT_MS = 30_000;
const CHECK_TIMEOUT_MS = 120_000;

function skipReason(): string | false {
  if (!nodeMainExists()) return `node runtime not built (${NODE_MAIN}); run make build`;
  if (!checkerExists()) return `Porcupine checker not built (${PORCUPINE_CHECK}); run make tools`;
  return false;
}

let dir = '';
let dev: ChildProcess | null = null;
/** id=https://127.0.0.1:port for each node, as `catga dev` prints them. */
let nodes = '';

/** True when `port` can be bound on 127.0.0.1 now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port B with B..B+NODES-1 and B+100.. free, below the kernel's ephemeral range (32768 on). */
async function freeBlock(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: NODES }, (_, i) => [base + i, base + 100 + i]).flat();
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports for catga dev');
}

function run(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REMOTE_CHECK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`remote-check did not finish in ${CHECK_TIMEOUT_MS} ms: ${out}`)); }, CHECK_TIMEOUT_MS);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

before(async () => {
  if (skipReason() !== false) return;
  dir = mkdtempSync(join(tmpdir(), 'catga-remote-tls-'));
  // catga dev numbers its nodes' ports from a base.
  const base = await freeBlock();
  dev = spawn(process.execPath, [NODE_MAIN, 'dev', '--tls', '--nodes', String(NODES), '--data-dir', join(dir, 'dev'), '--http-port', String(base), '--peer-port', String(base + 100)],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const child = dev;
  registerCleanup('catga dev --tls', () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  let printed = '';
  child.stdout!.on('data', (b: Buffer) => { printed += b.toString('utf8'); });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let found: string[] = [];
  while (found.length < NODES) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`catga dev --tls did not list its nodes: ${printed}`);
    await new Promise((r) => setTimeout(r, 100));
    found = [...printed.matchAll(/^ {2}(n\d+): (https:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => `${m[1]}=${m[2]}`);
  }
  nodes = found.join(',');
});

after(async () => {
  if (dev !== null && dev.exitCode === null) {
    const exited = new Promise((r) => dev!.once('exit', r));
    process.kill(-dev.pid!, 'SIGTERM');
    await exited;
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('remote-check drives a TLS cluster over HTTPS and wss:// with its CA: the history passes Porcupine', { skip: skipReason() }, async () => {
  const { code, out } = await run(['--nodes', nodes, '--ca', join(dir, 'dev', 'tls', 'ca.crt'), '--seconds', '4', '--out', join(dir, 'out'), '--name', 'tls']);
  assert.equal(code, 0, out);
  const row = out.split('\n').find((l) => /^\| tls +\|/.test(l));
  assert.ok(row !== undefined, out);
  const cells = row.split('|').map((c) => c.trim());
  assert.ok(Number(cells[4]) > 0, `operations were made: ${row}`);
  assert.equal(cells[12], 'Ok', row);
});

test('https:// nodes need --ca; a wrong name or another CA is refused at the handshake', { skip: skipReason() }, async () => {
  const missing = await run(['--nodes', nodes, '--seconds', '1', '--out', join(dir, 'out-no-ca')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.out, /n1 is https: give the cluster's CA with --ca FILE/);

  const url = `${nodes.split(',')[0]!.split('=')[1]!}/v1/cluster`;
  const ca = readFileSync(join(dir, 'dev', 'tls', 'ca.crt'), 'utf8');
  assert.equal((await httpCall(url, { timeoutMs: 5_000, tls: { ca, servername: 'n1' } })).status, 200);
  await assert.rejects(httpCall(url, { timeoutMs: 5_000, tls: { ca, servername: 'n2' } }), /n2.* is not in the cert's altnames/);
  const other = mkdtempSync(join(tmpdir(), 'catga-other-ca-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(other, 'ca.key'),
      '-out', join(other, 'ca.crt'), '-days', '1', '-subj', '/CN=other'], { stdio: 'ignore' });
    await assert.rejects(httpCall(url, { timeoutMs: 5_000, tls: { ca: readFileSync(join(other, 'ca.crt'), 'utf8'), servername: 'n1' } }), /certificate/);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
