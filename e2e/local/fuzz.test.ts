// Fuzzes a live 3-node cluster on network namespaces with seeded bad inputs (CATGA_FUZZ_SEED,
// CATGA_FUZZ_CASES): random and mutated HTTP bodies, hostile headers, unknown paths, WebSocket
// handshakes and frames, raw bytes on the peer port. Every bad input must get a 4xx with a JSON
// error code (a mutation that happens to be valid may succeed), nothing may hang or crash, and
// the cluster must still commit afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { LocalCluster, PEER_PORT, seededRandom, type CatgaNode } from './cluster.js';
import { missingPrerequisites } from './preflight.js';
import { httpCall } from './http.js';
import { BAD_SUBSCRIPTIONS, FuzzRandom, httpCase, peerBytes, wsFrame } from './fuzz-inputs.js';
import { runAllCleanups } from './cleanup.js';

// Last resort for anything a failed test left running (the process handlers cover interrupts).
after(runAllCleanups);

const SEED = Number(process.env['CATGA_FUZZ_SEED'] ?? 42);
const CASES = Number(process.env['CATGA_FUZZ_CASES'] ?? 400);
const REQUEST_TIMEOUT_MS = 10_000;
const WS_TIMEOUT_MS = 5_000;
const WS_SESSIONS = 40;
const PEER_SESSIONS = 60;
const PEER_SESSION_MS = 300;
const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;


describe('fuzzing a live node', { skip: missingPrerequisites({ node: true, checker: false }) }, () => {
  let cluster: LocalCluster;
  let random: FuzzRandom;
  let failed = false;

  before(async () => {
    cluster = await LocalCluster.start({ size: 3, seed: SEED });
    random = new FuzzRandom(seededRandom(SEED));
  });

  after(async () => {
    await cluster?.destroy(failed);
  });

  const target = (): CatgaNode => random.pick(cluster.memberNodes());

  async function assertAlive(): Promise<void> {
    for (const node of cluster.memberNodes()) {
      assert.notEqual(node.child, null, `${node.id} crashed; see ${node.logFile}`);
      const res = await httpCall(`${node.url}/healthz`, { timeoutMs: 5_000 });
      assert.equal(res.status, 200, `${node.id} unhealthy`);
    }
  }

  test(`${CASES} bad HTTP requests each get a 4xx with an error code (seed ${SEED})`, { timeout: 300_000 }, async () => {
    failed = true;
    const tally = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const c = httpCase(random);
      const node = target();
      const where = `case ${i} "${c.name}" ${c.method} ${c.path.slice(0, 80)} on ${node.id}`;
      const res = await httpCall(`${node.url}${c.path}`, {
        method: c.method, headers: c.headers, timeoutMs: REQUEST_TIMEOUT_MS, ...(c.body === undefined ? {} : { body: c.body }),
      });
      const body = res.body as { ok?: unknown; error?: { code?: unknown } } | null;
      if (res.status >= 200 && res.status < 300) {
        assert.ok(c.mayBeValid, `${where}: a bad input was accepted: ${res.status} ${res.raw.slice(0, 200)}`);
        assert.equal(body?.ok, true, `${where}: success without ok:true`);
      } else {
        assert.ok(res.status >= 400 && res.status < 500, `${where}: expected 4xx, got ${res.status} ${res.raw.slice(0, 200)}`);
        assert.equal(body?.ok, false, `${where}: error body without ok:false: ${res.raw.slice(0, 200)}`);
        assert.match(String(body?.error?.code), ERROR_CODE, `${where}: error code`);
      }
      tally.set(`${c.name} -> ${res.status}`, (tally.get(`${c.name} -> ${res.status}`) ?? 0) + 1);
    }
    console.log([...tally].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n'));
    await assertAlive();
    failed = false;
  });

  test('bad WebSocket subscriptions are refused with 400 and a code; hostile frames are harmless', { timeout: 120_000 }, async () => {
    failed = true;
    for (const query of BAD_SUBSCRIPTIONS) {
      const node = target();
      const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`ws://${node.host.ip}:8080/v1/events?${query}`, { handshakeTimeout: WS_TIMEOUT_MS });
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on('open', () => { ws.terminate(); reject(new Error(`?${query} was accepted`)); });
        ws.on('error', (err) => { if (!err.message.startsWith('Unexpected server response')) reject(err); });
      });
      assert.equal(status.status, 400, `?${query}`);
      assert.match(String((JSON.parse(status.body) as { error: { code: string } }).error.code), ERROR_CODE);
    }
    const endings = new Map<string, number>();
    for (let i = 0; i < WS_SESSIONS; i++) {
      const node = target();
      const ending = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://${node.host.ip}:8080/v1/events?from=0`, { handshakeTimeout: WS_TIMEOUT_MS });
        let opened = false;
        const timer = setTimeout(() => { ws.terminate(); resolve('still open'); }, 300);
        ws.on('open', () => {
          opened = true;
          for (let k = 0; k < 5; k++) {
            const frame = wsFrame(random);
            ws.send(frame.data, { binary: frame.binary });
          }
        });
        ws.on('error', () => undefined); // the server may close on a bad frame: fine
        ws.on('close', (code) => {
          clearTimeout(timer);
          if (opened) resolve(`closed ${code}`);
          else reject(new Error(`subscription to ${node.id} never opened`));
        });
        ws.on('unexpected-response', () => { clearTimeout(timer); reject(new Error('a valid subscription was refused')); });
      });
      endings.set(ending, (endings.get(ending) ?? 0) + 1);
    }
    console.log([...endings].map(([k, v]) => `  websocket sessions ${k}: ${v}`).join('\n'));
    await assertAlive();
    failed = false;
  });

  test('random bytes on the peer port do not crash a node', { timeout: 120_000 }, async () => {
    failed = true;
    for (let i = 0; i < PEER_SESSIONS; i++) {
      const node = target();
      await new Promise<void>((resolve) => {
        const socket = connect(PEER_PORT, node.host.ip);
        const timer = setTimeout(() => { socket.destroy(); resolve(); }, PEER_SESSION_MS);
        socket.on('connect', () => socket.write(peerBytes(random)));
        socket.on('error', () => undefined);
        socket.on('close', () => { clearTimeout(timer); resolve(); });
      });
    }
    await assertAlive();
    failed = false;
  });

  test('the cluster still commits through every node afterwards', { timeout: 60_000 }, async () => {
    failed = true;
    await cluster.waitForLeader(20_000);
    for (const node of cluster.memberNodes()) {
      const res = await httpCall(`${node.url}/v1/commands/kv.put`, {
        method: 'POST', body: JSON.stringify({ key: `after-${node.id}`, value: 'ok' }), timeoutMs: REQUEST_TIMEOUT_MS,
      });
      assert.equal(res.status, 200, `${node.id}: ${res.raw}`);
    }
    failed = false;
  });
});
