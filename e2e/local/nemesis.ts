// Owns the fault scenarios: what each nemesis does to the cluster, and when, while the clients
// run. Every nemesis loops until its fault window closes (ctx.pause returns false) and leaves
// healing to the runner; each injected fault is marked for the time-to-recover figure.
import type { CatgaNode } from './cluster.js';
import type { Host } from './netns.js';
import type { NemesisContext, Scenario } from './scenario.js';

function hostsOf(nodes: readonly CatgaNode[]): Host[] {
  return nodes.map((n) => n.host);
}

function pick<T>(ctx: NemesisContext, items: readonly T[]): T {
  const item = items[Math.floor(ctx.random() * items.length)];
  if (item === undefined) throw Object.assign(new Error('nothing to pick from'), { code: 'EMPTY_CHOICE' });
  return item;
}

/** `count` distinct random members. */
function pickSome(ctx: NemesisContext, count: number): CatgaNode[] {
  const pool = [...ctx.cluster.memberNodes()];
  const chosen: CatgaNode[] = [];
  while (chosen.length < count && pool.length > 0) chosen.push(...pool.splice(Math.floor(ctx.random() * pool.length), 1));
  return chosen;
}

/** SIGKILLs the victims, waits, restarts them on their data dirs (on a new address if `move`). */
async function killAndRestart(ctx: NemesisContext, victims: readonly CatgaNode[], downMs: number, move = false): Promise<boolean> {
  await Promise.all(victims.map((v) => ctx.cluster.kill(v)));
  ctx.mark(`kill ${victims.map((v) => v.id).join(',')}`);
  const more = await ctx.pause(downMs);
  await Promise.all(victims.map((v) => (move ? ctx.cluster.moveAndRestart(v) : ctx.cluster.restart(v))));
  if (move) ctx.mark(`restart ${victims.map((v) => `${v.id}@${v.host.ip}`).join(',')} on new addresses`);
  return more;
}

async function killLeaderLoop(ctx: NemesisContext): Promise<void> {
  while (await ctx.pause(3_000)) {
    const leader = await ctx.leader();
    if (!(await killAndRestart(ctx, [leader], 1_500))) return;
  }
}

async function killRandomLoop(ctx: NemesisContext): Promise<void> {
  const minority = Math.floor((ctx.cluster.memberNodes().length - 1) / 2);
  while (await ctx.pause(3_000)) {
    const victims = pickSome(ctx, 1 + Math.floor(ctx.random() * minority));
    // In about half the rounds the victims come back with new addresses, as rescheduled pods do.
    if (!(await killAndRestart(ctx, victims, 2_000, ctx.random() < 0.5))) return;
  }
}

async function pauseLoop(ctx: NemesisContext): Promise<void> {
  while (await ctx.pause(2_000)) {
    const victim = ctx.random() < 0.5 ? await ctx.leader() : pick(ctx, ctx.cluster.memberNodes());
    ctx.cluster.pause(victim);
    ctx.mark(`pause ${victim.id}`);
    await ctx.pause(1_500 + ctx.random() * 2_500);
    ctx.cluster.resume(victim);
  }
}

async function partitionLoop(ctx: NemesisContext): Promise<void> {
  for (let round = 0; await ctx.pause(2_500); round++) {
    const leader = await ctx.leader();
    const others = ctx.others(leader);
    if (round % 2 === 0) {
      await ctx.cluster.faults.partition([leader.host], hostsOf(others));
      ctx.mark(`isolate leader ${leader.id}`);
    } else {
      // The leader plus enough followers to stay a minority, against the majority.
      const minority = [leader, ...others.slice(0, Math.floor((others.length + 1) / 2) - 1)];
      const majority = others.filter((n) => !minority.includes(n));
      await ctx.cluster.faults.partition(hostsOf(minority), hostsOf(majority));
      ctx.mark(`split ${minority.map((n) => n.id).join(',')} | ${majority.map((n) => n.id).join(',')}`);
    }
    await ctx.pause(4_000);
    await ctx.cluster.faults.healAll();
  }
}

async function oneWayLoop(ctx: NemesisContext): Promise<void> {
  for (let round = 0; await ctx.pause(2_500); round++) {
    const leader = await ctx.leader();
    for (const follower of ctx.others(leader)) {
      if (round % 2 === 0) await ctx.cluster.faults.dropOneWay(leader.host, follower.host);
      else await ctx.cluster.faults.dropOneWay(follower.host, leader.host);
    }
    ctx.mark(round % 2 === 0 ? `leader ${leader.id} cannot send` : `leader ${leader.id} cannot hear`);
    await ctx.pause(4_000);
    await ctx.cluster.faults.healAll();
  }
}

async function lossLoop(ctx: NemesisContext): Promise<void> {
  while (await ctx.pause(2_000)) {
    await ctx.cluster.faults.loss(ctx.cluster.memberNodes().map((n) => n.host), 30);
    ctx.mark('30% loss');
    await ctx.pause(6_000);
    await ctx.cluster.faults.healAll();
  }
}

/**
 * Adds pod X-n (learner, by itself), promotes it, then removes it, under packet loss and a kill.
 * Leadership is moved to the new pod first (best effort under loss), so the removal is usually
 * of the leader itself: it commits its own removal, then hands over.
 */
async function membershipUnderFaults(ctx: NemesisContext): Promise<void> {
  const { cluster } = ctx;
  await cluster.faults.loss(cluster.memberNodes().map((n) => n.host), 30);
  ctx.mark('30% loss');
  const added = await cluster.addLearner();
  ctx.mark(`learner ${added.id}`);
  await cluster.promote(added);
  ctx.mark(`promote ${added.id}`);
  const follower = pick(ctx, ctx.others(await ctx.leader()).filter((n) => n !== added));
  await killAndRestart(ctx, [follower], 2_000);
  ctx.mark(await cluster.transferLeadership(added) ? `leader ${added.id}` : `transfer to ${added.id} failed`);
  await cluster.removeMember(added);
  ctx.mark(`remove ${added.id}`);
  await cluster.faults.healAll();
  await killLeaderLoop(ctx);
}

