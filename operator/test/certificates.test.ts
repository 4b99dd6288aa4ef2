// The TLS planner's decisions from certificate facts and the time: issue, renew at two thirds of
// a leaf's life, reissue on new names, and the three-step CA rotation that keeps every node
// trusting what its peers present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CA_VALIDITY_MS, LEAF_VALIDITY_MS, PROPAGATION_MS, RENEW_AT_FRACTION, planTls, renewAtMs, type TlsMember, type TlsObserved,
} from '../src/controller/certificates.js';
import type { CertificateFacts, LeafFacts } from '../src/pki/inspect.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const members: TlsMember[] = [{ id: 'c-0', dnsNames: ['c-0', 'c-0.c-hl.ns.svc'] }, { id: 'c-1', dnsNames: ['c-1', 'c-1.c-hl.ns.svc'] }];
const ca = (fingerprint: string, from = T0): CertificateFacts => ({ notBeforeMs: from, notAfterMs: from + CA_VALIDITY_MS, fingerprint, dnsNames: [] });
const leaf = (m: TlsMember, issuer: string | null, from = T0, names = m.dnsNames): LeafFacts => ({
  notBeforeMs: from, notAfterMs: from + LEAF_VALIDITY_MS, fingerprint: `${m.id}@${from}`, dnsNames: names, issuer,
});

function world(o: Partial<TlsObserved> & { nowMs: number }): TlsObserved {
  return { ca: { active: ca('A'), bundle: ['A'] }, served: null, members, ...o };
}
function served(bundle: string[], leaves: [string, LeafFacts | null][], published: number | null = T0, issued: number | null = T0): TlsObserved['served'] {
  return { bundle, bundlePublishedAtMs: published, leavesIssuedAtMs: issued, leaves: new Map(leaves) };
}
const steady = (issuer = 'A', from = T0): [string, LeafFacts][] => members.map((m) => [m.id, leaf(m, issuer, from)]);

test('a new cluster: a CA, then its bundle in the members\' Secret, then a leaf for every member', () => {
  assert.deepEqual(planTls(world({ nowMs: T0, ca: null })).step, { kind: 'createCa' });
  assert.deepEqual(planTls(world({ nowMs: T0 })).step, { kind: 'publishBundle' });
  assert.deepEqual(planTls(world({ nowMs: T0, served: served(['A'], []) })).step, {
    kind: 'issueLeaves', leaves: [{ id: 'c-0', reason: 'missing' }, { id: 'c-1', reason: 'missing' }],
  });
});

test('at rest nothing is done, and the next look is when the first leaf reaches two thirds of its life', () => {
  const plan = planTls(world({ nowMs: T0 + 1000, served: served(['A'], steady()) }));
  assert.deepEqual(plan.step, { kind: 'none' });
  assert.equal(plan.nextAtMs, T0 + Math.floor(LEAF_VALIDITY_MS * RENEW_AT_FRACTION));
  assert.equal(plan.waiting, null);
});

test('a leaf is renewed at two thirds of its life, not a millisecond before', () => {
  const renewAt = renewAtMs(leaf(members[0]!, 'A'));
  const younger: [string, LeafFacts][] = [[members[0]!.id, leaf(members[0]!, 'A')], [members[1]!.id, leaf(members[1]!, 'A', T0 + 1000)]];
  assert.deepEqual(planTls(world({ nowMs: renewAt - 1, served: served(['A'], younger) })).step, { kind: 'none' });
  assert.deepEqual(planTls(world({ nowMs: renewAt, served: served(['A'], younger) })).step, { kind: 'issueLeaves', leaves: [{ id: 'c-0', reason: 'renewal' }] });
});

