// The in-memory state engine: the same semantics as the LMDB one (see engine.ts), deterministic,
// with an explicit model of what a crash keeps. Committed transactions are visible at once and
// queue as "unsynced"; sync() makes them durable. `crashImage(keep)` is the disk a crash leaves:
// the durable state plus the first `keep` unsynced transactions (a crash loses a suffix of them,
// whole transactions only), which a new engine opens. Used by the unit, crash and simulator tests.
import assert from 'node:assert/strict';
import { hasPrefix, TABLES, type KeyValue, type PinnedView, type RangeOptions, type Staging, type StateEngine, type Table, type WriteTx } from './engine.js';

type Maps = Record<Table, Map<string, Uint8Array>>;
/** One committed transaction's changes; `undefined` deletes. */
type Change = readonly [Table, string, Uint8Array | undefined];

/** A durable image: what survives a crash. */
export interface MemoryDisk {
  readonly tables: Maps;
}

const asString = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const asBytes = (key: string): Uint8Array => Buffer.from(key, 'latin1');

function emptyMaps(): Maps {
  return { state: new Map(), idem: new Map(), meta: new Map() };
}

function copyMaps(maps: Maps): Maps {
  return { state: new Map(maps.state), idem: new Map(maps.idem), meta: new Map(maps.meta) };
}

function applyChanges(maps: Maps, changes: readonly Change[]): void {
  for (const [table, key, value] of changes) {
    if (value === undefined) maps[table].delete(key);
    else maps[table].set(key, value);
  }
}

/** latin1 strings of bytes compare like the bytes (unsigned), the order LMDB keeps. */
function rangeOf(map: ReadonlyMap<string, Uint8Array>, options: RangeOptions, overlay?: ReadonlyMap<string, Uint8Array | undefined>): KeyValue[] {
  const after = options.after === undefined ? null : asString(options.after);
  const prefix = options.prefix;
  const keys = new Set<string>();
  for (const key of map.keys()) keys.add(key);
  if (overlay !== undefined) for (const key of overlay.keys()) keys.add(key);
  const sorted = [...keys].filter((k) => (after === null || k > after) && hasPrefix(asBytes(k), prefix)).sort();
  const out: KeyValue[] = [];
  for (const key of sorted) {
    if (out.length >= options.limit) break;
    const value = overlay?.has(key) === true ? overlay.get(key) : map.get(key);
    if (value !== undefined) out.push({ key: asBytes(key), value });
  }
  return out;
}

class MapView implements PinnedView {
  constructor(private readonly maps: Maps) {}
  get(table: Table, key: Uint8Array): Uint8Array | undefined {
    return this.maps[table].get(asString(key));
  }
  peek(table: Table, key: Uint8Array): Uint8Array | undefined {
    return this.get(table, key);
  }
  range(table: Table, options: RangeOptions): KeyValue[] {
    return rangeOf(this.maps[table], options);
  }
  close(): void {}
}

export class MemoryStateEngine implements StateEngine {
  private live: Maps;
  private durable: Maps;
  private unsynced: Change[][] = [];
  private inWrite = false;
  private staging = false;
  private closed = false;
  /** Counts transactions committed, for tests that crash after a given one. */
  commits = 0;

  constructor(disk?: MemoryDisk) {
    this.durable = disk === undefined ? emptyMaps() : copyMaps(disk.tables);
    this.live = copyMaps(this.durable);
  }

  /** The disk a crash would leave now, keeping the first `keep` unsynced transactions. */
  crashImage(keep = 0): MemoryDisk {
    assert.ok(keep >= 0 && keep <= this.unsynced.length, 'crashImage: keep is beyond the unsynced transactions');
    const tables = copyMaps(this.durable);
    for (const changes of this.unsynced.slice(0, keep)) applyChanges(tables, changes);
    return { tables };
  }

  get unsyncedTransactions(): number {
    return this.unsynced.length;
  }

  get(table: Table, key: Uint8Array): Uint8Array | undefined {
    return this.live[table].get(asString(key));
  }

  peek(table: Table, key: Uint8Array): Uint8Array | undefined {
    return this.get(table, key);
  }

  range(table: Table, options: RangeOptions): KeyValue[] {
    return rangeOf(this.live[table], options);
  }

  write<T>(fn: (tx: WriteTx) => T): T {
    assert.ok(!this.closed, 'state engine is closed');
    assert.ok(!this.inWrite, 'write transactions do not nest');
    const overlay: Record<Table, Map<string, Uint8Array | undefined>> = { state: new Map(), idem: new Map(), meta: new Map() };
    const live = this.live;
    const tx: WriteTx = {
      get(table, key) {
        const k = asString(key);
        const o = overlay[table];
        return o.has(k) ? o.get(k) : live[table].get(k);
      },
      peek(table, key) {
        return tx.get(table, key);
      },
      range(table, options) {
        return rangeOf(live[table], options, overlay[table]);
      },
      put(table, key, value) {
        overlay[table].set(asString(key), Uint8Array.from(value));
      },
      delete(table, key) {
        overlay[table].set(asString(key), undefined);
      },
    };
    this.inWrite = true;
    let result: T;
    try {
      result = fn(tx);
    } finally {
      this.inWrite = false;
    }
    const changes: Change[] = [];
    for (const table of TABLES) for (const [key, value] of overlay[table]) changes.push([table, key, value]);
    applyChanges(this.live, changes);
    this.unsynced.push(changes);
    this.commits++;
    return result;
  }

  pin(): PinnedView {
    return new MapView(copyMaps(this.live));
  }

  stage(): Staging {
    assert.ok(!this.staging, 'one stage at a time');
    this.staging = true;
    let staged: Maps | null = emptyMaps();
    return {
      put: (table, records) => {
        assert.ok(staged !== null, 'staging is finished');
        for (const { key, value } of records) staged[table].set(asString(key), Uint8Array.from(value));
      },
      swap: async () => {
        assert.ok(staged !== null, 'staging is finished');
        this.live = staged;
        this.durable = copyMaps(staged);
        this.unsynced = [];
        staged = null;
        this.staging = false;
      },
      abort: () => {
        assert.ok(staged !== null, 'staging is finished');
        staged = null;
        this.staging = false;
      },
    };
  }

  async sync(): Promise<void> {
    for (const changes of this.unsynced) applyChanges(this.durable, changes);
    this.unsynced = [];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