/**
 * The lost-disk scenario: follower B is killed while writes are acknowledged by the leader L and
 * follower W; W loses its disk (killed, data directory emptied: a lost volume); L is killed; B
 * restarts on its disk and W restarts empty. B lacks L's last acknowledged writes, so if the empty W voted as the member
 * it was, B would win and those writes would be gone. W is replaced and promoted back by itself;
 * the next round waits for that, since a second wipe before it would cost a majority of disks
 * (which the cluster refuses to paper over).
 */
async function wipeFollowerThenKillLeader(ctx: NemesisContext): Promise<void> {
  while (await ctx.pause(3_000)) {
    const leader = await ctx.leader();
    const [behind, wiped] = pickSome(ctx, ctx.cluster.memberNodes().length).filter((n) => n !== leader) as [CatgaNode, CatgaNode];
    await ctx.cluster.kill(behind);
    ctx.mark(`kill ${behind.id}`);
    const more = await ctx.pause(1_000);
    await ctx.cluster.wipe(wiped);
    ctx.mark(`wipe ${wiped.id}`);
    await ctx.cluster.kill(leader);
    ctx.mark(`kill leader ${leader.id}`);
    await Promise.all([ctx.cluster.restart(behind), ctx.cluster.restart(wiped)]);
    await ctx.pause(2_000);
    await ctx.cluster.restart(leader);
    const readmitted = await ctx.cluster.waitReadmitted(wiped, 30_000).then(() => true, () => false);
    // Not re-admitted (a build that ignores incarnations never asks): no second wipe, it could cost a majority.
    ctx.mark(readmitted ? `${wiped.id} re-admitted` : `${wiped.id} not re-admitted within 30 s`);
    if (!more || !readmitted) return;
  }
}

async function fullRestartLoop(ctx: NemesisContext): Promise<void> {
  while (await ctx.pause(3_000)) {
    await ctx.cluster.fullRestart();
    ctx.mark('full restart');
    if (!(await ctx.pause(3_000))) return;
    const victim = pick(ctx, ctx.cluster.memberNodes());
    ctx.cluster.pause(victim);
    ctx.mark(`pause ${victim.id}`);
    await ctx.pause(2_000);
    ctx.cluster.resume(victim);
  }
}

/** A mix of everything, for the soak: each round one fault chosen at random. */
async function mixedLoop(ctx: NemesisContext): Promise<void> {
  const steps = [killLeaderOnce, killRandomOnce, pauseOnce, partitionOnce, lossOnce];
  while (await ctx.pause(2_000)) {
    await pick(ctx, steps)(ctx);
    await ctx.cluster.faults.healAll();
  }
}

async function killLeaderOnce(ctx: NemesisContext): Promise<void> {
  await killAndRestart(ctx, [await ctx.leader()], 1_500);
}

async function killRandomOnce(ctx: NemesisContext): Promise<void> {
  await killAndRestart(ctx, pickSome(ctx, 1), 2_000);
}

async function pauseOnce(ctx: NemesisContext): Promise<void> {
  const victim = pick(ctx, ctx.cluster.memberNodes());
  ctx.cluster.pause(victim);
  ctx.mark(`pause ${victim.id}`);
  await ctx.pause(2_000);
  ctx.cluster.resume(victim);
}

async function partitionOnce(ctx: NemesisContext): Promise<void> {
  const leader = await ctx.leader();
  await ctx.cluster.faults.partition([leader.host], hostsOf(ctx.others(leader)));
  ctx.mark(`isolate leader ${leader.id}`);
  await ctx.pause(4_000);
}

async function lossOnce(ctx: NemesisContext): Promise<void> {
  await ctx.cluster.faults.loss(ctx.cluster.memberNodes().map((n) => n.host), 30);
  ctx.mark('30% loss');
  await ctx.pause(5_000);
}

export const WIPE_FOLLOWER_THEN_KILL_LEADER: Scenario = { name: 'wipe-follower-then-kill-leader', size: 3, nemesis: wipeFollowerThenKillLeader };

export const SCENARIOS: readonly Scenario[] = [
  // Small snapshot interval: restarted nodes come back from snapshots, lagging ones get
  // InstallSnapshot, and event subscribers meet EVENTS_COMPACTED.
  {
    name: 'kill-leader-with-snapshots', size: 3, nemesis: killLeaderLoop,
    cluster: { env: { CATGA_SNAPSHOT_ENTRIES: '300', CATGA_SNAPSHOT_RETAIN: '50' } },
  },
  { name: 'kill-random-minority', size: 5, nemesis: killRandomLoop },
  { name: 'pause-resume', size: 3, nemesis: pauseLoop },
  { name: 'partitions', size: 5, nemesis: partitionLoop },
  { name: 'one-way-partitions', size: 3, nemesis: oneWayLoop },
  { name: 'random-loss-30', size: 5, nemesis: lossLoop },
  { name: 'delay-100ms-and-kills', size: 3, cluster: { linkDelay: { meanMs: 100, jitterMs: 50 } }, nemesis: killLeaderLoop },
  { name: 'membership-under-faults', size: 3, nemesis: membershipUnderFaults },
  { name: 'full-restart-and-pauses', size: 5, nemesis: fullRestartLoop },
  WIPE_FOLLOWER_THEN_KILL_LEADER,
];

export const MIXED: Scenario = { name: 'mixed', size: 5, nemesis: mixedLoop };
