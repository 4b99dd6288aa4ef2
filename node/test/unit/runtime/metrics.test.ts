// The node's scrape-time gauges that alerts depend on: peer activity and voter count from the Raft
// status, and the data volume's space from the real file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeMetrics } from '../../../src/runtime/metrics.js';
import { HANDSHAKE_REJECT_REASONS } from '../../../src/transport/handshake.js';
import type { PeerProgress, RaftStatus } from '../../../src/raft/types.js';

const peer = (recentActive: boolean, voter: boolean): PeerProgress => ({ match: 7, next: 8, state: 'replicate', inflight: 0, recentActive, voter, incarnation: null });

function leaderStatus(progress: Record<string, PeerProgress>): RaftStatus {
  return {
    id: 'n1', role: 'leader', term: 3, vote: 'n1', leader: 'n1', commit: 7, applied: 7, firstIndex: 1, lastIndex: 7,
    conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'], addresses: {} }, progress, transferee: null,
  };
}

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('peer activity and voters follow the Raft status at each scrape', async () => {
  let status = leaderStatus({ n2: peer(true, true), n3: peer(false, true), n4: peer(true, false) });
  const m = new NodeMetrics();
  m.observeRaft(() => status);
  let text = await m.registry.metrics();
  assert.equal(sample(text, 'catga_raft_peer_active{peer="n2",voter="true"}'), 1);
  assert.equal(sample(text, 'catga_raft_peer_active{peer="n3",voter="true"}'), 0);
  assert.equal(sample(text, 'catga_raft_peer_active{peer="n4",voter="false"}'), 1);
  assert.equal(sample(text, 'catga_raft_voters'), 3);
  assert.doesNotMatch(text, /^catga_data_volume_/m, 'no volume gauges without a data directory');

  // A follower has no progress: the leader-only series disappear instead of going stale.
  status = { ...leaderStatus({}), role: 'follower', leader: 'n2' };
  text = await m.registry.metrics();
  assert.doesNotMatch(text, /^catga_raft_peer_active\{/m);
  assert.equal(sample(text, 'catga_raft_voters'), 3);
});

test('every handshake refusal reason is a series from the start, at 0, and counts up from there', async () => {
  const m = new NodeMetrics();
  m.observeRaft(() => leaderStatus({}));
  let text = await m.registry.metrics();
  for (const reason of HANDSHAKE_REJECT_REASONS) assert.equal(sample(text, `catga_peer_handshakes_rejected_total{reason="${reason}"}`), 0, reason);
  m.peerRejected.inc({ reason: 'node_id_mismatch' });
  text = await m.registry.metrics();
  assert.equal(sample(text, 'catga_peer_handshakes_rejected_total{reason="node_id_mismatch"}'), 1);
});

test('data volume gauges read the file system of the data directory; the exposition passes promtool', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-metrics-'));
  try {
    const m = new NodeMetrics(dir);
    m.observeRaft(() => leaderStatus({ n2: peer(true, true) }));
    const text = await m.registry.metrics();
    const fs = statfsSync(dir);
    assert.equal(sample(text, 'catga_data_volume_size_bytes'), fs.blocks * fs.bsize);
    const available = sample(text, 'catga_data_volume_available_bytes')!;
    assert.ok(available > 0 && available <= fs.blocks * fs.bsize, `available ${available}`);
    execFileSync('promtool', ['check', 'metrics'], { input: text });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
