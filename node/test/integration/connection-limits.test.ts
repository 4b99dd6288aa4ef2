// Connection floods against a real `catga node` process: 10,000 idle connections and 1,000
// bodies trickled byte by byte. The node keeps answering other clients throughout, never holds
// more than CATGA_MAX_CONNECTIONS sockets, closes what does not finish in time, and its memory
// stays bounded. (A child process: the 10,000 sockets of each side would not fit one process's
// file descriptor limit.)
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalCluster } from '../../src/local/local-cluster.js';
import { until } from './cluster.js';

const MAX_CONNECTIONS = 4096;
const HEADERS_TIMEOUT_MS = 3_000;
const BODY_TIMEOUT_MS = 6_000;
/** Growth of the node's resident memory that these floods may cause, at most. */
const RSS_BUDGET_BYTES = 150 * 1024 * 1024;

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** A put through a fresh connection: what any new client would see. */
async function putWorks(url: string, i: number): Promise<boolean> {
  const r = await fetch(`${url}/v1/commands/kv.put`, {
    method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ key: `k${i}`, value: i }),
    signal: AbortSignal.timeout(5_000),
  });
  return r.status === 200;
}

/** Opens `n` TCP connections (in batches), returning them with a count of those the node closed. */
async function openMany(port: number, n: number, onOpen: (s: net.Socket) => void = () => {}): Promise<{ sockets: net.Socket[]; closed: () => number }> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  for (let start = 0; start < n; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - start) }, () => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.resume(); // read, so that the node's FIN is seen
      s.once('close', () => { closed++; resolve(); });
      s.once('connect', () => { onOpen(s); resolve(); });
      sockets.push(s);
    })));
  }
  return { sockets, closed: () => closed };
}

describe('connection limits of one node process', { timeout: 180_000 }, () => {
  let dir: string;
  let cluster: LocalCluster;
  let url: string;
  let port: number;
  let pid: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'catga-conn-'));
    cluster = await LocalCluster.create({
      dir, members: 1, clusterId: 'conn', secret: 'connection-limits-secret', adminToken: 'admin-token-0123',
      env: {
        CATGA_OPEN_ACCESS: 'true', CATGA_LOG_LEVEL: 'error', CATGA_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
        CATGA_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), CATGA_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      },
    });
    cluster.startAll();
    const m = cluster.members[0]!;
    url = m.url;
    port = m.httpPort;
    pid = m.proc!.pid!;
    await until('the node takes commands', () => putWorks(url, 0).catch(() => false), 20_000);
  });
  after(async () => {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('10,000 idle connections: at most the cap is held, new clients still get in, idle ones are closed in time', async () => {
    const rssBefore = rssOf(pid);
    const { sockets, closed } = await openMany(port, 10_000);
    await until('the node to have closed the connections over the cap', async () => closed() >= 10_000 - MAX_CONNECTIONS, 10_000);
    assert.ok(await metric(url, 'catga_http_connections') <= MAX_CONNECTIONS);
    for (let i = 1; i <= 20; i++) assert.equal(await putWorks(url, i), true, `put ${i} while the idle connections are open`);
    const rssFlood = rssOf(pid);
    await until('every idle connection to be closed', async () => closed() === 10_000, HEADERS_TIMEOUT_MS * 4);
    assert.ok(await metric(url, 'catga_http_connections_closed_total{reason="idle"}') > 0);
    console.log(`idle flood: RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, ${(rssFlood / 2 ** 20).toFixed(0)} MB with the sockets open`);
    assert.ok(rssFlood - rssBefore < RSS_BUDGET_BYTES, `RSS grew by ${rssFlood - rssBefore} bytes`);
    for (const s of sockets) s.destroy();
  });

  test('1,000 slow bodies: other clients are served, each slow request gets 408 once its time is up', async () => {
    const rssBefore = rssOf(pid);
    const answers: string[] = [];
    const trickles: NodeJS.Timeout[] = [];
    const { sockets, closed } = await openMany(port, 1_000, (s) => {
      s.write(`POST /v1/commands/kv.put HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${512 * 1024}\r\n\r\n{"key":"slow","value":"`);
      s.once('data', (d: Buffer) => answers.push(d.toString('latin1').split('\r\n')[0]!));
      trickles.push(setInterval(() => { if (s.writable) s.write('x'.repeat(64)); }, 500));
    });
    let rssFlood: number;
    try {
      for (let i = 100; i < 120; i++) assert.equal(await putWorks(url, i), true, `put ${i} while the slow bodies trickle`);
      rssFlood = rssOf(pid);
      await until('every slow request to be answered and closed', async () => closed() === 1_000, BODY_TIMEOUT_MS * 3);
    } finally {
      for (const t of trickles) clearInterval(t);
      for (const s of sockets) s.destroy();
    }
    assert.equal(answers.length, 1_000);
    assert.deepEqual([...new Set(answers)], ['HTTP/1.1 408 Request Timeout']);
    console.log(`slow bodies: RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, ${(rssFlood / 2 ** 20).toFixed(0)} MB while they trickle`);
    assert.ok(rssFlood - rssBefore < RSS_BUDGET_BYTES, `RSS grew by ${rssFlood - rssBefore} bytes`);
  });
});
