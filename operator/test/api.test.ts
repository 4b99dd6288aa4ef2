// The CatgaCluster TypeScript types and the CRD schema must not drift: a fully populated,
// type-checked spec and status are walked against the schema in both directions, and the code
// defaults are compared with the schema defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { CatgaClusterSpec, CatgaClusterStatus, MemberStatus, Condition } from '../src/api/types.js';
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../src/api/types.js';
import { resolveSpec, MAX_REPLICAS, MIN_REPLICAS } from '../src/api/defaults.js';
import { CRD_PATH } from './repo-paths.js';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

/** Every optional field made required, recursively: the compiler forces the samples below to be complete. */
type Complete<T> = T extends (infer U)[] ? Complete<U>[] : T extends object ? { [K in keyof T]-?: Complete<T[K]> } : T;

const crd = yaml.load(readFileSync(CRD_PATH, 'utf8')) as {
  spec: { group: string; names: { kind: string; plural: string; shortNames: string[] }; versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
};
const root = crd.spec.versions[0]!.schema.openAPIV3Schema;

// Fields whose schema is Kubernetes' own (preserved unknown): only their presence is checked.
const fullSpec: Complete<Omit<CatgaClusterSpec, 'tolerations' | 'affinity' | 'topologySpreadConstraints' | 'env'>> & Pick<CatgaClusterSpec, 'tolerations' | 'affinity' | 'topologySpreadConstraints'> & { env: { name: string; value: string; valueFrom: object }[] } = {
  replicas: 5,
  image: 'catga/node:1',
  imagePullPolicy: 'Always',
  resources: { requests: { cpu: '100m' }, limits: { memory: '256Mi' } },
  storage: { size: '2Gi', storageClassName: 'fast' },
  raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 },
  clusterSecretRef: { name: 's', key: 'k' },
  adminTokenRef: { name: 's', key: 'k' },
  apiTokensRef: { name: 's', key: 'k' },
  tls: { enabled: true, secretName: 'orders-tls' },
  handlers: '/app/handlers.js',
  terminationGracePeriodSeconds: 30,
  nodeSelector: { zone: 'a' },
  tolerations: [{ key: 'k', operator: 'Exists' }],
  affinity: {},
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
  env: [{ name: 'X', value: '1', valueFrom: {} }],
  backup: {
    schedule: '0 3 * * *', suspend: false,
    objectStore: { endpoint: 'http://s3:8333', bucket: 'b', path: 'p', region: 'eu-west-1', credentialsSecretRef: { name: 's3', accessKeyIdKey: 'a', secretAccessKeyKey: 's' } },
    retention: { keep: 7, maxAgeDays: 30 },
  },
  bootstrap: {
    fromBackup: {
      objectStore: { endpoint: 'http://s3:8333', bucket: 'b', path: 'p', region: 'eu-west-1', credentialsSecretRef: { name: 's3', accessKeyIdKey: 'a', secretAccessKeyKey: 's' } },
      backupName: 'backup-20260101T000000Z-000000000042',
    },
  },
};

const fullMember: Complete<MemberStatus> = { id: 'c-0', address: '10.0.0.1:7080', voter: true, matchIndex: 4, healthy: true };
const fullCondition: Complete<Condition> = {
  type: 'Available', status: 'True', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'QuorumReady', message: 'ok',
};
const fullStatus: Complete<CatgaClusterStatus> = {
  observedGeneration: 1, phase: 'Available', replicas: 3, readyReplicas: 3, selector: 'a=b', bootstrapExpect: 3,
  leader: 'c-0', term: 2, commitIndex: 9, members: [fullMember], conditions: [fullCondition],
  lastBackup: { time: '2026-01-01T03:00:09Z', index: 42, name: 's3://b/p/backup-20260101T030001Z-000000000042', job: 'c-backup-29000000' },
  restore: { backup: 's3://b/p/backup-20260101T000000Z-000000000042', completedTime: '2026-01-01T00:01:00Z' },
};

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Walks value and schema together; returns one line per disagreement. */
function drift(path: string, schema: Schema, value: unknown): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true && schema.properties === undefined) return [];
  if (schema['x-kubernetes-int-or-string'] === true) {
    return typeof value === 'string' || Number.isInteger(value) ? [] : [`${path}: not int-or-string`];
  }
  const type = jsonType(value);
  if (schema.type !== type) return [`${path}: schema says ${schema.type}, types give ${type}`];
  if (type === 'array') return (value as unknown[]).flatMap((v, i) => drift(`${path}[${i}]`, schema.items!, v));
  if (type !== 'object') return [];
  const obj = value as Record<string, unknown>;
  if (schema.properties === undefined) {
    return Object.entries(obj).flatMap(([k, v]) => drift(`${path}.${k}`, schema.additionalProperties!, v));
  }
  const problems: string[] = [];
  for (const key of Object.keys(schema.properties)) {
    if (!(key in obj)) problems.push(`${path}.${key}: in the schema, missing from the types`);
  }
  for (const [key, v] of Object.entries(obj)) {
    const sub = schema.properties[key];
    if (sub === undefined) problems.push(`${path}.${key}: in the types, missing from the schema`);
    else problems.push(...drift(`${path}.${key}`, sub, v));
  }
  return problems;
}

