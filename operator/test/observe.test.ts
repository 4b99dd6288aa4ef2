// Reading pods: endpoints from the pod IP and the container's named ports, readiness,
// crash-looping, revision, and the peer address in the node's own form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { httpEndpoint, isCrashLooping, podView } from '../src/controller/observe.js';

const ref = { name: 'c', namespace: 'ns', uid: 'u' };

function pod(overrides: Partial<{ ip: string; ready: boolean; waiting: string; httpPort: number; deleting: boolean; name: string }> = {}): V1Pod {
  return {
    metadata: {
      name: overrides.name ?? 'c-1', labels: { 'controller-revision-hash': 'c-abc' },
      ...(overrides.deleting ? { deletionTimestamp: new Date(0) } : {}),
    },
    spec: { containers: [{ name: 'catga', ports: [{ name: 'http', containerPort: overrides.httpPort ?? 8080 }, { name: 'peer', containerPort: 7080 }] }] },
    status: {
      ...(overrides.ip === undefined ? {} : { podIP: overrides.ip }),
      conditions: [{ type: 'Ready', status: overrides.ready ? 'True' : 'False' }],
      containerStatuses: [{
        name: 'catga', image: 'i', imageID: '', ready: overrides.ready ?? false, restartCount: 0,
        state: overrides.waiting ? { waiting: { reason: overrides.waiting } } : { running: { startedAt: new Date(5_000) } },
      }],
    },
  };
}

test('the HTTP endpoint is the pod IP and the container port named http', () => {
  assert.equal(httpEndpoint(pod({ ip: '127.0.0.5', httpPort: 18080 })), 'http://127.0.0.5:18080');
  assert.equal(httpEndpoint(pod({ ip: 'fd00::5' })), 'http://[fd00::5]:8080');
  assert.equal(httpEndpoint(pod()), null);
});

test('a pod view carries readiness, revision, start time and both address forms', () => {
  const v = podView(pod({ ip: '10.1.0.7', ready: true }), ref, 'dns', null)!;
  assert.equal(v.ordinal, 1);
  assert.equal(v.ready, true);
  assert.equal(v.revision, 'c-abc');
  assert.equal(v.runningSinceMs, 5_000);
  assert.equal(v.terminating, false);
  assert.equal(v.peerAddress, 'c-1.c-hl.ns.svc.cluster.local:7080');
  assert.equal(podView(pod({ ip: '10.1.0.7' }), ref, 'pod-ip', null)!.peerAddress, '10.1.0.7:7080');
  assert.equal(podView(pod({ deleting: true }), ref, 'dns', null)!.terminating, true);
});

test('crash-looping is read from the container state; foreign pods are ignored', () => {
  assert.equal(isCrashLooping(pod({ waiting: 'CrashLoopBackOff' })), true);
  assert.equal(isCrashLooping(pod({ waiting: 'ContainerCreating' })), false);
  const crashing = podView(pod({ waiting: 'CrashLoopBackOff' }), ref, 'dns', null)!;
  assert.equal(crashing.crashLooping, true);
  assert.equal(crashing.runningSinceMs, null);
  assert.equal(podView(pod({ name: 'other-1' }), ref, 'dns', null), null);
});
