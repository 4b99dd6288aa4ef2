// The bounded label set of the command, query and event metrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RAISED_EVENT_LABELS, OTHER_TYPE_LABEL, TypeLabels } from '../../../src/runtime/type-labels.js';

test('registered types are their own label; anything else is `other`, and nothing is known before the handlers load', () => {
  const labels = new TypeLabels();
  assert.equal(labels.command('kv.put'), OTHER_TYPE_LABEL);
  labels.know({ commands: ['kv.put'], queries: ['kv.get'], handledEvents: ['orders.created', '*'] });
  assert.equal(labels.command('kv.put'), 'kv.put');
  assert.equal(labels.command('kv.get'), OTHER_TYPE_LABEL, 'a query type is not a command label');
  assert.equal(labels.query('kv.get'), 'kv.get');
  assert.equal(labels.query('x'), OTHER_TYPE_LABEL);
  assert.equal(labels.event('orders.created', false), 'orders.created', 'a handled event type, even when published by a client');
  assert.equal(labels.event('client.made.this', false), OTHER_TYPE_LABEL);
});

test(`event types raised by command handlers get labels up to ${MAX_RAISED_EVENT_LABELS}, then \`other\``, () => {
  const labels = new TypeLabels();
  labels.know({ commands: [], queries: [], handledEvents: [] });
  const seen = new Set<string>();
  for (let i = 0; i < MAX_RAISED_EVENT_LABELS * 4; i++) seen.add(labels.event(`raised.${i}`, true));
  assert.equal(seen.size, MAX_RAISED_EVENT_LABELS + 1);
  assert.ok(seen.has(OTHER_TYPE_LABEL));
  assert.equal(labels.event('raised.0', true), 'raised.0', 'a learned type keeps its label');
  assert.equal(labels.event('raised.0', false), 'raised.0');
});
