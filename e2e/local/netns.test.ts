// Proves the harness's infrastructure without the Catga node: namespaces on a bridge, cluster
// DNS from dnsmasq, nftables partitions / one-way cuts / random loss, the delaying relay, signal
// faults and cleanup (including leftovers of a crashed run), using tiny stand-in HTTP servers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestNetwork, removeLeftovers, STATE_DIR, type Host } from './netns.js';
import { ClusterDns, headlessName, podName } from './dns.js';
import { NetworkFaults, renderRuleset } from './faults.js';
import { DelayRelay } from './relay.js';
import { httpCall } from './http.js';
import { seededRandom } from './cluster.js';
import { missingPrerequisites } from './preflight.js';
import { runAllCleanups } from './cleanup.js';

// Last resort for anything a failed test left running (the process handlers cover interrupts).
after(runAllCleanups);

const skip = missingPrerequisites({ node: false, checker: false });

/** Gone or a zombie waiting for a reaper that is not us. */
function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

// A stand-in "pod": answers its id, resolves names through the cluster DNS, fetches URLs from
// inside its namespace, echoes bodies.
const STAND_IN = `
const http = require('http');
const resolver = new (require('dns').promises.Resolver)({ timeout: 500, tries: 1 });
resolver.setServers([process.env.DNS]);
http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://x');
  try {
    if (u.pathname === '/whoami') return res.end(process.env.ID);
    if (u.pathname === '/resolve') return res.end(JSON.stringify((await resolver.resolve4(u.searchParams.get('name'))).sort()));
    if (u.pathname === '/fetch') {
      const f = await fetch(u.searchParams.get('url'), { signal: AbortSignal.timeout(1500) });
      return res.end(await f.text());
    }
    if (u.pathname === '/echo') return req.pipe(res);
    res.statusCode = 404; res.end();
  } catch (e) { res.statusCode = 502; res.end(String(e.cause?.code ?? e.code ?? e.name)); }
}).listen(8080);`;

