// Leader election on a Lease: one winner, takeover only after expiry, loss reported after the
// renew deadline, and a released lease taken over at once. The store is in memory and enforces
// resourceVersion like the API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaseStore } from '../src/machinery/leader-election.js';
import { jsonLogger } from '../src/machinery/log.js';
import type { Timers } from '../src/machinery/workqueue.js';

class MemoryLeaseStore implements LeaseStore {
  lease: V1Lease | null = null;
  version = 0;
  failing = false;
  async read(): Promise<V1Lease | null> {
    if (this.failing) throw new Error('api down');
    return this.lease === null ? null : structuredClone(this.lease);
  }
  async create(lease: V1Lease): Promise<V1Lease> {
    if (this.failing) throw new Error('api down');
    if (this.lease !== null) throw Object.assign(new Error('exists'), { code: 409 });
    this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.version) } };
    return this.lease;
  }
  async replace(lease: V1Lease): Promise<V1Lease> {
    if (this.failing) throw new Error('api down');
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.version) } };
    return this.lease;
  }
}

const noTimers: Timers = { setTimeout: () => null, clearTimeout: () => undefined };
const quiet = jsonLogger('error', {}, () => undefined);

function elector(store: LeaseStore, identity: string, clock: { now: number }, events: string[]) {
  return new LeaderElector(store, {
    identity, namespace: 'ns', name: 'catga-operator', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
    now: () => clock.now, timers: noTimers,
  }, quiet, () => events.push(`${identity}:start`), () => events.push(`${identity}:stop`));
}

test('one replica wins; the other takes over only after the lease expires', async () => {
  const store = new MemoryLeaseStore();
  const clock = { now: 1_000_000 };
  const events: string[] = [];
  const a = elector(store, 'a', clock, events);
  const b = elector(store, 'b', clock, events);
  await a.tick();
  await b.tick();
  assert.deepEqual(events, ['a:start']);
  assert.equal(b.isLeader, false);
  clock.now += 14_000;
  await b.tick();
  assert.equal(b.isLeader, false, 'lease not expired yet');
  clock.now += 2_000;
  await b.tick();
  assert.equal(b.isLeader, true);
  assert.equal(store.lease!.spec!.holderIdentity, 'b');
  assert.equal(store.lease!.spec!.leaseTransitions, 1);
});

test('a leader that cannot renew within the deadline reports the loss', async () => {
  const store = new MemoryLeaseStore();
  const clock = { now: 0 };
  const events: string[] = [];
  const a = elector(store, 'a', clock, events);
  await a.tick();
  store.failing = true;
  clock.now += 9_000;
  await a.tick();
  assert.equal(a.isLeader, true, 'still within the renew deadline');
  clock.now += 2_000;
  await a.tick();
  assert.equal(a.isLeader, false);
  assert.deepEqual(events, ['a:start', 'a:stop']);
});

test('a released lease is taken over at once', async () => {
  const store = new MemoryLeaseStore();
  const clock = { now: 0 };
  const events: string[] = [];
  const a = elector(store, 'a', clock, events);
  const b = elector(store, 'b', clock, events);
  await a.tick();
  await a.stop();
  assert.equal(store.lease!.spec!.holderIdentity, '');
  await b.tick();
  assert.equal(b.isLeader, true);
});

test('timings must nest: retry < renew deadline < lease duration', () => {
  assert.throws(() => new LeaderElector(new MemoryLeaseStore(), {
    identity: 'x', namespace: 'n', name: 'l', leaseDurationMs: 5_000, renewDeadlineMs: 6_000, retryPeriodMs: 1_000,
  }, quiet, () => undefined, () => undefined));
});
