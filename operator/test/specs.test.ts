// The pure spec builders, checked by comparing the objects they return (no API server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatgaCluster } from '../src/api/types.js';
import { resolveSpec } from '../src/api/defaults.js';
import { clusterRef, ordinalOf, selectorString } from '../src/specs/names.js';
import { clientService, headlessService, leaderService } from '../src/specs/services.js';
import { podDisruptionBudget, toleratedFailures } from '../src/specs/pdb.js';
import { generatedSecret, needsGeneratedSecret } from '../src/specs/secret.js';
import { LABEL_REFERABLE, refusedSecretReferences, secretReferences } from '../src/specs/secret-references.js';
import { networkPolicy, networkPolicyPatch } from '../src/specs/network-policy.js';
import { statefulSet } from '../src/specs/statefulset.js';

const cluster: CatgaCluster = {
  apiVersion: 'catga.io/v1alpha1',
  kind: 'CatgaCluster',
  metadata: { name: 'demo', namespace: 'ns1', uid: 'uid-1' },
  spec: { replicas: 3 },
};
const ref = clusterRef(cluster);
const owner = [{ apiVersion: 'catga.io/v1alpha1', kind: 'CatgaCluster', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: true }];
const selector = { 'app.kubernetes.io/name': 'catga', 'app.kubernetes.io/instance': 'demo', 'catga.io/cluster': 'demo' };
const labels = { ...selector, 'app.kubernetes.io/component': 'node', 'app.kubernetes.io/part-of': 'catga', 'app.kubernetes.io/managed-by': 'catga-operator' };

test('headless Service publishes not-ready pods on http and peer ports', () => {
  assert.deepEqual(headlessService(ref), {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'demo-hl', namespace: 'ns1', labels: { ...labels, 'catga.io/service': 'headless' }, ownerReferences: owner },
    spec: {
      clusterIP: 'None', publishNotReadyAddresses: true, selector,
      ports: [
        { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
        { name: 'peer', port: 7080, targetPort: 'peer', protocol: 'TCP' },
      ],
    },
  });
});

test('client Service selects ready pods; leader Service selects the leader label', () => {
  const client = clientService(ref);
  assert.equal(client.metadata!.name, 'demo');
  assert.deepEqual(client.spec!.selector, selector);
  assert.equal(client.spec!.publishNotReadyAddresses, undefined);
  const leader = leaderService(ref);
  assert.equal(leader.metadata!.name, 'demo-leader');
  assert.deepEqual(leader.spec!.selector, { ...selector, 'catga.io/role': 'leader' });
  assert.deepEqual(leader.spec!.ports, [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
  assert.deepEqual(leader.metadata!.ownerReferences, owner);
});

test('PDB never allows a voluntary disruption to break quorum', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(toleratedFailures), [0, 0, 1, 1, 2, 2, 3, 3, 4]);
  for (let n = 1; n <= 9; n++) assert.ok(n - toleratedFailures(n) > n / 2, `n=${n} keeps a majority`);
  const pdb = podDisruptionBudget(ref, 5);
  assert.deepEqual(pdb.spec, { maxUnavailable: 2, selector: { matchLabels: selector } });
  assert.deepEqual(pdb.metadata!.ownerReferences, owner);
  assert.throws(() => toleratedFailures(0));
});

test('generated Secret holds only the credentials the spec does not reference', () => {
  const creds = { clusterSecret: 'cs', adminToken: 'at', apiToken: 'api' };
  const all = generatedSecret(ref, resolveSpec({}), creds);
  assert.equal(all.metadata!.name, 'demo-credentials');
  assert.deepEqual(all.stringData, { 'cluster-secret': 'cs', 'admin-token': 'at', 'api-token': 'api' });
  assert.deepEqual(all.metadata!.ownerReferences, owner);
  const noClusterSecret = generatedSecret(ref, resolveSpec({ clusterSecretRef: { name: 'mine' }, apiTokensRef: { name: 'tokens' } }), creds);
  assert.deepEqual(noClusterSecret.stringData, { 'admin-token': 'at' });
  assert.equal(needsGeneratedSecret(resolveSpec({ clusterSecretRef: { name: 'a' }, adminTokenRef: { name: 'b' } })), true, 'the client API token is still generated');
  assert.equal(needsGeneratedSecret(resolveSpec({ clusterSecretRef: { name: 'a' }, adminTokenRef: { name: 'b' }, apiTokensRef: { name: 'c' } })), false);
});

