// DNS membership against a real DNS server (dnsmasq on a loopback port): all records present,
// records appearing late, a record missing for a while, a restarted pod with a new address (also
// end to end: the transport redials the new IP), and aborting a wait.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  hostResolver,
  initialConfiguration,
  MembershipError,
  waitForInitialMembers,
  type DiscoveryOptions,
} from '../../../src/membership/index.js';
import { createPeerTransport } from '../../../src/transport/index.js';
import type { Message } from '../../../src/raft/types.js';
import { Dnsmasq, type HostRecords } from './dnsmasq.js';

const DNS_NAME = 'x-hl.ns.svc.cluster.local';
const conf = initialConfiguration('x', 3, DNS_NAME, 7080);
const host = (i: number): string => `x-${i}.${DNS_NAME}`;
const FAST_RETRY = { baseMs: 20, maxMs: 100 };

const servers: Dnsmasq[] = [];
async function dnsmasq(hosts: HostRecords, extra: { srv?: string[]; hostRecords?: string[] } = {}): Promise<Dnsmasq> {
  const server = await Dnsmasq.start({ hosts, ...extra });
  servers.push(server);
  return server;
}
after(() => {
  for (const s of servers) s.stop();
});

function recorder(): { options: (dns: Dnsmasq) => DiscoveryOptions; events: Array<{ event: string; fields: Record<string, unknown> }> } {
  const events: Array<{ event: string; fields: Record<string, unknown> }> = [];
  return {
    events,
    options: (dns) => ({ dnsServer: dns.address, dnsName: DNS_NAME, retry: FAST_RETRY, log: (event, fields) => events.push({ event, fields: fields as Record<string, unknown> }) }),
  };
}

let all: HostRecords;
before(() => {
  all = { [host(0)]: ['127.0.0.2'], [host(1)]: ['127.0.0.3'], [host(2)]: ['127.0.0.4'], [DNS_NAME]: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] };
});

test('all records present: resolves at once, with the headless A records and the SRV records', async () => {
  const dns = await dnsmasq(all, { srv: [`_peer._tcp.${DNS_NAME},${host(0)},7080`, `_peer._tcp.${DNS_NAME},${host(1)},7080`] });
  const rec = recorder();
  const result = await waitForInitialMembers(conf, rec.options(dns));
  assert.equal(result.attempts, 1);
  assert.deepStrictEqual(result.resolved, { 'x-0': ['127.0.0.2'], 'x-1': ['127.0.0.3'], 'x-2': ['127.0.0.4'] });
  assert.deepStrictEqual([...result.headless].sort(), ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  assert.deepStrictEqual(result.srv.map((s) => `${s.name}:${s.port}`).sort(), [`${host(0)}:7080`, `${host(1)}:7080`]);
  assert.equal(rec.events.at(-1)!.event, 'dns_members_resolved');
});

test('records appearing late: the wait goes on until every initial member resolves', async () => {
  const dns = await dnsmasq({});
  const rec = recorder();
  let done = false;
  const waiting = waitForInitialMembers(conf, rec.options(dns)).then((r) => {
    done = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(done, false, 'nothing resolves yet');
  await dns.setHosts({ [host(0)]: ['127.0.0.2'] });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(done, false, 'one of three is not enough');
  await dns.setHosts(all);
  const result = await waiting;
  assert.ok(result.attempts > 3, `retried (${result.attempts} attempts)`);
  assert.deepStrictEqual(Object.keys(result.resolved).sort(), ['x-0', 'x-1', 'x-2']);
});

test('a missing record: reported while it is missing, then found when it appears', async () => {
  const dns = await dnsmasq({ [host(0)]: ['127.0.0.2'], [host(2)]: ['127.0.0.4'] });
  const rec = recorder();
  const waiting = waitForInitialMembers(conf, rec.options(dns));
  const deadline = Date.now() + 5000;
  while (rec.events.filter((e) => e.event === 'dns_members_missing').length < 3) {
    assert.ok(Date.now() < deadline, 'keeps retrying');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const e of rec.events) assert.deepStrictEqual(e.fields['missing'], ['x-1']);
  await dns.restart({ hostRecords: [`${host(1)},127.0.0.3`] });
  const result = await waiting;
  assert.deepStrictEqual(result.resolved['x-1'], ['127.0.0.3']);
  assert.deepStrictEqual(result.missing, []);
});

test('a restarted pod with a new address: re-resolution returns the new IP at once', async () => {
  const dns = await dnsmasq({ [host(1)]: ['127.0.0.3'] });
  const resolve = hostResolver(dns.address);
  assert.equal(await resolve(host(1)), '127.0.0.3');
  await dns.setHosts({ [host(1)]: ['127.0.0.7'] });
  assert.equal(await resolve(host(1)), '127.0.0.7');
  await dns.setHosts({});
  await assert.rejects(resolve(host(1)), /does not resolve/);
  assert.equal(await resolve('127.0.0.9'), '127.0.0.9', 'an IP passes through');
  assert.throws(() => hostResolver('not a server'), (e: unknown) => e instanceof MembershipError && e.code === 'INVALID_DNS_SERVER');
});

test('end to end: the transport follows a peer to its new IP after a restart', async () => {
  const dns = await dnsmasq({ [host(1)]: ['127.0.0.2'] });
  const common = { clusterId: 'c', secret: 's', reconnectBaseMs: 20, reconnectMaxMs: 100 };
  const received: Message[] = [];
  const b = createPeerTransport({ ...common, id: 'x-1', listenHost: '127.0.0.2', listenPort: 0 });
  await b.start();
  b.onMessage((m) => received.push(m));
  const port = b.port;
  const a = createPeerTransport({ ...common, id: 'x-0', listenHost: '127.0.0.1', listenPort: 0, resolveHost: hostResolver(dns.address) });
  await a.start();
  let b2: typeof b | null = null;
  try {
    a.setPeers({ 'x-1': `${host(1)}:${port}` });
    const ping = (term: number): Message => ({ type: 'timeoutNow', from: 'x-0', to: 'x-1', term });
    a.send(ping(1));
    await until(() => received.length === 1);
    await b.close();
    await dns.setHosts({ [host(1)]: ['127.0.0.3'] });
    b2 = createPeerTransport({ ...common, id: 'x-1', listenHost: '127.0.0.3', listenPort: port });
    await b2.start();
    b2.onMessage((m) => received.push(m));
    await until(() => a.connectedPeers().includes('x-1'));
    a.send(ping(2));
    await until(() => received.length === 2);
    assert.deepStrictEqual(received.map((m) => m.term), [1, 2]);
  } finally {
    await Promise.all([a.close(), b.close(), b2?.close()]);
  }
});

test('aborting the wait stops it at once with DISCOVERY_ABORTED', async () => {
  const dns = await dnsmasq({});
  const controller = new AbortController();
  const waiting = waitForInitialMembers(conf, { dnsServer: dns.address, retry: { baseMs: 10_000, maxMs: 10_000 }, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  await assert.rejects(waiting, (e: unknown) => e instanceof MembershipError && e.code === 'DISCOVERY_ABORTED');
  assert.ok(Date.now() - started < 2000);
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
