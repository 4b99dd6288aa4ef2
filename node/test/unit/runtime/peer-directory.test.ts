// PeerDirectory: members, seeds while joining, and removed members that linger before being let go.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerDirectory } from '../../../src/runtime/peer-directory.js';

function directory(lingerMs: number): { dir: PeerDirectory; last: () => Record<string, string> } {
  let current: Record<string, string> = {};
  const dir = new PeerDirectory('a', (p) => { current = p; }, lingerMs);
  return { dir, last: () => current };
}

test('members and seeds are dialled, never this node itself', () => {
  const { dir, last } = directory(1_000);
  dir.setSeeds({ a: 'a:1', s: 's:1' });
  dir.setMembers({ a: 'a:1', b: 'b:1' });
  assert.deepEqual(last(), { s: 's:1', b: 'b:1' });
  dir.setSeeds({});
  assert.deepEqual(last(), { b: 'b:1' });
  dir.close();
});

test('a removed member stays reachable for the linger time, then is let go', async () => {
  const { dir, last } = directory(60);
  dir.setMembers({ a: 'a:1', b: 'b:1', c: 'c:1' });
  dir.setMembers({ a: 'a:1', b: 'b:1' });
  assert.deepEqual(last(), { b: 'b:1', c: 'c:1' }, 'c lingers');
  await sleep(120);
  assert.deepEqual(last(), { b: 'b:1' }, 'then c is gone');
  dir.close();
});

test('a member added back while lingering is a member again, with its new address', async () => {
  const { dir, last } = directory(60);
  dir.setMembers({ a: 'a:1', c: 'c:1' });
  dir.setMembers({ a: 'a:1' });
  dir.setMembers({ a: 'a:1', c: 'c:2' });
  await sleep(120);
  assert.deepEqual(last(), { c: 'c:2' }, 'the old linger timer did not remove it');
  dir.close();
});

test('this node leaving the configuration keeps dialling the others', () => {
  const { dir, last } = directory(1_000);
  dir.setMembers({ a: 'a:1', b: 'b:1' });
  dir.setMembers({ b: 'b:1' });
  assert.deepEqual(last(), { b: 'b:1' });
  dir.close();
});
