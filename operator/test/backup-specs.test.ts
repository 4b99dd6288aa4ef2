// Backup and restore specs: the backup CronJob, the restore init container (its shell run for
// real), the reading of finished backup Jobs, and the backup/restore part of the status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { resolveSpec, type ResolvedBackup, type ResolvedSpec } from '../src/api/defaults.js';
import { buildStatus } from '../src/controller/status.js';
import { planReconcile, type Observed, type PodView } from '../src/controller/plan.js';
import { backupCronJob, LABEL_BACKUP_OF, lastBackupOf, latestFinished, RESTORE_CONTAINER_NAME } from '../src/specs/backup.js';
import { DATA_DIR, LABEL_CLUSTER } from '../src/specs/names.js';
import { secretReferences } from '../src/specs/secret-references.js';
import { statefulSet } from '../src/specs/statefulset.js';

const ref = { name: 'orders', namespace: 'shop', uid: '9d3c1f6e-0000-4000-8000-000000000001' };
const objectStore = { endpoint: 'http://s3.shop.svc:8333', bucket: 'backups', path: 'orders', credentialsSecretRef: { name: 's3-creds' } };
const backupName = 'backup-20260101T030001Z-000000000042';

test('spec.backup: a CronJob runs `catga backup` one at a time, with the retention, the S3 credentials and the admin token', () => {
  const spec = resolveSpec({ image: 'catga/node:1', backup: { schedule: '0 3 * * *', objectStore, retention: { keep: 5, maxAgeDays: 30 } } });
  const cj = backupCronJob(ref, spec as typeof spec & { backup: ResolvedBackup }, { kind: 'disabled' });
  assert.equal(cj.metadata!.name, 'orders-backup');
  assert.equal(cj.metadata!.ownerReferences![0]!.uid, ref.uid);
  assert.equal(cj.spec!.schedule, '0 3 * * *');
  assert.equal(cj.spec!.suspend, false);
  assert.equal(cj.spec!.concurrencyPolicy, 'Forbid');
  const pod = cj.spec!.jobTemplate.spec!.template;
  // Never the members' selector labels: a backup pod must not count as a member.
  assert.equal(pod.metadata!.labels![LABEL_CLUSTER], undefined);
  assert.equal(pod.metadata!.labels![LABEL_BACKUP_OF], 'orders');
  const c = pod.spec!.containers[0]!;
  assert.equal(c.image, 'catga/node:1');
  assert.deepEqual(c.args, [
    'backup', '--to', 's3://backups/orders', '--endpoint', 'http://s3.shop.svc:8333', '--from', 'http://orders.shop.svc:8080',
    '--prefer-follower', '--keep', '5', '--max-age', '30d', '--result-file', '/dev/termination-log',
  ]);
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value ?? `${e.valueFrom!.secretKeyRef!.name}/${e.valueFrom!.secretKeyRef!.key}`]));
  assert.deepEqual(env, {
    CATGA_ADMIN_TOKEN: 'orders-credentials/admin-token', AWS_ACCESS_KEY_ID: 's3-creds/access-key-id', AWS_SECRET_ACCESS_KEY: 's3-creds/secret-access-key', AWS_REGION: 'us-east-1',
  });
  assert.equal(pod.spec!.restartPolicy, 'Never');
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  // Without an endpoint (AWS S3) or a max age, neither flag is passed.
  const plain = resolveSpec({ backup: { schedule: '@daily', objectStore: { bucket: 'b', credentialsSecretRef: { name: 's' } } } });
  const args = backupCronJob(ref, plain as typeof plain & { backup: ResolvedBackup }, { kind: 'disabled' }).spec!.jobTemplate.spec!.template.spec!.containers[0]!.args!;
  assert.deepEqual(args.filter((a) => a.startsWith('--')), ['--to', '--from', '--prefer-follower', '--keep', '--result-file']);
  assert.equal(args[2], 's3://b');
});

