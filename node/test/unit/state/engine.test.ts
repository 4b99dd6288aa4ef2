// One suite, both state engines: ordering, transactions (atomic, reads see own writes, a throw
// commits nothing), pinned views, staging and swap, and (LMDB) what a reopen keeps; plus the
// in-memory engine's crash model.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { StateEngine } from '../../../src/state/engine.js';
import { LmdbStateEngine } from '../../../src/state/lmdb-engine.js';
import { MemoryStateEngine } from '../../../src/state/memory-engine.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const s = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : Buffer.from(u).toString('utf8'));
const keys = (rows: readonly { key: Uint8Array }[]): string[] => rows.map((r) => Buffer.from(r.key).toString('latin1'));

interface Harness {
  readonly engine: StateEngine;
  /** A new engine over what this one made durable (LMDB: reopen after close; memory: crash image after sync). */
  reopen(): Promise<StateEngine>;
  cleanup(): void;
}

const implementations: Record<string, () => Harness> = {
  lmdb: () => {
    const dir = mkdtempSync(join(tmpdir(), 'catga-engine-'));
    let engine: StateEngine = new LmdbStateEngine(dir);
    return {
      engine,
      reopen: async () => { await engine.close(); engine = new LmdbStateEngine(dir); return engine; },
      cleanup: () => { void engine.close().finally(() => rmSync(dir, { recursive: true, force: true })); },
    };
  },
  memory: () => {
    const engine = new MemoryStateEngine();
    return {
      engine,
      reopen: async () => { await engine.sync(); return new MemoryStateEngine(engine.crashImage()); },
      cleanup: () => {},
    };
  },
};