test('a scale-up gets the new member a leaf; changed names, an expired leaf and an unknown issuer are reissued', () => {
  const three = [...members, { id: 'c-2', dnsNames: ['c-2'] }];
  assert.deepEqual(planTls(world({ nowMs: T0, members: three, served: served(['A'], steady()) })).step, { kind: 'issueLeaves', leaves: [{ id: 'c-2', reason: 'missing' }] });
  const renamed: [string, LeafFacts][] = [[members[0]!.id, leaf(members[0]!, 'A', T0, ['c-0'])], [members[1]!.id, leaf(members[1]!, 'A')]];
  assert.deepEqual(planTls(world({ nowMs: T0, served: served(['A'], renamed) })).step, { kind: 'issueLeaves', leaves: [{ id: 'c-0', reason: 'names' }] });
  const foreign: [string, LeafFacts][] = [[members[0]!.id, leaf(members[0]!, null)], [members[1]!.id, leaf(members[1]!, 'A')]];
  assert.deepEqual(planTls(world({ nowMs: T0, served: served(['A'], foreign) })).step, { kind: 'issueLeaves', leaves: [{ id: 'c-0', reason: 'untrusted' }] });
  assert.deepEqual(planTls(world({ nowMs: T0 + LEAF_VALIDITY_MS, served: served(['A'], steady()) })).step.kind, 'issueLeaves');
});

test('CA rotation: new CA beside the old, bundle out, wait, reissue, wait, retire the old CA', () => {
  const rotateAt = renewAtMs(ca('A'));
  // The leaves were renewed recently, so only the CA is due.
  const fresh = steady('A', rotateAt - 1000);
  assert.deepEqual(planTls(world({ nowMs: rotateAt - 1, served: served(['A'], fresh) })).step, { kind: 'none' });
  assert.deepEqual(planTls(world({ nowMs: rotateAt, served: served(['A'], fresh) })).step, { kind: 'rotateCa' });

  // 1. B issues, the CA Secret's bundle holds B and A: the members' Secret gets it.
  const rotating = { active: ca('B', rotateAt), bundle: ['B', 'A'] };
  const t1 = rotateAt + 10;
  assert.deepEqual(planTls(world({ nowMs: t1, ca: rotating, served: served(['A'], fresh) })).step, { kind: 'publishBundle' });

  // 2. Until the bundle has reached the nodes, leaves signed by A stay; a brand-new member is served at once.
  const published = served(['B', 'A'], fresh, t1);
  const waiting = planTls(world({ nowMs: t1 + PROPAGATION_MS - 1, ca: rotating, served: published }));
  assert.deepEqual(waiting.step, { kind: 'none' });
  assert.equal(waiting.nextAtMs, t1 + PROPAGATION_MS);
  assert.match(waiting.waiting!, /bundle/);
  const withNew = planTls(world({ nowMs: t1 + 1, ca: rotating, served: published, members: [...members, { id: 'c-2', dnsNames: ['c-2'] }] }));
  assert.deepEqual(withNew.step, { kind: 'issueLeaves', leaves: [{ id: 'c-2', reason: 'missing' }] });
  assert.deepEqual(planTls(world({ nowMs: t1 + PROPAGATION_MS, ca: rotating, served: published })).step, {
    kind: 'issueLeaves', leaves: [{ id: 'c-0', reason: 'caRotation' }, { id: 'c-1', reason: 'caRotation' }],
  });

  // 3. Every leaf from B: A leaves the bundle once the new leaves have reached the nodes.
  const t3 = t1 + PROPAGATION_MS + 10;
  const reissued = served(['B', 'A'], steady('B', t3), t1, t3);
  assert.deepEqual(planTls(world({ nowMs: t3 + PROPAGATION_MS - 1, ca: rotating, served: reissued })).step, { kind: 'none' });
  assert.deepEqual(planTls(world({ nowMs: t3 + PROPAGATION_MS, ca: rotating, served: reissued })).step, { kind: 'retireCas' });

  // Then the CA Secret's bundle is B alone, and the members' Secret follows.
  const retired = { active: ca('B', rotateAt), bundle: ['B'] };
  assert.deepEqual(planTls(world({ nowMs: t3 + PROPAGATION_MS + 1, ca: retired, served: reissued })).step, { kind: 'publishBundle' });
  assert.deepEqual(planTls(world({ nowMs: t3 + PROPAGATION_MS + 2, ca: retired, served: served(['B'], steady('B', t3)) })).step, { kind: 'none' });
});