test('a TLS cluster is backed up over HTTPS, trusting its CA bundle alone (never a member\'s key)', () => {
  const spec = resolveSpec({ backup: { schedule: '@daily', objectStore } }) as ResolvedSpec & { backup: ResolvedBackup };
  for (const [tls, secret] of [[{ kind: 'operator' }, 'orders-tls'], [{ kind: 'secret', secretName: 'mine' }, 'mine']] as const) {
    const pod = backupCronJob(ref, spec, tls).spec!.jobTemplate.spec!.template.spec!;
    const c = pod.containers[0]!;
    assert.ok(c.args!.includes('https://orders.shop.svc:8080'), c.args!.join(' '));
    assert.deepEqual(pod.volumes, [{ name: 'tls-ca', secret: { secretName: secret, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }]);
    assert.deepEqual(c.volumeMounts, [{ name: 'tls-ca', mountPath: '/etc/catga/tls', readOnly: true }]);
    assert.equal(c.env!.find((e) => e.name === 'CATGA_TLS_CA_FILE')?.value, '/etc/catga/tls/ca.crt');
  }
  const plain = backupCronJob(ref, spec, { kind: 'disabled' }).spec!.jobTemplate.spec!.template.spec!;
  assert.equal(plain.volumes, undefined);
  assert.equal(plain.containers[0]!.env!.find((e) => e.name === 'CATGA_TLS_CA_FILE'), undefined);
});

test('the backup and restore credentials Secrets are references that must opt in', () => {
  const spec = resolveSpec({ backup: { schedule: '@daily', objectStore }, bootstrap: { fromBackup: { objectStore: { ...objectStore, credentialsSecretRef: { name: 'old-creds' } }, backupName } } });
  assert.deepEqual(secretReferences(spec).map((r) => [r.secret, r.field]), [
    ['s3-creds', 'spec.backup.objectStore.credentialsSecretRef'], ['old-creds', 'spec.bootstrap.fromBackup.objectStore.credentialsSecretRef'],
  ]);
});

test('spec.bootstrap.fromBackup: members get the restore init container while restoring, not after', () => {
  const spec = resolveSpec({ bootstrap: { fromBackup: { objectStore, backupName } } });
  const restoring = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: true, tls: { kind: 'disabled' } }).spec!.template.spec!;
  const init = restoring.initContainers![0]!;
  assert.equal(init.name, RESTORE_CONTAINER_NAME);
  assert.deepEqual(init.volumeMounts, [{ name: 'data', mountPath: DATA_DIR }]);
  assert.match(init.command![2]!, /restore --from s3:\/\/backups\/orders\/backup-20260101T030001Z-000000000042 --endpoint http:\/\/s3\.shop\.svc:8333 --data-dir \/var\/lib\/catga --id "\$CATGA_NODE_ID" --cluster-id "\$CATGA_CLUSTER_ID"$/);
  // The new cluster's id is its own uid, the same the node container runs with.
  assert.equal(init.env!.find((e) => e.name === 'CATGA_CLUSTER_ID')!.value, ref.uid);
  assert.equal(restoring.containers[0]!.env!.find((e) => e.name === 'CATGA_CLUSTER_ID')!.value, ref.uid);
  assert.equal(statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: false, tls: { kind: 'disabled' } }).spec!.template.spec!.initContainers, undefined);
  assert.equal(statefulSet({ ref, spec: resolveSpec({}), replicas: 3, bootstrapExpect: 3, restoring: true, tls: { kind: 'disabled' } }).spec!.template.spec!.initContainers, undefined);
});

test('the restore step runs `catga restore` on an empty volume (lost+found aside) and skips a volume that holds state', () => {
  const spec = resolveSpec({ bootstrap: { fromBackup: { objectStore, backupName } } });
  const script = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: true, tls: { kind: 'disabled' } }).spec!.template.spec!.initContainers![0]!.command![2]!;
  const dir = mkdtempSync(join(tmpdir(), 'catga-restore-step-'));
  try {
    // The same script against a temporary volume, with `node` standing for a command that prints its arguments.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "ran: $*"\n', { mode: 0o755 });
    const volume = join(dir, 'volume');
    mkdirSync(join(volume, 'lost+found'), { recursive: true });
    const run = (): string => execFileSync('sh', ['-c', script.replaceAll(DATA_DIR, volume)], {
      env: { PATH: `${bin}:/usr/bin:/bin`, CATGA_NODE_ID: 'orders-1', CATGA_CLUSTER_ID: ref.uid }, encoding: 'utf8',
    });
    assert.match(run(), new RegExp(`^ran: /app/node/dist/src/cli/main.js restore .* --id orders-1 --cluster-id ${ref.uid}\\n$`));
    mkdirSync(join(volume, 'state'));
    assert.equal(run(), `${volume} holds state: no restore\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function job(name: string, type: 'Complete' | 'Failed', at: string): V1Job {
  return { metadata: { name }, status: { ...(type === 'Complete' ? { completionTime: new Date(at) } : {}), conditions: [{ type, status: 'True', lastTransitionTime: new Date(at) }] } };
}

function pod(exitCode: number, message: string | undefined): V1Pod {
  return { status: { containerStatuses: [{ name: 'backup', image: 'i', imageID: 'i', ready: false, restartCount: 0, state: { terminated: { exitCode, ...(message === undefined ? {} : { message }) } } }] } };
}

test('finished backup Jobs: the newest each way; the result comes from the succeeded pod\'s termination message', () => {
  const jobs = [
    job('orders-backup-1', 'Complete', '2026-01-01T03:00:09Z'), job('orders-backup-2', 'Failed', '2026-01-02T03:00:30Z'),
    job('orders-backup-3', 'Complete', '2026-01-03T03:00:07Z'), { metadata: { name: 'orders-backup-4' }, status: { active: 1 } },
  ];
  const { succeeded, failed } = latestFinished(jobs);
  assert.equal(succeeded!.metadata!.name, 'orders-backup-3');
  assert.equal(failed!.metadata!.name, 'orders-backup-2');
  assert.deepEqual(latestFinished([]), { succeeded: null, failed: null });
  const result = JSON.stringify({ ok: true, location: `s3://backups/orders/${backupName}`, index: 42, pruned: 0 });
  assert.deepEqual(lastBackupOf(succeeded!, [pod(1, 'boom'), pod(0, result)]), {
    time: '2026-01-03T03:00:07.000Z', index: 42, name: `s3://backups/orders/${backupName}`, job: 'orders-backup-3',
  });
  // No readable result: null (the reconciler logs it), never a made-up status.
  assert.equal(lastBackupOf(succeeded!, [pod(0, 'not json')]), null);
  assert.equal(lastBackupOf(succeeded!, [pod(0, JSON.stringify({ location: 'x', index: 'forty-two' }))]), null);
  assert.equal(lastBackupOf(succeeded!, [pod(0, undefined)]), null);
});

