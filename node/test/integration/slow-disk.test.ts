// A slow disk on one follower does not slow commits: the leader and the other follower form the
// majority, the slow one lags and catches up, and nobody's leadership changes. The slow disk is the
// real one with CATGA_TEST_DISK_DELAY_MS added to every durable write and fsync (no device-mapper
// delay target here). Once a second member's disk is slow too, every majority holds a slow disk
// and each commit waits at least the delay, which shows the measurement sees the disk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestCluster, command, until } from './cluster.js';

/** Below the election timeout (10 ticks of TICK_MS): a save blocks a member's heartbeat answers. */
const DISK_DELAY_MS = 400;
const TICK_MS = 100;
const PUTS = 40;

async function timedPuts(url: string, prefix: string, n: number): Promise<number[]> {
  const took: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await command(url, 'kv.put', { key: `${prefix}-${i}`, value: 'v' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    took.push(performance.now() - t0);
  }
  return took.sort((a, b) => a - b);
}

async function fsyncSeconds(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: value('catga_wal_fsync_duration_seconds_sum'), count: value('catga_wal_fsync_duration_seconds_count') };
}

test('a follower whose every fsync takes 400 ms slows no commit; two such disks slow every one', { timeout: 180_000 }, async (t) => {
  const c = await TestCluster.start({ nodes: 3, env: { CATGA_TICK_MS: String(TICK_MS) } });
  try {
    const leader = await c.leader();
    const slow = (leader + 1) % 3;
    await c.kill(slow);
    c.startNode(slow, { CATGA_TEST_DISK_DELAY_MS: String(DISK_DELAY_MS) });
    await c.leader(30_000);
    const term = (await c.cluster(leader)).term;
    const before = await fsyncSeconds(c.url(slow));

    const took = await timedPuts(c.url(leader), 'fast', PUTS);
    const median = took[PUTS >> 1]!;
    const p90 = took[Math.floor(PUTS * 0.9)]!;
    assert.ok(median < DISK_DELAY_MS / 8 && p90 < DISK_DELAY_MS / 4, `commits waited for the slow follower: median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms`);
    t.diagnostic(`one slow follower: put median ${median.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms (its fsync: ${DISK_DELAY_MS} ms)`);
    assert.equal((await c.cluster(leader)).term, term, 'the slow follower cost a leader change');
    assert.equal((await c.cluster(leader)).role, 'leader');

    // The follower's disk really was slow, and it catches up by itself.
    const lastIndex = (await c.cluster(leader)).commitIndex;
    await until('the slow follower applies every write', async () => (await c.cluster(slow)).appliedIndex >= lastIndex, 60_000);
    const after = await fsyncSeconds(c.url(slow));
    assert.ok(after.count > before.count && (after.sum - before.sum) / (after.count - before.count) >= DISK_DELAY_MS / 1000 * 0.9,
      `the follower's syncs were not slow: ${JSON.stringify({ before, after })}`);

    // Control: with a second slow disk, every majority holds one, and each commit waits for it.
    const other = 3 - leader - slow;
    await c.kill(other);
    c.startNode(other, { CATGA_TEST_DISK_DELAY_MS: String(DISK_DELAY_MS) });
    const now = await c.leader(30_000);
    const caughtUp = (await c.cluster(now)).commitIndex;
    await until('both slow members caught up', async () => (await c.cluster(other)).appliedIndex >= caughtUp && (await c.cluster(slow)).appliedIndex >= caughtUp, 60_000);
    const slowMajority = await timedPuts(c.url(now), 'slow', 3);
    t.diagnostic(`two slow members: puts ${slowMajority.map((x) => x.toFixed(0)).join(', ')} ms`);
    assert.ok(slowMajority[0]! >= DISK_DELAY_MS * 0.9, `a slow majority should slow commits: ${slowMajority.map((t) => t.toFixed(0)).join(', ')} ms`);
  } catch (err) {
    console.error(c.dumpLogs());
    throw err;
  } finally {
    await c.close();
  }
});
