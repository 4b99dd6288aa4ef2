// Create-or-patch: created when absent, patched only when the desired mutable part changed,
// untouched otherwise (a steady reconcile writes nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { DESIRED_HASH_ANNOTATION, ensureObject, type ObjectOps } from '../src/controller/ensure.js';

class FakeStore implements ObjectOps<KubernetesObject> {
  current: KubernetesObject | null = null;
  writes: string[] = [];
  async read() {
    return this.current === null ? null : structuredClone(this.current);
  }
  async create(obj: KubernetesObject) {
    this.writes.push('create');
    this.current = structuredClone(obj);
    return obj;
  }
  async patch(body: object) {
    this.writes.push('patch');
    const b = body as { metadata: { annotations: Record<string, string> } };
    this.current = { ...this.current!, ...body, metadata: { ...this.current!.metadata, annotations: b.metadata.annotations } } as KubernetesObject;
    return this.current;
  }
}

const desired = (port: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', labels: { a: 'b' } }, spec: { ports: [{ port }] } });

test('created once, then unchanged, then patched when the desired state changes', async () => {
  const store = new FakeStore();
  assert.equal((await ensureObject(store, desired(1), { spec: desired(1).spec })).outcome, 'created');
  assert.ok(store.current!.metadata!.annotations![DESIRED_HASH_ANNOTATION]);
  assert.equal((await ensureObject(store, desired(1), { spec: desired(1).spec })).outcome, 'unchanged');
  assert.equal((await ensureObject(store, desired(2), { spec: desired(2).spec })).outcome, 'patched');
  assert.equal((await ensureObject(store, desired(2), { spec: desired(2).spec })).outcome, 'unchanged');
  assert.deepEqual(store.writes, ['create', 'patch']);
});

test('an object whose hash annotation was removed is patched back', async () => {
  const store = new FakeStore();
  await ensureObject(store, desired(1), { spec: desired(1).spec });
  delete store.current!.metadata!.annotations![DESIRED_HASH_ANNOTATION];
  assert.equal((await ensureObject(store, desired(1), { spec: desired(1).spec })).outcome, 'patched');
});