test('StatefulSet: Parallel, OnDelete, headless serviceName, PVC template, probes, preStop', () => {
  const sts = statefulSet({ ref, spec: resolveSpec({ storage: { size: '5Gi', storageClassName: 'fast' } }), replicas: 4, bootstrapExpect: 3, restoring: false, tls: { kind: 'disabled' } });
  assert.equal(sts.metadata!.name, 'demo');
  assert.deepEqual(sts.metadata!.ownerReferences, owner);
  const spec = sts.spec!;
  assert.equal(spec.replicas, 4);
  assert.equal(spec.serviceName, 'demo-hl');
  assert.equal(spec.podManagementPolicy, 'Parallel');
  assert.deepEqual(spec.updateStrategy, { type: 'OnDelete' });
  assert.deepEqual(spec.selector, { matchLabels: selector });
  assert.deepEqual(spec.template.metadata!.labels, labels);
  assert.deepEqual(spec.volumeClaimTemplates, [{
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'fast' },
  }]);
  const pod = spec.template.spec!;
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  const c = pod.containers[0]!;
  assert.equal(c.image, 'catga/node:dev');
  assert.deepEqual(c.ports!.map((p) => [p.name, p.containerPort]), [['http', 8080], ['peer', 7080]]);
  assert.deepEqual(c.volumeMounts, [{ name: 'data', mountPath: '/var/lib/catga' }]);
  assert.equal(c.livenessProbe!.httpGet!.path, '/healthz');
  assert.equal(c.readinessProbe!.httpGet!.path, '/readyz');
  const preStop = c.lifecycle!.preStop!.exec!.command!.join(' ');
  assert.match(preStop, /POST/);
  assert.match(preStop, /\/v1\/cluster\/transfer-leadership/);
  const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env['CATGA_NODE_ID'], { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } });
  assert.equal(env['CATGA_DNS_NAME'], 'demo-hl.ns1.svc.cluster.local');
  assert.equal(env['CATGA_BOOTSTRAP_EXPECT'], '3');
  assert.equal(env['CATGA_CLUSTER_ID'], 'uid-1');
  assert.equal(env['CATGA_DATA_DIR'], '/var/lib/catga');
  assert.deepEqual(env['CATGA_CLUSTER_SECRET'], { secretKeyRef: { name: 'demo-credentials', key: 'cluster-secret' } });
  assert.deepEqual(env['CATGA_ADMIN_TOKEN'], { secretKeyRef: { name: 'demo-credentials', key: 'admin-token' } });
  assert.deepEqual(env['CATGA_API_TOKENS'], { secretKeyRef: { name: 'demo-credentials', key: 'api-token', optional: true } }, 'a generated client token, optional for Secrets generated before it existed');
  assert.equal(env['CATGA_AUTO_JOIN'], 'false', 'the operator alone adds members');
});

test('StatefulSet carries referenced secrets, placement, resources and extra env', () => {
  const spec = resolveSpec({
    clusterSecretRef: { name: 'peer' }, adminTokenRef: { name: 'adm', key: 'tok' }, apiTokensRef: { name: 'api' },
    handlers: '/h.js', nodeSelector: { zone: 'a' }, tolerations: [{ key: 't', operator: 'Exists' }],
    affinity: { podAntiAffinity: {} }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'z', whenUnsatisfiable: 'ScheduleAnyway' }],
    resources: { requests: { cpu: '100m' } }, env: [{ name: 'EXTRA', value: 'x' }, { name: 'CATGA_AUTO_JOIN', value: 'true' }], raft: { tickMs: 20, electionTicks: 15, heartbeatTicks: 3 },
  });
  const pod = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: false, tls: { kind: 'operator' } }).spec!.template.spec!;
  const c = pod.containers[0]!;
  const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env['CATGA_CLUSTER_SECRET'], { secretKeyRef: { name: 'peer', key: 'cluster-secret' } });
  assert.deepEqual(env['CATGA_ADMIN_TOKEN'], { secretKeyRef: { name: 'adm', key: 'tok' } });
  assert.deepEqual(env['CATGA_API_TOKENS'], { secretKeyRef: { name: 'api', key: 'api-tokens' } });
  assert.equal(env['CATGA_HANDLERS'], '/h.js');
  assert.equal(env['CATGA_TICK_MS'], '20');
  assert.equal(env['CATGA_ELECTION_TICKS'], '15');
  assert.equal(env['CATGA_HEARTBEAT_TICKS'], '3');
  assert.equal(env['EXTRA'], 'x');
  assert.deepEqual(c.env!.filter((e) => e.name === 'CATGA_AUTO_JOIN'), [{ name: 'CATGA_AUTO_JOIN', value: 'false' }], 'extra env cannot turn auto-join back on under the operator');
  assert.deepEqual(c.resources, { requests: { cpu: '100m' } });
  assert.deepEqual(pod.nodeSelector, { zone: 'a' });
  assert.deepEqual(pod.tolerations, [{ key: 't', operator: 'Exists' }]);
  assert.deepEqual(pod.affinity, { podAntiAffinity: {} });
  assert.equal(pod.topologySpreadConstraints!.length, 1);
});

