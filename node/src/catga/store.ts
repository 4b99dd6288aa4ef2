// Replicated module state: one ordered key → JSON map per module, the only state command handlers
// can change. A command sees it through a Transaction (writes buffered, committed only when the
// handler succeeds), so a failed or throwing command leaves the state exactly as it was on every
// node. Stored values are deep-frozen JSON, which makes snapshots a plain dump of the maps.
import { MAX_JSON_DEPTH, type JsonValue } from './schema.js';

export const MAX_STORE_KEY_LENGTH = 1_024;

export class StoreError extends Error {
  constructor(
    readonly code: 'INVALID_KEY' | 'INVALID_VALUE',
    message: string,
  ) {
    super(message);
  }
}

/** Read access, for queries. Values are frozen: never mutate them. */
export interface ReadStore {
  get(key: string): JsonValue | undefined;
  has(key: string): boolean;
  readonly size: number;
  /** Entries in insertion order (a key deleted and set again moves to the end). */
  entries(): IterableIterator<[string, JsonValue]>;
}

/** Read/write access, for command handlers. */
export interface Store {
  get(key: string): JsonValue | undefined;
  has(key: string): boolean;
  readonly size: number;
  set(key: string, value: JsonValue): void;
  /** Returns whether the key existed. */
  delete(key: string): boolean;
}

/** Checks that `value` is plain JSON (finite numbers, plain objects, arrays) and freezes it deeply. */
export function freezeJson(value: unknown, depth = 0): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new StoreError('INVALID_VALUE', 'numbers must be finite');
    return value;
  }
  if (depth >= MAX_JSON_DEPTH) throw new StoreError('INVALID_VALUE', `values nest deeper than ${MAX_JSON_DEPTH}`);
  if (Array.isArray(value)) {
    for (const item of value) freezeJson(item, depth + 1);
    return Object.freeze(value) as JsonValue;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new StoreError('INVALID_VALUE', 'objects must be plain JSON objects');
    for (const key in value) freezeJson((value as Record<string, unknown>)[key], depth + 1);
    return Object.freeze(value) as JsonValue;
  }
  throw new StoreError('INVALID_VALUE', `a ${typeof value} is not a JSON value`);
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length > MAX_STORE_KEY_LENGTH) {
    throw new StoreError('INVALID_KEY', `store keys are strings of at most ${MAX_STORE_KEY_LENGTH} characters`);
  }
}

/** One module's committed state. */
export class ModuleState implements ReadStore {
  private readonly data = new Map<string, JsonValue>();

  get(key: string): JsonValue | undefined {
    return this.data.get(key);
  }
  has(key: string): boolean {
    return this.data.has(key);
  }
  get size(): number {
    return this.data.size;
  }
  entries(): IterableIterator<[string, JsonValue]> {
    return this.data.entries();
  }

  /** JSON-able image: entries in order. */
  dump(): [string, JsonValue][] {
    return Array.from(this.data);
  }

  load(entries: unknown): void {
    if (!Array.isArray(entries)) throw new StoreError('INVALID_VALUE', 'module state must be an array of entries');
    this.data.clear();
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) throw new StoreError('INVALID_VALUE', 'module state entries are [key, value] pairs');
      checkKey(entry[0]);
      this.data.set(entry[0], freezeJson(entry[1]));
    }
  }

  /** Applies a transaction's writes, in the order they were made. */
  commit(writes: ReadonlyMap<string, JsonValue | typeof DELETED>): void {
    for (const [key, value] of writes) {
      if (value === DELETED) this.data.delete(key);
      else this.data.set(key, value);
    }
  }
}

const DELETED: unique symbol = Symbol('deleted');

/** A command's view of its module state: reads through, writes buffered until `commit()`. */
export class Transaction implements Store {
  private writes: Map<string, JsonValue | typeof DELETED> | null = null;
  private sizeDelta = 0;

  constructor(private readonly base: ModuleState) {}

  get(key: string): JsonValue | undefined {
    const written = this.writes?.get(key);
    if (written !== undefined) return written === DELETED ? undefined : written;
    return this.base.get(key);
  }

  has(key: string): boolean {
    const written = this.writes?.get(key);
    if (written !== undefined) return written !== DELETED;
    return this.base.has(key);
  }

  get size(): number {
    return this.base.size + this.sizeDelta;
  }

  set(key: string, value: JsonValue): void {
    checkKey(key);
    const frozen = freezeJson(value);
    if (!this.has(key)) this.sizeDelta++;
    (this.writes ??= new Map()).set(key, frozen);
  }

  delete(key: string): boolean {
    if (!this.has(key)) return false;
    (this.writes ??= new Map()).set(key, DELETED);
    this.sizeDelta--;
    return true;
  }

  commit(): void {
    if (this.writes !== null) this.base.commit(this.writes);
    this.writes = null;
    this.sizeDelta = 0;
  }
}
