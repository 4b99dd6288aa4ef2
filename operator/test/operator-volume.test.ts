// A member whose volume is lost comes back on an empty PersistentVolumeClaim, as when a node and
// its local disk are gone: the operator replaces the member's former incarnation by itself (a
// MemberVolumeReplaced event), promotes it once it caught up, and no acknowledged write is lost.
// Pods wait for the operator (CATGA_AUTO_JOIN=false), so the replacement is the operator's, not
// the node's own join loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { pvcName } from '../src/specs/names.js';
import { eventually, loggedEvents } from './support.js';
import { Writer, clientToken, clusterCa, missingKeys, podEndpoint, startWorld, waitAvailable, type World } from './scenario.js';

let w: World;
before(async () => {
  w = await startWorld('volume');
  await w.clusters.create('c', { replicas: 3, env: [{ name: 'CATGA_AUTO_JOIN', value: 'false' }] });
  await waitAvailable(w, 'c', 3, 60_000);
});
after(async () => {
  await w?.stop();
});

test('a pod that comes back on an empty volume is replaced by the operator and promoted; no acknowledged write is lost', async () => {
  const core = w.kc.makeApiClient(CoreV1Api);
  const c = await waitAvailable(w, 'c', 3, 30_000);
  const victim = ['c-0', 'c-1', 'c-2'].find((n) => n !== c.status!.leader)!;
  const ordinal = Number(victim.slice(2));
  const formerVolume = (await core.readNamespacedPersistentVolumeClaim({ namespace: w.ns, name: pvcName('c', ordinal) })).spec!.volumeName;
  const writer = new Writer(w, 'c');
  await eventually('writes acknowledged', 30_000, async () => writer.acked.length >= 20);

  // The claim goes with the pod: the StatefulSet makes a new, empty one for the new pod.
  await core.deleteNamespacedPersistentVolumeClaim({ namespace: w.ns, name: pvcName('c', ordinal) });
  await core.deleteNamespacedPod({ namespace: w.ns, name: victim, gracePeriodSeconds: 0 });
  await eventually(`${victim} on a new volume`, 60_000, async () => {
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: w.ns, name: pvcName('c', ordinal) }).catch(() => null);
    return claim?.status?.phase === 'Bound' && claim.spec?.volumeName !== formerVolume;
  });

  const replaced = await eventually('MemberVolumeReplaced', 90_000, async () =>
    loggedEvents(w.operator.log()).find((e) => e.reason === 'MemberVolumeReplaced' && e.message.includes(victim)));
  assert.match(replaced.message, /replaced its former incarnation \S+ by \S+/);
  await eventually(`${victim} promoted after the replacement`, 90_000, async () =>
    loggedEvents(w.operator.log()).some((e) => e.reason === 'MemberPromoted' && e.message.includes(victim)));
  const after = await waitAvailable(w, 'c', 3, 90_000);
  const acked = await writer.stop();

  const [token, ca] = [await clientToken(w, 'c'), await clusterCa(w, 'c')];
  const leaderPod = await core.readNamespacedPod({ namespace: w.ns, name: after.status!.leader! });
  assert.deepEqual(await missingKeys(podEndpoint(leaderPod)!, token, acked, ca), []);
  // The new member holds the writes too: a linearizable read served by it finds them.
  const victimPod = await core.readNamespacedPod({ namespace: w.ns, name: victim });
  assert.deepEqual(await missingKeys(podEndpoint(victimPod)!, token, acked.slice(0, 50), ca), []);
  process.stdout.write(`# ${victim} replaced on a new volume; ${acked.length} writes acknowledged meanwhile, none lost\n`);
});
