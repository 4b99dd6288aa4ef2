// TLS by default, on a real API server with real `catga node` pods: the operator creates the
// cluster's CA and each member's certificate in Secrets, the StatefulSet mounts them and probes
// over HTTPS, the nodes form the cluster over mutual TLS, the operator reaches them over HTTPS
// checked against the CA (Available needs their views), and clients write and read over HTTPS.
// spec.tls.enabled false gives plain pods and a Warning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { eventReasons, eventually } from './support.js';
import { Writer, clientToken, clusterCa, missingKeys, podEndpoint, startWorld, waitAvailable, type World } from './scenario.js';

let w: World;
before(async () => {
  w = await startWorld('tls');
});
after(async () => {
  await w?.stop();
});

const decode = (data: Record<string, string> | undefined, key: string): string => Buffer.from(data?.[key] ?? '', 'base64').toString('utf8');

test('by default the operator issues a CA and member certificates, the pods serve them, and every call is HTTPS', { timeout: 180_000 }, async () => {
  await w.clusters.create('c', { replicas: 3 });
  const c = await waitAvailable(w, 'c', 3, 120_000);
  const core = w.kc.makeApiClient(CoreV1Api);

  const caSecret = await core.readNamespacedSecret({ namespace: w.ns, name: 'c-ca' });
  assert.equal(caSecret.type, 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(caSecret.data ?? {}).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  const ca = new X509Certificate(decode(caSecret.data, 'tls.crt'));
  assert.equal(ca.ca, true);
  const members = await core.readNamespacedSecret({ namespace: w.ns, name: 'c-tls' });
  assert.deepEqual(Object.keys(members.data ?? {}).sort(), ['c-0.crt', 'c-0.key', 'c-1.crt', 'c-1.key', 'c-2.crt', 'c-2.key', 'ca.crt']);
  const leaf = new X509Certificate(decode(members.data, 'c-1.crt'));
  assert.equal(leaf.subject, 'CN=c-1');
  assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  for (const name of ['c-1', 'c-1.c-hl.tls.svc', 'c-1.c-hl.tls.svc.cluster.local', 'c', 'c.tls.svc', 'c-leader', 'c-leader.tls.svc.cluster.local']) {
    assert.ok(leaf.subjectAltName!.split(', ').includes(`DNS:${name}`), `the certificate names ${name}`);
  }
  const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
  assert.ok(days > 89 && days < 91, `a leaf lives 90 days (${days})`);

  const sts = await w.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
  const pod = sts.spec!.template.spec!;
  assert.deepEqual(pod.volumes?.find((v) => v.name === 'tls')?.secret?.secretName, 'c-tls');
  const container = pod.containers[0]!;
  assert.deepEqual({ ...container.volumeMounts?.find((m) => m.name === 'tls') }, { name: 'tls', mountPath: '/etc/catga/tls', readOnly: true });
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env['CATGA_TLS_CERT_FILE'], '/etc/catga/tls/$(CATGA_NODE_ID).crt');
  assert.equal(env['CATGA_TLS_CA_FILE'], '/etc/catga/tls/ca.crt');
  assert.equal(container.readinessProbe?.httpGet?.scheme, 'HTTPS');
  assert.equal(container.livenessProbe?.httpGet?.scheme, 'HTTPS');

  // Clients: writes and linearizable reads over HTTPS with the cluster's CA; plain HTTP gets nothing.
  const writer = new Writer(w, 'c');
  await eventually('writes acknowledged over HTTPS', 30_000, async () => writer.acked.length >= 10);
  const acked = await writer.stop();
  const leaderPod = await w.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: w.ns, name: c.status!.leader! });
  const endpoint = podEndpoint(leaderPod)!;
  assert.match(endpoint, /^https:\/\//);
  assert.deepEqual(await missingKeys(endpoint, await clientToken(w, 'c'), acked, await clusterCa(w, 'c')), []);
  const plain = await fetch(`${endpoint.replace('https:', 'http:')}/healthz`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.status, () => 0);
  assert.notEqual(plain, 200, 'plain HTTP is not served');
  const reasons = await eventReasons(w.kc, w.ns, 'c');
  for (const r of ['CertificateAuthorityCreated', 'CertificatesIssued']) assert.ok(reasons.includes(r), `event ${r} in ${reasons.join(',')}`);
  assert.ok(!reasons.includes('TlsDisabled'));
});

test('spec.tls.enabled false: plain pods, and a TlsDisabled warning', { timeout: 120_000 }, async () => {
  await w.clusters.create('p', { replicas: 1, tls: { enabled: false } });
  await waitAvailable(w, 'p', 1, 90_000);
  const sts = await w.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: w.ns, name: 'p' });
  assert.equal(sts.spec!.template.spec!.volumes, undefined);
  assert.ok(!(sts.spec!.template.spec!.containers[0]!.env ?? []).some((e) => e.name.startsWith('CATGA_TLS_')));
  assert.ok((await eventReasons(w.kc, w.ns, 'p')).includes('TlsDisabled'));
  const secrets = (await w.kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: w.ns, labelSelector: 'catga.io/cluster=p' })).items.map((s) => s.metadata!.name);
  assert.deepEqual(secrets, ['p-credentials'], 'no CA, no certificates');
});
