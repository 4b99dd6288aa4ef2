// Real `catga node` processes holding a large state: a new member catches up by a streamed
// snapshot and serves a linearizable read of the last key written; the same with its peer link
// broken in the middle of the transfer (it resumes where it was, not from the start) and with the
// new member killed mid-transfer (it restarts with its old, empty state intact and catches up).
// The state size is CATGA_IT_STATE_MB (default 64; the README reports a 256 MB run).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ADMIN_TOKEN, http, logShows, queryReq, sleep, TestCluster, until } from './cluster.js';

const STATE_MB = Number(process.env.CATGA_IT_STATE_MB ?? '64');
const VALUE_BYTES = 60 * 1024;
/** Puts per batch request: under the 1 MiB body and entry limits. */
const PER_BATCH = 15;

const ENV = {
  // A compacted log: the new member cannot catch up from entries.
  CATGA_SNAPSHOT_ENTRIES: '64',
  CATGA_SNAPSHOT_RETAIN: '4',
  CATGA_MAX_BODY_BYTES: String(2 * 1024 * 1024),
};

/** Loads about STATE_MB of kv values through the leader; returns the last key written. */
async function load(c: TestCluster): Promise<string> {
  const leader = await c.leader();
  const value = 'v'.repeat(VALUE_BYTES);
  const puts = Math.ceil((STATE_MB * 1024 * 1024) / VALUE_BYTES);
  let last = '';
  for (let i = 0; i < puts; i += PER_BATCH) {
    const commands = [];
    for (let k = i; k < Math.min(puts, i + PER_BATCH); k++) {
      last = `key-${String(k).padStart(7, '0')}`;
      commands.push({ type: 'kv.put', payload: { key: last, value: `${k}:${value}` } });
    }
    const r = await http(`${c.url(leader)}/v1/commands`, 'POST', { commands });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
  }
  // One more write after the load, so the last key is also in a later entry than the snapshot.
  const r = await http(`${c.url(leader)}/v1/commands/kv.put`, 'POST', { key: 'the-last-key', value: 'written last' });
  assert.equal(r.status, 200);
  return 'the-last-key';
}

async function metric(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

async function linearizableRead(c: TestCluster, i: number, key: string): Promise<unknown> {
  const r = await queryReq(c.url(i), 'kv.get', { key }, 'linearizable');
  return r.status === 200 ? (r.body.value as { value: unknown } | null)?.value : null;
}

/** Waits until the log of node `i` shows `pattern`. */
const budgetMs = 60_000 + STATE_MB * 1_500;

describe(`a new member catches up by a streamed snapshot of ${STATE_MB} MB`, { timeout: budgetMs * 4 }, () => {
  let c: TestCluster;
  after(async () => { await c?.close(); });

  test('straight through, then with its link broken mid-transfer, then killed mid-transfer', async () => {
    c = await TestCluster.start({ nodes: 3, spare: 3, env: ENV });
    try {
      const last = await load(c);
      const leader = await c.leader();
      const leaderUrl = c.url(leader);

      // 1. Straight through.
      const started = Date.now();
      c.startNode(3);
      await until('node 4 serves a linearizable read of the last key', () => linearizableRead(c, 3, last).then((v) => v === 'written last'), budgetMs, 100);
      const seconds = (Date.now() - started) / 1000;
      assert.match(c.log(3), /"event":"snapshot_received"/);
      const received = await metric(c.url(3), 'catga_snapshot_received_bytes_total');
      // The snapshot covers the state up to the leader's last compaction; entries after it come from the log.
      assert.ok(received >= 0.5 * STATE_MB * 1024 * 1024, `node 4 received ${received} snapshot bytes`);
      console.log(JSON.stringify({ stateMB: STATE_MB, catchUpSeconds: seconds, receivedBytes: received }));

      // 2. The link breaks mid-transfer (the member is paused past the peer link's ping timeout):
      //    the transfer goes on from the last chunk received.
      c.startNode(4);
      await logShows(c, 4, /"event":"snapshot_transfer_progress"/, budgetMs);
      c.signal(4, 'SIGSTOP');
      await sleep(6_000);
      c.signal(4, 'SIGCONT');
      await until('node 5 serves a linearizable read of the last key', () => linearizableRead(c, 4, last).then((v) => v === 'written last'), budgetMs, 100);
      assert.match(c.log(4), /"event":"snapshot_transfer_retry"/);
      const resumed = await metric(c.url(4), 'catga_snapshot_received_bytes_total');
      assert.ok(resumed < 1.5 * received, `a resumed transfer received ${resumed} bytes for a ${received}-byte snapshot`);

      // 3. Killed mid-transfer: the restarted member still holds its old (empty) state, starts over, catches up.
      c.startNode(5);
      await logShows(c, 5, /"event":"snapshot_transfer_progress"/, budgetMs);
      await c.kill(5);
      c.startNode(5);
      await until('node 6 serves a linearizable read of the last key', () => linearizableRead(c, 5, last).then((v) => v === 'written last'), budgetMs, 100);
      assert.equal(await linearizableRead(c, 5, 'key-0000000').then((v) => String(v).slice(0, 2)), '0:');

      // The leader served every transfer; the cluster keeps working.
      assert.ok((await metric(leaderUrl, 'catga_snapshot_sent_bytes_total')) >= 3 * received);
      const r = await http(`${c.url(3)}/v1/commands/kv.put`, 'POST', { key: 'after', value: 1 }, { authorization: `Bearer ${ADMIN_TOKEN}` });
      assert.equal(r.status, 200);
    } catch (err) {
      console.error(c.dumpLogs());
      throw err;
    }
  });
});
