// The shop on a real local cluster: `catga dev --handlers src/index.ts --no-builtins` starts three
// nodes on free ports; the typed client places, pays and reads orders; then the leader is killed
// and the shop keeps taking orders on the two nodes left, with nothing acknowledged lost.
// The @ts-expect-error calls are refused twice: by the compiler (`tsc -p examples/shop`, part of
// the build) and, sent anyway, by the cluster.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createClient, type ClusterView } from 'catga/client';
import type shop from '../src/index.ts';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STARTUP_MS = 60_000;

/** The `catga` command npm linked for this application (here or in a folder above, as npx finds it). */
function catgaBin(): string {
  for (let dir = appDir; ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', 'catga');
    if (existsSync(bin)) return bin;
    if (dirname(dir) === dir) throw new Error('no node_modules/.bin/catga: run npm install (or npm ci at the repository root)');
  }
}

interface DevMember {
  readonly id: string;
  readonly url: string;
  readonly pid: number;
}

/** Starts `catga dev` and resolves with the members it lists (URL and pid of each). */
function startDev(dataDir: string, nodes: number): { proc: ChildProcess; members: Promise<DevMember[]> } {
  const proc = spawn(process.execPath, [catgaBin(), 'dev', '--nodes', String(nodes), '--handlers', 'src/index.ts', '--no-builtins', '--http-port', '0', '--peer-port', '0', '--data-dir', dataDir], {
    cwd: appDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
  const members = new Promise<DevMember[]>((resolveMembers, reject) => {
    const found: DevMember[] = [];
    const timer = setTimeout(() => reject(new Error(`catga dev listed ${found.length} of ${nodes} members in ${STARTUP_MS} ms`)), STARTUP_MS);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /^ {2}(n\d+): (http:\/\/\S+) {2}\(peer port \d+, pid (\d+)\)$/.exec(line);
      if (m === null) return;
      found.push({ id: m[1]!, url: m[2]!, pid: Number(m[3]) });
      if (found.length === nodes) { clearTimeout(timer); resolveMembers(found); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`catga dev exited (${code}) before listing its members: ${stderr}`)); });
  });
  return { proc, members };
}

async function leaderOf(members: readonly DevMember[]): Promise<DevMember> {
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline) {
    for (const member of members) {
      try {
        const { value: view } = (await (await fetch(`${member.url}/v1/cluster`)).json()) as { value: ClusterView };
        const leader = members.find((m) => m.id === view.leader);
        if (leader !== undefined && view.quorum.visible) return leader;
      } catch {
        // Not listening yet, or just killed: ask the next one.
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no leader within the startup deadline');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the shop on a 3-node catga dev cluster: typed orders and payments, and a leader failover', { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'catga-shop-'));
  const dev = startDev(dataDir, 3);
  t.after(async () => {
    if (dev.proc.exitCode === null && dev.proc.signalCode === null) {
      const exited = new Promise((r) => dev.proc.once('exit', r));
      dev.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const members = await dev.members;
  const client = createClient<typeof shop>({ endpoints: members.map((m) => m.url), timeoutMs: 30_000 });
  t.after(() => client.close());
  await leaderOf(members);

  // Place, pay, read back: payloads and results typed by the modules, no generated code.
  const placed = await client.send('orders.place', { customer: 'ada', lines: [{ sku: 'tea', quantity: 3, priceCents: 450 }, { sku: 'mug', quantity: 1, priceCents: 1200 }] });
  assert.ok(placed.ok, JSON.stringify(placed));
  const order = placed.value;
  assert.equal(order.totalCents, 3 * 450 + 1200);
  assert.equal(order.status, 'placed');
  assert.match(order.id, /^ord-\d+-0$/);
  const charged = await client.send('payments.charge', { orderId: order.id, amountCents: order.totalCents, card: '4242424242424242' });
  assert.ok(charged.ok, JSON.stringify(charged));
  const paid = await client.send('orders.markPaid', { orderId: order.id, paymentId: charged.value.id, amountCents: charged.value.amountCents });
  assert.ok(paid.ok, JSON.stringify(paid));
  assert.equal(paid.value.status, 'paid');

  // Business refusals: 409 with the module's code.
  const twice = await client.send('payments.charge', { orderId: order.id, amountCents: order.totalCents, card: '4242424242424242' });
  assert.deepEqual(twice.ok ? null : [twice.status, twice.error.code], [409, 'ALREADY_CHARGED']);
  const cancelPaid = await client.send('orders.cancel', { orderId: order.id });
  assert.deepEqual(cancelPaid.ok ? null : [cancelPaid.status, cancelPaid.error.code], [409, 'ORDER_CLOSED']);

  // What the compiler refuses, the cluster refuses too, for a caller without the types.
  // @ts-expect-error an unknown command name
  const unknown = await client.send('orders.plac', { customer: 'ada', lines: [] });
  assert.deepEqual(unknown.ok ? null : [unknown.status, unknown.error.code], [404, 'UNKNOWN_COMMAND']);
  // @ts-expect-error a field of the wrong type
  const badField = await client.send('orders.place', { customer: 'ada', lines: [{ sku: 'tea', quantity: '3', priceCents: 450 }] });
  assert.deepEqual(badField.ok ? null : [badField.status, badField.error.code], [400, 'INVALID_PAYLOAD']);

  // Failover: kill the leader outright; the client moves to the nodes left and the shop goes on.
  const leader = await leaderOf(members);
  process.kill(leader.pid, 'SIGKILL');
  const started = Date.now();
  const after = await client.send('orders.place', { customer: 'grace', lines: [{ sku: 'tea', quantity: 1, priceCents: 450 }] });
  assert.ok(after.ok, JSON.stringify(after));
  t.diagnostic(`first order after killing leader ${leader.id}: ${Date.now() - started} ms`);
  assert.ok(!alive(leader.pid), 'the old leader is gone');
  const newLeader = await leaderOf(members.filter((m) => m !== leader));
  assert.notEqual(newLeader.id, leader.id);
  // Nothing acknowledged before the failover is lost.
  const read = await client.query('orders.get', { orderId: order.id });
  assert.ok(read.ok, JSON.stringify(read));
  assert.equal(read.value.status, 'paid');
  assert.equal(read.value.paymentId, charged.value.id);
  const payment = await client.query('payments.forOrder', { orderId: order.id });
  assert.deepEqual(payment.ok ? payment.value : null, charged.value);
  const cancelled = await client.send('orders.cancel', { orderId: after.value.id });
  assert.equal(cancelled.ok ? cancelled.value.status : null, 'cancelled');
});
