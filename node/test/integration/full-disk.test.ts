// A full disk is not a crash: a follower whose Raft log (a real tmpfs of a few MiB) fills up keeps
// running, answers writes with 507 DISK_FULL and local reads from its state, the other two keep
// committing, and once space returns it catches up by itself with no restart. Before, the first
// failed WAL write stopped the process (exit 1), so a pod on a full volume crash-looped. The state
// engine's directory is bind-mounted from elsewhere: a full disk under the state engine still stops
// the node (README, Durability). Needs root (mount); skipped otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TestCluster, command, queryReq, until } from './cluster.js';

const TMPFS_BYTES = 16 * 1024 * 1024;
const isRoot = process.getuid?.() === 0;

test('a follower with a full disk refuses writes with 507, keeps running, and catches up once there is room', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 120_000 }, async () => {
  const mounts: string[] = [];
  const stateDir = mkdtempSync(join(tmpdir(), 'catga-state-'));
  const c = await TestCluster.start({
    nodes: 3,
    beforeStart: (members) => {
      const dir = members[2]!.dataDir;
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', dir]);
      mounts.unshift(dir);
      mkdirSync(join(dir, 'state'));
      execFileSync('mount', ['--bind', stateDir, join(dir, 'state')]);
      mounts.unshift(join(dir, 'state'));
    },
  });
  const filler = join(c.nodes[2]!.dataDir, 'filler');
  try {
    let leader = await c.leader();
    if (leader === 2) {
      await command(c.url(2), 'kv.put', { key: 'warm', value: 'up' });
      const r = await fetch(`${c.url(2)}/v1/cluster/transfer-leadership`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ to: c.nodes[0]!.id }) });
      assert.equal(r.status, 200, await r.text());
      leader = await c.leader();
    }
    assert.notEqual(leader, 2);
    const before = await command(c.url(leader), 'kv.put', { key: 'k', value: 'before' });
    assert.equal(before.status, 200);
    await until('n3 has the first write', async () => ((await queryReq(c.url(2), 'kv.get', { key: 'k' })).body.value as { value?: string } | null)?.value === 'before');

    // Fill the volume to the last few KiB: the next batch of 4 KiB values cannot be written.
    const free = statfsSync(c.nodes[2]!.dataDir);
    writeFileSync(filler, Buffer.alloc(Math.max(0, Number(free.bavail) * Number(free.bsize) - 8 * 1024)));
    const value = 'x'.repeat(4096);
    for (let i = 0; i < 20; i++) {
      const r = await command(c.url(leader), 'kv.put', { key: `full-${i}`, value });
      assert.equal(r.status, 200, `the majority keeps committing: ${JSON.stringify(r.body)}`);
    }
    await until('n3 says its disk is full', () => /"event":"disk_full"/.test(c.log(2)), 20_000);
    const refused = await command(c.url(2), 'kv.put', { key: 'k', value: 'via-n3' });
    assert.equal(refused.status, 507, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'DISK_FULL');
    const local = await queryReq(c.url(2), 'kv.get', { key: 'k' });
    assert.equal(local.status, 200, 'local reads still work');
    assert.equal((local.body.value as { value?: string }).value, 'before');
    assert.ok(c.running(2), 'the node did not stop');

    rmSync(filler);
    await until('n3 says the space is back', () => /"event":"disk_space_back"/.test(c.log(2)), 20_000);
    const after = await until('a write through n3 is accepted again', async () => {
      const r = await command(c.url(2), 'kv.put', { key: 'k', value: 'after' });
      return r.status === 200 ? r : null;
    });
    await until('n3 applied everything', async () => (await c.cluster(2)).appliedIndex >= (after.body.index ?? 0));
    const last = await queryReq(c.url(2), 'kv.get', { key: 'full-19' });
    assert.equal((last.body.value as { value?: string } | null)?.value, value, 'n3 caught up with what it missed');
    assert.ok(c.running(2), 'never restarted');
  } catch (err) {
    console.error(c.dumpLogs());
    throw err;
  } finally {
    for (let i = 0; i < 3; i++) await c.kill(i).catch(() => undefined);
    for (const m of mounts) execFileSync('umount', ['-l', m]);
    await c.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