describe('namespace harness infrastructure', { skip }, () => {
  let net: TestNetwork;
  let dns: ClusterDns;
  let runDir: string;
  const standIns = new Map<number, ChildProcess>();

  const url = (host: Host, path: string): string => `http://${host.ip}:8080${path}`;
  const get = async (host: Host, path: string, timeoutMs = 3_000): Promise<{ status: number; text: string }> => {
    const res = await httpCall(url(host, path), { timeoutMs });
    return { status: res.status, text: res.raw };
  };
  /** Asks the stand-in in `from` to fetch `to`'s /whoami by its pod DNS name. */
  const fetchFrom = (from: Host, to: Host): Promise<{ status: number; text: string }> =>
    get(from, `/fetch?url=${encodeURIComponent(`http://${podName('cg', 'e2e', to.index)}:8080/whoami`)}`);

  async function startStandIn(host: Host): Promise<void> {
    const child = net.spawnIn(host, process.execPath, ['-e', STAND_IN], {
      env: { ID: `cg-${host.index}`, DNS: dns.server }, stdio: 'ignore',
    });
    standIns.set(host.index, child);
    for (let i = 0; i < 100; i++) {
      try {
        if ((await get(host, '/whoami', 500)).status === 200) return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`stand-in ${host.index} did not start`);
  }

  before(async () => {
    net = await TestNetwork.create(3);
    runDir = mkdtempSync('/tmp/catga-e2e-netns-');
    dns = await ClusterDns.start(net, runDir, 'cg', 'e2e');
    for (const h of net.hosts) await dns.setPod(h.index, h.ip);
    await Promise.all(net.hosts.map((h) => startStandIn(h)));
  });

  after(() => {
    dns?.stop();
    net?.destroy();
    rmSync(runDir, { recursive: true, force: true });
  });

  test('the harness reaches every namespace on the bridge', async () => {
    for (const h of net.hosts) assert.deepEqual(await get(h, '/whoami'), { status: 200, text: `cg-${h.index}` });
  });

  test('dnsmasq serves pod names and the headless name, and follows a moved pod', async () => {
    const h0 = net.hosts[0]!;
    const pod1 = JSON.parse((await get(h0, `/resolve?name=${podName('cg', 'e2e', 1)}`)).text) as string[];
    assert.deepEqual(pod1, [net.hosts[1]!.ip]);
    const all = JSON.parse((await get(h0, `/resolve?name=${headlessName('cg', 'e2e')}`)).text) as string[];
    assert.deepEqual(all, net.hosts.map((h) => h.ip).sort());
    assert.deepEqual(await fetchFrom(h0, net.hosts[2]!), { status: 200, text: 'cg-2' });
    const moved = '10.77.250.99';
    await dns.setPod(2, moved);
    assert.deepEqual(await dns.lookup(podName('cg', 'e2e', 2)), [moved]);
    await dns.setPod(2, net.hosts[2]!.ip);
    await dns.removePod(2);
    assert.deepEqual(await dns.lookup(podName('cg', 'e2e', 2)), []);
    await dns.setPod(2, net.hosts[2]!.ip);
  });

  test('a partition cuts exactly the chosen links, and healing restores them', async () => {
    const faults = new NetworkFaults(net);
    const [h0, h1, h2] = [net.hosts[0]!, net.hosts[1]!, net.hosts[2]!];
    await faults.partition([h0], [h1]);
    assert.equal((await fetchFrom(h0, h1)).status, 502, 'h0 -> h1 must be cut');
    assert.equal((await fetchFrom(h1, h0)).status, 502, 'h1 -> h0 must be cut');
    assert.deepEqual(await fetchFrom(h0, h2), { status: 200, text: 'cg-2' });
    assert.deepEqual(await fetchFrom(h1, h2), { status: 200, text: 'cg-2' });
    assert.equal((await get(h1, '/whoami')).text, 'cg-1', 'the harness keeps its path to a partitioned host');
    await faults.healAll();
    assert.deepEqual(await fetchFrom(h0, h1), { status: 200, text: 'cg-1' });
  });

  test('a one-way cut drops only the sending direction and loss rules use numgen', async () => {
    const faults = new NetworkFaults(net);
    const [h0, h1, h2] = [net.hosts[0]!, net.hosts[1]!, net.hosts[2]!];
    await faults.dropOneWay(h0, h1);
    assert.match(await faults.listRules(h0), new RegExp(`ip daddr ${h1.ip.replaceAll('.', '\\.')} drop`));
    assert.match(await faults.listRules(h1), new RegExp(`ip saddr ${h0.ip.replaceAll('.', '\\.')} drop`));
    assert.doesNotMatch(await faults.listRules(h1), /daddr/);
    assert.equal((await fetchFrom(h0, h1)).status, 502);
    await faults.healAll();
    await faults.loss([h0, h1, h2], 30);
    const rules = await faults.listRules(h0);
    assert.match(rules, /numgen random mod 100 < 30 drop/);
    assert.match(rules, new RegExp(h2.ip.replaceAll('.', '\\.')));
    await faults.healAll();
    assert.doesNotMatch(await faults.listRules(h0), /drop/);
    assert.deepEqual(await fetchFrom(h0, h1), { status: 200, text: 'cg-1' });
  });

  test('the rendered ruleset replaces the table atomically', () => {
    const script = renderRuleset({ dropFrom: new Set(['10.0.0.2']), dropTo: new Set(), lossPercent: 0, lossPeers: new Set() });
    assert.match(script, /^table inet catga_fault\ndelete table inet catga_fault\ntable inet catga_fault \{/);
    assert.match(script, /ip saddr \{ 10\.0\.0\.2 \} drop/);
  });

  test('the relay delays each direction by 100 ms +- 50 ms and keeps byte order', async () => {
    const h1 = net.hosts[1]!;
    const relayIp = await net.addBridgeAddress();
    const relay = new DelayRelay(relayIp, 8080, h1.ip, 8080, { meanMs: 100, jitterMs: 50 }, seededRandom(7));
    await relay.start();
    try {
      const direct = Date.now();
      await httpCall(url(h1, '/whoami'), { timeoutMs: 2_000 });
      const directMs = Date.now() - direct;
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        const res = await httpCall(`http://${relayIp}:8080/whoami`, { timeoutMs: 3_000 });
        assert.equal(res.raw, 'cg-1');
        samples.push(Date.now() - t);
      }
      assert.ok(Math.min(...samples) >= 100, `request+response crosses the relay twice (>= 2 x 50 ms): ${samples}`);
      assert.ok(Math.max(...samples) < 1_000, `bounded delay: ${samples}`);
      assert.ok(directMs < 100, `direct path is fast: ${directMs}`);
      // Many chunks, each delayed independently with jitter: order must survive.
      const payload = Array.from({ length: 40_000 }, (_, i) => i.toString(36).padStart(4, '0')).join(',');
      const echoed = await httpCall(`http://${relayIp}:8080/echo`, { method: 'POST', body: payload, timeoutMs: 10_000 });
      assert.equal(echoed.raw.length, payload.length);
      assert.ok(echoed.raw === payload, 'bytes arrive in order');
    } finally {
      await relay.close();
    }
  });

  test('SIGSTOP freezes a process, SIGCONT resumes it, SIGKILL + respawn restarts it', async () => {
    const h2 = net.hosts[2]!;
    const child = standIns.get(2)!;
    child.kill('SIGSTOP');
    await assert.rejects(get(h2, '/whoami', 500), { code: 'TIMEOUT' });
    child.kill('SIGCONT');
    assert.equal((await get(h2, '/whoami')).text, 'cg-2');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await assert.rejects(get(h2, '/whoami', 500), { code: 'CONNECTION_REFUSED' });
    await startStandIn(h2);
    assert.equal((await get(h2, '/whoami')).text, 'cg-2');
  });
});

describe('cleanup', { skip }, () => {
  test('destroy removes every namespace, link and process of the run', async () => {
    const net = await TestNetwork.create(2);
    const child = net.spawnIn(net.hosts[0]!, 'sleep', ['300'], { stdio: 'ignore' });
    const pid = child.pid!;
    net.destroy();
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(processGone(pid));
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.doesNotMatch(namespaces, new RegExp(`cg${net.runId}-`));
    const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
    assert.doesNotMatch(links, new RegExp(`${net.bridge}:|cgh${net.runId}`));
  });

  test('leftovers of a crashed run (dead owner pid) are removed; live runs are kept', async () => {
    const live = await TestNetwork.create(1);
    try {
      // Fake a crashed run: a namespace with a process, a bridge, a state file naming a dead pid.
      const ns = 'cgzzzz-0';
      execFileSync('ip', ['netns', 'add', ns]);
      const orphan = execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
      execFileSync('ip', ['link', 'add', 'name', 'cg-br251', 'type', 'bridge']);
      execFileSync('ip', ['link', 'set', 'dev', 'cg-br251', 'alias', 'catga-zzzz']);
      writeFileSync(`${STATE_DIR}/zzzz.json`, JSON.stringify({ pid: 2 ** 22 + 1, bridge: 'cg-br251', daemonPids: [] }));
      const removed = removeLeftovers();
      assert.ok(removed.includes(ns) && removed.includes('cg-br251'), `removed: ${removed}`);
      assert.ok(processGone(Number(orphan.trim())), 'the orphan process was killed');
      assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(`cg${live.runId}-0`));
    } finally {
      live.destroy();
    }
  });
});