for (const [name, make] of Object.entries(implementations)) {
  describe(`state engine: ${name}`, () => {
    it('keeps keys in unsigned byte order and ranges by prefix, after and limit', () => {
      const h = make();
      try {
        const e = h.engine;
        e.write((tx) => {
          for (const k of ['a/2', 'a/10', 'a/1', 'b/1', 'a', 'a/\u00e9', 'a/z']) tx.put('state', b(k), b(`v-${k}`));
        });
        assert.deepEqual(keys(e.range('state', { prefix: b('a/'), limit: 100 })), ['a/1', 'a/10', 'a/2', 'a/z', Buffer.from('a/\u00e9').toString('latin1')]);
        assert.deepEqual(keys(e.range('state', { prefix: b('a/'), after: b('a/10'), limit: 2 })), ['a/2', 'a/z']);
        assert.deepEqual(keys(e.range('state', { prefix: new Uint8Array(0), limit: 3 })), ['a', 'a/1', 'a/10']);
        assert.deepEqual(e.range('idem', { prefix: b(''), limit: 10 }), []);
        assert.equal(s(e.get('state', b('b/1'))), 'v-b/1');
      } finally { h.cleanup(); }
    });

    it('peeks a value at its own length, in a write and in a pinned view alike', () => {
      const h = make();
      try {
        const e = h.engine;
        e.write((tx) => { tx.put('state', b('long'), b('x'.repeat(5000))); tx.put('state', b('short'), b('ab')); tx.put('state', b('empty'), b('')); });
        // The long read first: LMDB's reused buffer then holds more bytes than the short value.
        assert.equal(e.peek('state', b('long'))?.byteLength, 5000);
        assert.equal(s(e.peek('state', b('short'))), 'ab');
        assert.equal(e.peek('state', b('empty'))?.byteLength, 0);
        assert.equal(e.peek('state', b('none')), undefined);
        const pinned = e.pin();
        e.write((tx) => {
          tx.put('state', b('short'), b('abc'));
          assert.equal(tx.peek('state', b('long'))?.byteLength, 5000);
          assert.equal(s(tx.peek('state', b('short'))), 'abc');
        });
        assert.equal(pinned.peek('state', b('long'))?.byteLength, 5000);
        assert.equal(s(pinned.peek('state', b('short'))), 'ab');
        pinned.close();
      } finally { h.cleanup(); }
    });

    it('runs a write as one transaction: reads see its writes, a throw commits nothing', () => {
      const h = make();
      try {
        const e = h.engine;
        e.write((tx) => { tx.put('state', b('k'), b('1')); });
        const seen = e.write((tx) => {
          tx.put('state', b('k'), b('2'));
          tx.put('meta', b('applied'), b('7'));
          tx.delete('state', b('k2'));
          return [s(tx.get('state', b('k'))), keys(tx.range('state', { prefix: b('k'), limit: 10 }))];
        });
        assert.deepEqual(seen, ['2', ['k']]);
        assert.throws(() => e.write((tx) => { tx.put('state', b('k'), b('3')); tx.put('state', b('x'), b('3')); throw new Error('handler bug'); }), /handler bug/);
        assert.equal(s(e.get('state', b('k'))), '2');
        assert.equal(e.get('state', b('x')), undefined);
        e.write((tx) => { tx.delete('state', b('k')); });
        assert.equal(e.get('state', b('k')), undefined);
      } finally { h.cleanup(); }
    });

    it('keeps a pinned view fixed while writes go on', () => {
      const h = make();
      try {
        const e = h.engine;
        e.write((tx) => { for (let i = 0; i < 10; i++) tx.put('state', b(`k${i}`), b(`${i}`)); });
        const view = e.pin();
        e.write((tx) => { tx.put('state', b('k0'), b('changed')); tx.delete('state', b('k1')); tx.put('state', b('k99'), b('new')); });
        assert.equal(s(view.get('state', b('k0'))), '0');
        assert.equal(view.range('state', { prefix: b('k'), limit: 100 }).length, 10);
        assert.equal(e.range('state', { prefix: b('k'), limit: 100 }).length, 10);
        assert.equal(s(e.get('state', b('k0'))), 'changed');
        view.close();
      } finally { h.cleanup(); }
    });

    it('stages a second state while the live one serves, swaps it in, and an abort leaves the live one', async () => {
      const h = make();
      try {
        const e = h.engine;
        e.write((tx) => { tx.put('state', b('old'), b('1')); tx.put('meta', b('applied'), b('5')); });
        const aborted = e.stage();
        aborted.put('state', [{ key: b('never'), value: b('x') }]);
        assert.throws(() => e.stage(), /one stage at a time/);
        aborted.abort();
        assert.throws(() => aborted.abort(), /finished/);
        const stage = e.stage();
        stage.put('state', [{ key: b('new1'), value: b('a') }, { key: b('new2'), value: b('b') }]);
        stage.put('meta', [{ key: b('applied'), value: b('9') }]);
        assert.equal(s(e.get('state', b('old'))), '1', 'the live state serves while staging');
        const view = e.pin();
        await stage.swap();
        assert.equal(e.get('state', b('old')), undefined);
        assert.equal(e.get('state', b('never')), undefined);
        assert.deepEqual(keys(e.range('state', { prefix: b(''), limit: 10 })), ['new1', 'new2']);
        assert.equal(s(e.get('meta', b('applied'))), '9');
        assert.equal(s(view.get('state', b('old'))), '1', 'a view pinned before the swap keeps the old state');
        view.close();
        const reopened = await h.reopen();
        assert.deepEqual(keys(reopened.range('state', { prefix: b(''), limit: 10 })), ['new1', 'new2']);
        assert.equal(s(reopened.get('meta', b('applied'))), '9');
      } finally { h.cleanup(); }
    });

    it('keeps synced writes across a reopen', async () => {
      const h = make();
      try {
        h.engine.write((tx) => { tx.put('idem', b('i'), b('r')); tx.put('state', b('k'), b('v')); });
        await h.engine.sync();
        const reopened = await h.reopen();
        assert.equal(s(reopened.get('idem', b('i'))), 'r');
        assert.equal(s(reopened.get('state', b('k'))), 'v');
      } finally { h.cleanup(); }
    });
  });
}

describe('memory state engine: crash model', () => {
  it('a crash keeps the durable state plus a prefix of whole unsynced transactions', async () => {
    const e = new MemoryStateEngine();
    e.write((tx) => { tx.put('state', b('a'), b('1')); });
    await e.sync();
    e.write((tx) => { tx.put('state', b('a'), b('2')); tx.put('state', b('b'), b('2')); });
    e.write((tx) => { tx.put('state', b('a'), b('3')); tx.delete('state', b('b')); });
    assert.equal(e.unsyncedTransactions, 2);
    const at = (keep: number): [string | undefined, string | undefined] => {
      const c = new MemoryStateEngine(e.crashImage(keep));
      return [s(c.get('state', b('a'))), s(c.get('state', b('b')))];
    };
    assert.deepEqual(at(0), ['1', undefined]);
    assert.deepEqual(at(1), ['2', '2']);
    assert.deepEqual(at(2), ['3', undefined]);
    assert.throws(() => e.crashImage(3), /beyond/);
  });

  it('a stage that was never swapped leaves nothing after a crash', () => {
    const e = new MemoryStateEngine();
    e.write((tx) => { tx.put('state', b('live'), b('1')); });
    const stage = e.stage();
    stage.put('state', [{ key: b('staged'), value: b('x') }]);
    const c = new MemoryStateEngine(e.crashImage(1));
    assert.deepEqual(keys(c.range('state', { prefix: b(''), limit: 10 })), ['live']);
  });
});