test('CRD names follow docs/api.md#crd', () => {
  assert.equal(crd.spec.group, API_GROUP);
  assert.equal(crd.spec.versions[0]!.name, API_VERSION);
  assert.equal(crd.spec.names.kind, KIND);
  assert.equal(crd.spec.names.plural, PLURAL);
  assert.deepEqual(crd.spec.names.shortNames, ['cgc']);
});

test('spec types and spec schema agree field for field', () => {
  assert.deepEqual(drift('spec', root.properties!.spec!, fullSpec), []);
});

test('status types and status schema agree field for field', () => {
  assert.deepEqual(drift('status', root.properties!.status!, fullStatus), []);
});

test('the drift walker catches a field the schema lacks and a wrong type', () => {
  assert.deepEqual(drift('spec', root.properties!.spec!, { ...fullSpec, surprise: 1 }).filter((p) => p.includes('surprise')).length, 1);
  assert.ok(drift('spec', root.properties!.spec!, { ...fullSpec, replicas: 'three' }).some((p) => p.startsWith('spec.replicas')));
});

/** Applies the schema's defaults like the API server does (objects present or defaulted). */
function applySchemaDefaults(schema: Schema, value: unknown): unknown {
  if (jsonType(value) !== 'object' || schema.properties === undefined) return value;
  const obj = { ...(value as Record<string, unknown>) };
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (obj[key] === undefined && sub.default !== undefined) obj[key] = structuredClone(sub.default);
    if (obj[key] !== undefined) obj[key] = applySchemaDefaults(sub, obj[key]);
  }
  return obj;
}

test('code defaults equal schema defaults', () => {
  const specSchema = root.properties!.spec!;
  const refs = { clusterSecretRef: { name: 'a' }, adminTokenRef: { name: 'b' }, apiTokensRef: { name: 'c' } };
  const fromSchema = applySchemaDefaults(specSchema, { ...refs }) as Record<string, unknown>;
  const fromCode = resolveSpec({ ...refs }) as unknown as Record<string, unknown>;
  // resources has no schema default; the code uses an empty object for it.
  assert.deepEqual({ ...fromCode, resources: undefined }, { ...fromSchema, resources: undefined });
  assert.equal(specSchema.properties!.replicas!.minimum, MIN_REPLICAS);
  assert.equal(specSchema.properties!.replicas!.maximum, MAX_REPLICAS);
});

test('backup and bootstrap.fromBackup: code defaults equal schema defaults', () => {
  const objectStore = { bucket: 'backups', credentialsSecretRef: { name: 's3' } };
  const spec = { backup: { schedule: '@daily', objectStore }, bootstrap: { fromBackup: { objectStore, backupName: 'backup-20260101T000000Z-000000000042' } } };
  const fromSchema = applySchemaDefaults(root.properties!.spec!, structuredClone(spec)) as Record<string, unknown>;
  const fromCode = resolveSpec(structuredClone(spec));
  assert.deepEqual(fromCode.backup, fromSchema['backup']);
  assert.deepEqual(fromCode.bootstrap, fromSchema['bootstrap']);
  assert.equal(fromCode.backup?.retention.keep, 7);
});

/** Object defaults must already hold their properties' defaults: CEL rules are checked against them as written. */
function incompleteObjectDefaults(path: string, schema: Schema): string[] {
  const own = schema.type === 'object' && schema.default !== undefined && schema.properties !== undefined
    ? (JSON.stringify(applySchemaDefaults(schema, {})) === JSON.stringify(applySchemaDefaults(schema, schema.default)) &&
       JSON.stringify(applySchemaDefaults(schema, schema.default)) === JSON.stringify(schema.default) ? [] : [path])
    : [];
  const children = Object.entries(schema.properties ?? {}).flatMap(([k, s]) => incompleteObjectDefaults(`${path}.${k}`, s));
  return [...own, ...children, ...(schema.items ? incompleteObjectDefaults(`${path}[]`, schema.items) : [])];
}

test('object defaults spell out their properties\' defaults', () => {
  assert.deepEqual(incompleteObjectDefaults('spec', root.properties!.spec!), []);
  assert.deepEqual(incompleteObjectDefaults('x', { type: 'object', default: {}, properties: { a: { type: 'integer', default: 1 } } }), ['x']);
});
