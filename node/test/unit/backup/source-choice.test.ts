// chooseBackupSource (which member `catga backup --prefer-follower` streams from) and memberApiUrl
// (where a member's API is, from its peer address).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBackupSource, MAX_SOURCE_LAG_ENTRIES, memberApiUrl, type FollowerProbe, type LeaderView } from '../../../src/backup/source-choice.js';

function leaderView(healthy: Record<string, boolean>, commitIndex = 5_000): LeaderView {
  return { id: 'n1', commitIndex, members: Object.entries({ n1: true, ...healthy }).map(([id, h]) => ({ id, address: `${id}.hl:7000`, healthy: h })) };
}
const probes = (p: Record<string, FollowerProbe>): Map<string, FollowerProbe> => new Map(Object.entries(p));

describe('chooseBackupSource', () => {
  it('prefers the caught-up follower with the highest applied index', () => {
    assert.deepEqual(chooseBackupSource(leaderView({ n2: true, n3: true }), probes({ n2: { appliedIndex: 4_990 }, n3: { appliedIndex: 4_999 } })), { id: 'n3', role: 'follower', fallback: null });
  });

  it('breaks a tie by the smallest id', () => {
    assert.equal(chooseBackupSource(leaderView({ n3: true, n2: true }), probes({ n2: { appliedIndex: 5_000 }, n3: { appliedIndex: 5_000 } })).id, 'n2');
  });

  it('skips a lagging follower: the limit is inclusive', () => {
    const at = (applied: number) => chooseBackupSource(leaderView({ n2: true }), probes({ n2: { appliedIndex: applied } }));
    assert.equal(at(5_000 - MAX_SOURCE_LAG_ENTRIES).role, 'follower');
    assert.deepEqual(at(5_000 - MAX_SOURCE_LAG_ENTRIES - 1), { id: 'n1', role: 'leader', fallback: `no follower qualifies (n2: ${MAX_SOURCE_LAG_ENTRIES + 1} entries behind (limit ${MAX_SOURCE_LAG_ENTRIES}))` });
  });

  it('skips a follower that did not answer or that the leader has lost contact with, and takes one that qualifies', () => {
    const c = chooseBackupSource(leaderView({ n2: false, n3: true, n4: true }), probes({ n2: { appliedIndex: 5_000 }, n3: null, n4: { appliedIndex: 4_500 } }));
    assert.deepEqual(c, { id: 'n4', role: 'follower', fallback: null });
  });

  it('falls back to the leader, saying why each follower was passed over', () => {
    const c = chooseBackupSource(leaderView({ n2: false, n3: true, n4: true }), probes({ n3: null, n4: { appliedIndex: 10 } }));
    assert.deepEqual(c, {
      id: 'n1', role: 'leader',
      fallback: `no follower qualifies (n2: not in contact with the leader; n3: did not answer; n4: 4990 entries behind (limit ${MAX_SOURCE_LAG_ENTRIES}))`,
    });
  });

  it('a follower missing from the probes counts as not answering', () => {
    assert.equal(chooseBackupSource(leaderView({ n2: true }), probes({})).fallback, 'no follower qualifies (n2: did not answer)');
  });

  it('a single-node cluster backs up from its leader', () => {
    assert.deepEqual(chooseBackupSource(leaderView({}), probes({})), { id: 'n1', role: 'leader', fallback: 'the cluster has no follower' });
  });
});

describe('memberApiUrl', () => {
  const entry = new URL('https://orders.prod.svc:8080');
  it('keeps the scheme and port of the entry, with the host of the peer address', () => {
    assert.equal(memberApiUrl(entry, 'orders-1.orders-hl.prod.svc.cluster.local:7000'), 'https://orders-1.orders-hl.prod.svc.cluster.local:8080');
    assert.equal(memberApiUrl(new URL('http://10.0.0.2'), '10.0.0.3:7000'), 'http://10.0.0.3');
  });
  it('brackets an IPv6 host', () => {
    assert.equal(memberApiUrl(entry, 'fd00::3:7000'), 'https://[fd00::3]:8080');
    assert.equal(memberApiUrl(entry, '[fd00::3]:7000'), 'https://[fd00::3]:8080');
  });
  it('refuses an address that is not host:port', () => {
    for (const bad of ['', 'orders-1', ':7000', 'orders-1:', 'orders-1:70000x']) assert.throws(() => memberApiUrl(entry, bad), /is not host:port/, bad);
  });
});
