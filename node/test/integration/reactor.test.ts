// Reactors on a real 3-node cluster of `catga node` processes (fixture: fixtures/reactors.mjs):
// a reactor that calls an external HTTP endpoint with one idempotency key per event, and a saga
// (event A → command B), while the leader is killed in the middle of a reaction, 20 times. The
// endpoint (a recorder in this test) must see every event's key (none skipped) and no key of an
// event that does not exist; the saga's command must apply exactly once per event. Also: dead
// letters after the last try, and clients cannot forge reactor progress.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TestCluster, command, http, queryReq, sleep, until } from './cluster.js';

/** The fixture is plain .mjs, read from the source tree (tsc does not copy it to dist). */
const REACTOR_HANDLERS = fileURLToPath(new URL('../../../test/integration/fixtures/reactors.mjs', import.meta.url));
const KILLS = 20;
/** How long the recorder holds each call: the leader is killed while it does. */
const HOLD_MS = 300;
const LONG = { 'request-timeout': '15000' };

/** The external endpoint: records every call's idempotency key per path, answers after HOLD_MS. */
class Recorder {
  readonly calls = new Map<string, Map<string, number>>();
  private arrivals: { path: string; resolve: (key: string) => void }[] = [];
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const key = String(req.headers['idempotency-key'] ?? '');
      const path = req.url ?? '';
      req.resume();
      req.on('end', () => {
        const keys = this.calls.get(path) ?? new Map<string, number>();
        keys.set(key, (keys.get(key) ?? 0) + 1);
        this.calls.set(path, keys);
        for (const w of this.arrivals.filter((a) => a.path === path)) w.resolve(key);
        this.arrivals = this.arrivals.filter((a) => a.path !== path);
        setTimeout(() => res.end('ok'), HOLD_MS);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves with the key of the next call to `path` whose key is `key`. */
  arrival(path: string, key: string): Promise<void> {
    if (this.calls.get(path)?.has(key) === true) return Promise.resolve();
    return new Promise((resolve) => {
      const wait = (got: string): void => {
        if (got === key) resolve();
        else this.arrivals.push({ path, resolve: wait });
      };
      this.arrivals.push({ path, resolve: wait });
    });
  }

  keys(path: string): Set<string> {
    return new Set(this.calls.get(path)?.keys() ?? []);
  }

  duplicates(): number {
    let n = 0;
    for (const keys of this.calls.values()) for (const count of keys.values()) n += count - 1;
    return n;
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }
}

describe('reactors on a 3-node cluster', () => {
  let c: TestCluster;
  const recorder = new Recorder();

  before(async () => {
    const url = await recorder.start();
    c = await TestCluster.start({ nodes: 3, env: { CATGA_HANDLERS: REACTOR_HANDLERS, REACTOR_TEST_URL: url } });
    await c.leader();
  });

  after(async () => {
    await c?.close();
    await recorder.close();
  });

  test('clients cannot send the node\'s own reactor progress command', async () => {
    const r = await command(c.url(0), 'catga.reactor.done', { reactor: 'ship', index: 1_000_000, position: 0 });
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'UNKNOWN_COMMAND');
  });

  test('a reactor that keeps failing leaves a dead letter after its last try and goes on', async () => {
    const published = await http(`${c.url(1)}/v1/events/shipping.refuse`, 'POST', { why: 'test' });
    assert.equal(published.status, 200, JSON.stringify(published.body));
    const eventId = `${published.body.index}.0`;
    const letters = await until('a dead letter', async () => {
      const r = await queryReq(c.url(2), 'catga.reactors.deadLetters', { reactor: 'refuse' }, 'linearizable');
      const value = r.body.value as { deadLetters: { eventId: string; attempts: number; error: string; type: string }[] };
      return value.deadLetters.length > 0 ? value.deadLetters : null;
    });
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.eventId, eventId);
    assert.equal(letters[0]!.attempts, 3);
    assert.equal(letters[0]!.type, 'shipping.refuse');
    assert.match(letters[0]!.error, /always fails/);
    const progress = await queryReq(c.url(0), 'catga.reactors.progress', {}, 'linearizable');
    assert.deepEqual((progress.body.value as { reactor: string; checkpoint: string; deadLetters: number }[]).find((p) => p.reactor === 'refuse'), { reactor: 'refuse', checkpoint: eventId, deadLetters: 1 });
    const leader = await c.leader();
    const metrics = await (await fetch(`${c.url(leader)}/metrics`)).text();
    assert.match(metrics, /catga_reactor_handled_total\{reactor="refuse",outcome="dead_letter"\} 1/);
    assert.match(metrics, /catga_reactor_handled_total\{reactor="refuse",outcome="error"\} 3/);
    assert.match(metrics, /catga_reactor_running 3/);
  });

  test(`each event's effect reaches the endpoint and each saga command applies once, across ${KILLS} leader kills mid-reaction`, async () => {
    const carrierKeys = new Set<string>();
    const shippedKeys = new Set<string>();
    const orders: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const leader = await c.leader(30_000);
      const via = c.url((leader + 1) % 3);
      let path: string;
      let key: string;
      if (k % 2 === 0) {
        const r = await command(via, 'orders.create', { productId: `p-${k}`, quantity: 1 }, { 'idempotency-key': `order-${k}`, ...LONG });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        path = '/carrier';
        key = `reactor:notify-carrier:${r.body.index}.0`;
        carrierKeys.add(key);
      } else {
        const orderId = `o-${k}`;
        const r = await command(via, 'shipping.request', { orderId }, { 'idempotency-key': `ship-${k}`, ...LONG });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        orders.push(orderId);
        // Killed after the saga's command committed, before the reactor's progress did.
        path = '/shipped';
        key = `reactor:ship:${r.body.index}.0`;
        shippedKeys.add(key);
      }
      await Promise.race([recorder.arrival(path, key), sleep(30_000).then(() => { throw new Error(`no call ${key} within 30 s\n${c.dumpLogs()}`); })]);
      await c.kill(leader);
      await c.leader(30_000, [0, 1, 2].filter((i) => i !== leader));
      c.startNode(leader);
    }
    await until('every event\'s call', () => [...carrierKeys].every((k) => recorder.keys('/carrier').has(k)) && [...shippedKeys].every((k) => recorder.keys('/shipped').has(k)), 60_000);
    // Each key is an event that exists (no key for anything else), and none is missing.
    assert.deepEqual(recorder.keys('/carrier'), carrierKeys);
    assert.deepEqual(recorder.keys('/shipped'), shippedKeys);
    const confirmations = await until('the saga\'s commands', async () => {
      const r = await queryReq(c.url(0), 'shipping.confirmations', {}, 'linearizable');
      const value = r.body.value as Record<string, number>;
      return Object.keys(value).length === orders.length ? value : null;
    }, 30_000);
    assert.deepEqual(confirmations, Object.fromEntries(orders.map((o) => [o, 1])));
    console.log(`reactor kills: ${KILLS}, calls repeated after a kill (absorbed by the endpoint's keys): ${recorder.duplicates()}`);
  });
});
