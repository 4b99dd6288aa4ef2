// Pure membership functions: the first configuration, pod names and ordinals, static peer lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialConfiguration, MembershipError, parsePodName, parseStaticPeers } from '../../../src/membership/index.js';

const isCode = (code: string) => (err: unknown) => err instanceof MembershipError && err.code === code;

test('initialConfiguration: voters are the first n ordinals at their stable DNS names', () => {
  assert.deepStrictEqual(initialConfiguration('orders', 3, 'orders-hl.prod.svc.cluster.local', 7080), {
    voters: ['orders-0', 'orders-1', 'orders-2'],
    learners: [],
    addresses: {
      'orders-0': 'orders-0.orders-hl.prod.svc.cluster.local:7080',
      'orders-1': 'orders-1.orders-hl.prod.svc.cluster.local:7080',
      'orders-2': 'orders-2.orders-hl.prod.svc.cluster.local:7080',
    },
  });
  const one = initialConfiguration('x', 1, 'x-hl.ns.svc.cluster.local', 9000);
  assert.deepStrictEqual(one.voters, ['x-0']);
});

test('initialConfiguration is the same on every node, whatever node computes it', () => {
  const a = initialConfiguration('db', 5, 'db-hl.ns.svc.cluster.local', 7080);
  const b = initialConfiguration('db', 5, 'db-hl.ns.svc.cluster.local', 7080);
  assert.deepStrictEqual(a, b);
  assert.deepStrictEqual(JSON.stringify(a), JSON.stringify(b), 'same key order too');
});

test('initialConfiguration refuses nonsense', () => {
  assert.throws(() => initialConfiguration('x', 0, 'x-hl', 7080));
  assert.throws(() => initialConfiguration('', 3, 'x-hl', 7080));
  assert.throws(() => initialConfiguration('x', 3, 'x-hl.', 7080));
  assert.throws(() => initialConfiguration('x', 3, 'x-hl', 70800));
});

test('pod names: <name>-<ordinal>, nothing else', () => {
  assert.deepStrictEqual(parsePodName('my-app-12'), { name: 'my-app', ordinal: 12 });
  assert.deepStrictEqual(parsePodName('x-0'), { name: 'x', ordinal: 0 });
  for (const bad of ['x', 'x-', '-1', 'x-01', 'x-a']) assert.throws(() => parsePodName(bad), isCode('INVALID_NODE_ID'), bad);
});

test('parseStaticPeers: catga dev peer lists', () => {
  assert.deepStrictEqual(parseStaticPeers('n1=127.0.0.1:7081, n2=127.0.0.1:7082,n3=[::1]:7083'), {
    voters: ['n1', 'n2', 'n3'],
    learners: [],
    addresses: { n1: '127.0.0.1:7081', n2: '127.0.0.1:7082', n3: '[::1]:7083' },
  });
  for (const bad of ['', 'n1', 'n1=127.0.0.1', 'n1=127.0.0.1:0', 'n1=h:1,n1=h:2', '=h:1', 'n1=http://h:1', 'n1=[zz]:1']) {
    assert.throws(() => parseStaticPeers(bad), isCode('INVALID_STATIC_PEERS'), bad);
  }
});