test('the pod template does not depend on the replica count (scaling never rolls pods)', () => {
  const spec = resolveSpec({});
  const a = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: false, tls: { kind: 'operator' } }).spec!.template;
  const b = statefulSet({ ref, spec, replicas: 5, bootstrapExpect: 3, restoring: false, tls: { kind: 'operator' } }).spec!.template;
  assert.deepEqual(a, b);
});

test('TLS pods say their scheme (annotation for the scrape, HTTPS probes); plain pods keep the defaults', () => {
  const spec = resolveSpec({});
  for (const tls of [{ kind: 'operator' }, { kind: 'secret', secretName: 'mine' }] as const) {
    const template = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: false, tls }).spec!.template;
    assert.deepEqual(template.metadata!.annotations, { 'catga.io/scheme': 'https' }, tls.kind);
    assert.equal(template.spec!.containers[0]!.readinessProbe!.httpGet!.scheme, 'HTTPS', tls.kind);
  }
  const plain = statefulSet({ ref, spec, replicas: 3, bootstrapExpect: 3, restoring: false, tls: { kind: 'disabled' } }).spec!.template;
  assert.equal(plain.metadata!.annotations, undefined);
  assert.equal(plain.spec!.containers[0]!.readinessProbe!.httpGet!.scheme, undefined);
});

test('names: ordinals and selector string', () => {
  assert.equal(ordinalOf('demo', 'demo-4'), 4);
  assert.equal(ordinalOf('demo', 'demo-hl'), -1);
  assert.equal(ordinalOf('demo', 'demo-04'), -1);
  assert.equal(ordinalOf('demo', 'other-1'), -1);
  assert.equal(selectorString('demo'), 'app.kubernetes.io/name=catga,app.kubernetes.io/instance=demo,catga.io/cluster=demo');
});

test('pods meet the restricted Pod Security Standard and mount no service account token', () => {
  const pod = statefulSet({ ref, spec: resolveSpec({}), replicas: 3, bootstrapExpect: 3, restoring: false, tls: { kind: 'operator' } }).spec!.template.spec!;
  assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  assert.equal(pod.automountServiceAccountToken, false);
  for (const c of pod.containers) {
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  }
});

test('secret references: only Secrets labelled catga.io/referable=true, or the cluster\'s own generated one', () => {
  const spec = resolveSpec({
    clusterSecretRef: { name: 'peer' },
    apiTokensRef: { name: 'demo-credentials' },
    env: [
      { name: 'PLAIN', value: 'x' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'someone-elses', key: 'password' } } },
      { name: 'FROM_MAP', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
    ],
  });
  const refs = secretReferences(spec);
  assert.deepEqual(refs, [
    { secret: 'peer', field: 'spec.clusterSecretRef' },
    { secret: 'demo-credentials', field: 'spec.apiTokensRef' },
    { secret: 'someone-elses', field: 'spec.env[1].valueFrom.secretKeyRef' },
  ]);
  const labels: Record<string, Record<string, string>> = { peer: { [LABEL_REFERABLE]: 'true' }, 'someone-elses': { app: 'db' } };
  assert.deepEqual(refusedSecretReferences('demo', refs, (name) => labels[name] ?? null).map((r) => r.secret), ['someone-elses']);
  assert.deepEqual(refusedSecretReferences('demo', refs, () => null).map((r) => r.secret), ['peer', 'someone-elses'], 'a missing Secret is refused too');
  assert.deepEqual(refusedSecretReferences('other', refs, (name) => labels[name] ?? null).map((r) => r.secret), ['demo-credentials', 'someone-elses'], 'another cluster\'s generated Secret is not its own');
  assert.deepEqual(secretReferences(resolveSpec({})), []);
});

test('NetworkPolicy: peers only from the cluster\'s pods; the API from its namespace, the operator\'s and labelled ones', () => {
  const policy = networkPolicy(ref, 'ops');
  assert.deepEqual(policy.metadata!.ownerReferences, owner);
  const spec = policy.spec!;
  assert.deepEqual(spec.podSelector, { matchLabels: selector });
  assert.deepEqual(spec.policyTypes, ['Ingress']);
  const [peer, api] = spec.ingress!;
  assert.deepEqual(peer!.ports, [{ protocol: 'TCP', port: 7080 }]);
  assert.deepEqual(peer!._from, [{ podSelector: { matchLabels: selector } }]);
  assert.deepEqual(api!.ports, [{ protocol: 'TCP', port: 8080 }]);
  assert.deepEqual(api!._from, [
    { podSelector: {} },
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } } },
    { namespaceSelector: { matchLabels: { 'catga.io/api-access': 'true' } } },
  ]);
  const wire = networkPolicyPatch(policy) as { spec: { ingress: Record<string, unknown>[] } };
  assert.deepEqual(wire.spec.ingress.map((r) => Object.keys(r).sort()), [['from', 'ports'], ['from', 'ports']], 'the merge patch carries the wire name');
});
