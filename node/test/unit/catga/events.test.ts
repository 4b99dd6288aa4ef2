import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog, type CatgaEvent } from '../../../src/catga/index.js';
import { makeEvent } from '../../../src/catga/events.js';

function ev(index: number, type = 't', data: unknown = { index }): CatgaEvent {
  return makeEvent(index, type, data as never, 1000 + index, JSON.stringify(data));
}

function indexes(result: ReturnType<EventLog['since']>): number[] {
  assert.ok(result.ok, JSON.stringify(result));
  return result.value.map((e) => e.index);
}

test('the wire form is exactly {index,type,data,ts}, in UTF-8', () => {
  const event = ev(3, 'kv.changed', { key: 'a"b', note: 'é✓' });
  assert.deepEqual(JSON.parse(event.wire.bytes.toString('utf8')), { index: 3, type: 'kv.changed', data: { key: 'a"b', note: 'é✓' }, ts: 1003 });
  assert.equal(event.wire.bytes.length, Buffer.byteLength(JSON.stringify({ index: 3, type: 'kv.changed', data: { key: 'a"b', note: 'é✓' }, ts: 1003 })));
  assert.deepEqual([event.wire.index, event.wire.type], [3, 'kv.changed']);
});

test('since returns events after an index, filtered by type', () => {
  const log = new EventLog({ maxEvents: 10 });
  log.append(1, [ev(1, 'a'), ev(1, 'b')]);
  log.append(2, []);
  log.append(3, [ev(3, 'a')]);
  assert.deepEqual(indexes(log.since(0)), [1, 1, 3]);
  assert.deepEqual(indexes(log.since(1)), [3]);
  assert.deepEqual(indexes(log.since(3)), []);
  assert.deepEqual(indexes(log.since(99)), []);
  const onlyB = log.since(0, new Set(['b']));
  assert.ok(onlyB.ok);
  assert.deepEqual(onlyB.value.map((e) => e.type), ['b']);
  assert.equal(log.lastIndex, 3);
  assert.throws(() => log.append(3, []), /appended after 3/);
});

test('a full ring evicts the oldest events and answers EVENTS_COMPACTED below its floor', () => {
  const log = new EventLog({ maxEvents: 4 });
  for (let i = 1; i <= 3; i++) log.append(i, [ev(i), ev(i)]);
  // 6 events into 4 slots: entry 1 is gone entirely, so the floor is 1.
  assert.equal(indexes(log.since(log.floor)).length, 4, 'the ring holds 4 events');
  assert.equal(log.floor, 1);
  assert.deepEqual(indexes(log.since(1)), [2, 2, 3, 3]);
  const old = log.since(0);
  assert.ok(!old.ok);
  assert.equal(old.code, 'EVENTS_COMPACTED');
  // Evicting one event of entry 2 makes entry 2 incomplete: resuming needs from >= 2.
  log.append(4, [ev(4)]);
  assert.equal(log.floor, 2);
  assert.ok(!log.since(1).ok);
  assert.deepEqual(indexes(log.since(2)), [3, 3, 4]);
});

test('the ring is bounded by bytes as well as by count', () => {
  const big = 'x'.repeat(100);
  const log = new EventLog({ maxEvents: 100, maxBytes: 3 * ev(1, 't', big).wire.bytes.length });
  for (let i = 1; i <= 5; i++) log.append(i, [ev(i, 't', big)]);
  assert.equal(indexes(log.since(log.floor)).length, 3, 'the ring holds 3 events');
  assert.equal(log.floor, 2);
  assert.deepEqual(indexes(log.since(2)), [3, 4, 5]);
});

test('since pages never split an entry', () => {
  const log = new EventLog();
  log.append(1, [ev(1), ev(1), ev(1)]);
  log.append(2, [ev(2)]);
  assert.deepEqual(indexes(log.since(0, null, 2)), [1, 1, 1]);
  assert.deepEqual(indexes(log.since(1, null, 2)), [2]);
});

test('follow replays the backlog then follows live events, and ends on a reset', () => {
  const log = new EventLog();
  log.append(1, [ev(1, 'a')]);
  log.append(2, [ev(2, 'b')]);
  const got: number[][] = [];
  let compacted = 0;
  const follower = log.follow(0, new Set(['a']), (events) => got.push(events.map((e) => e.index)), () => compacted++);
  assert.ok(follower.ok);
  log.append(3, [ev(3, 'a'), ev(3, 'b')]);
  log.append(4, [ev(4, 'b')]);
  assert.deepEqual(got, [[1], [3]]);
  const all: number[] = [];
  const everything = log.follow(null, null, (events) => all.push(...events.map((e) => e.index)), () => compacted++);
  assert.ok(everything.ok);
  everything.value.close();
  log.append(5, [ev(5, 'a')]);
  assert.deepEqual(all, [1, 2, 3, 3, 4]);
  log.reset(10);
  assert.equal(compacted, 1);
  log.append(11, [ev(11, 'a')]);
  assert.deepEqual(got, [[1], [3], [5]]);
  const tooOld = log.follow(9, null, () => {}, () => {});
  assert.ok(!tooOld.ok);
  assert.equal(tooOld.code, 'EVENTS_COMPACTED');
});