function observed(ready: boolean): Observed {
  const members = [0, 1, 2].map((n) => ({ id: `c-${n}`, address: `a${n}`, voter: true, matchIndex: 10, healthy: true, incarnation: `i${n}` }));
  const pods: PodView[] = [0, 1, 2].map((n) => ({
    name: `c-${n}`, ordinal: n, ready, terminating: false, crashLooping: false, revision: 'r', endpoint: `http://h${n}:8080`, peerAddress: `h${n}:7080`, runningSinceMs: 0,
    view: { id: `c-${n}`, role: n === 0 ? 'leader' : 'follower', term: 7, leader: 'c-0', commitIndex: 10, appliedIndex: 10, lastLogIndex: 10, incarnation: `i${n}`, members },
  }));
  return { clusterName: 'c', desiredReplicas: 3, statefulSetReplicas: 3, updateRevision: 'r', pods, pvcOrdinals: [], everAvailable: ready, nowMs: 0 };
}

test('status: lastBackup and BackupSucceeded follow the Jobs; a newer failure turns the condition False', () => {
  const o = observed(true);
  const base = { observed: o, plan: planReconcile(o), generation: 1, selector: 's', bootstrapExpect: 3, restoreFrom: null };
  const last = { time: '2026-01-03T03:00:07.000Z', index: 42, name: `s3://backups/orders/${backupName}`, job: 'orders-backup-3' };
  const cond = (s: ReturnType<typeof buildStatus>) => s.conditions!.find((c) => c.type === 'BackupSucceeded');
  const none = buildStatus({ ...base, previous: undefined, nowIso: '2026-01-03T00:00:00Z', backup: { succeeded: null, failed: null } });
  assert.equal(none.lastBackup, undefined);
  assert.deepEqual([cond(none)!.status, cond(none)!.reason], ['Unknown', 'NoBackupYet']);
  const ok = buildStatus({ ...base, previous: none, nowIso: '2026-01-03T03:00:08Z', backup: { succeeded: last, failed: null } });
  assert.deepEqual(ok.lastBackup, last);
  assert.deepEqual([cond(ok)!.status, cond(ok)!.reason, cond(ok)!.lastTransitionTime], ['True', 'BackupSucceeded', '2026-01-03T03:00:08Z']);
  // The next pass reads nothing new: the status keeps what it had; an older failure changes nothing.
  const again = buildStatus({ ...base, previous: ok, nowIso: '2026-01-03T03:00:09Z', backup: { succeeded: null, failed: { job: 'orders-backup-2', time: '2026-01-02T03:00:30.000Z' } } });
  assert.deepEqual(again.lastBackup, last);
  assert.deepEqual([cond(again)!.status, cond(again)!.lastTransitionTime], ['True', '2026-01-03T03:00:08Z']);
  const failed = buildStatus({ ...base, previous: again, nowIso: '2026-01-04T03:01:00Z', backup: { succeeded: null, failed: { job: 'orders-backup-5', time: '2026-01-04T03:00:40.000Z' } } });
  assert.deepEqual(failed.lastBackup, last);
  assert.deepEqual([cond(failed)!.status, cond(failed)!.reason], ['False', 'BackupFailed']);
  assert.match(cond(failed)!.message, /orders-backup-5/);
  // Without spec.backup: no condition; the last backup stays on record.
  const off = buildStatus({ ...base, previous: failed, nowIso: '2026-01-05T00:00:00Z', backup: null });
  assert.equal(cond(off), undefined);
  assert.deepEqual(off.lastBackup, last);
});

test('status.restore completes when the restored cluster first has a quorum, and stays completed', () => {
  const from = `s3://backups/orders/${backupName}`;
  const input = (ready: boolean) => {
    const o = observed(ready);
    return { observed: o, plan: planReconcile(o), generation: 1, selector: 's', bootstrapExpect: 3, restoreFrom: from, backup: null };
  };
  const starting = buildStatus({ ...input(false), previous: undefined, nowIso: '2026-01-05T00:00:00Z' });
  assert.deepEqual(starting.restore, { backup: from });
  const done = buildStatus({ ...input(true), previous: starting, nowIso: '2026-01-05T00:01:00Z' });
  assert.deepEqual(done.restore, { backup: from, completedTime: '2026-01-05T00:01:00Z' });
  const later = buildStatus({ ...input(false), previous: done, nowIso: '2026-01-06T00:00:00Z' });
  assert.deepEqual(later.restore, { backup: from, completedTime: '2026-01-05T00:01:00Z' });
});
