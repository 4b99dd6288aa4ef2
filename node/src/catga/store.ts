// Replicated module state: one ordered key → JSON table per module, held in the state engine, the
// only state command handlers can change. A command sees it through a Transaction (writes buffered,
// committed into the apply batch's engine transaction only when the handler succeeds), so a failed
// or throwing command leaves the state exactly as it was on every node. Keys are ordered by their
// UTF-8 bytes; `scan` pages through a key prefix with a bounded limit, so no query has to load a
// whole module's state.
import { MAX_JSON_DEPTH, type JsonValue } from './schema.js';
import type { ReplicatedState } from './replicated-state.js';
import { CodedError } from '../common/errors.js';

/** Keys are strings of at most this many UTF-8 bytes. */
export const MAX_STORE_KEY_BYTES = 1_024;
/** Most entries one `scan` returns. */
export const MAX_SCAN_LIMIT = 1_000;

export class StoreError extends CodedError<'INVALID_KEY' | 'INVALID_VALUE' | 'INVALID_SCAN'> {}

export interface ScanOptions {
  /** Only keys after this one (the last key of the previous page). */
  readonly after?: string;
  /** 1 to MAX_SCAN_LIMIT. */
  readonly limit: number;
}

/** Read access, for queries. Values are frozen: never mutate them. */
export interface ReadStore {
  get(key: string): JsonValue | undefined;
  has(key: string): boolean;
  /** Keys held (a counter kept with the state: O(1)). */
  readonly size: number;
  /** Entries whose key starts with `prefix`, in UTF-8 byte order of the keys, at most `limit`. */
  scan(prefix: string, options: ScanOptions): [string, JsonValue][];
}

/** Read/write access, for command handlers. */
export interface Store extends ReadStore {
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
  if (typeof key !== 'string' || key.length > MAX_STORE_KEY_BYTES || Buffer.byteLength(key, 'utf8') > MAX_STORE_KEY_BYTES) {
    throw new StoreError('INVALID_KEY', `store keys are strings of at most ${MAX_STORE_KEY_BYTES} UTF-8 bytes`);
  }
}

function checkScan(prefix: unknown, options: ScanOptions | undefined): void {
  if (typeof prefix !== 'string') throw new StoreError('INVALID_SCAN', 'scan: the prefix must be a string');
  const limit = options?.limit;
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_SCAN_LIMIT) {
    throw new StoreError('INVALID_SCAN', `scan: limit must be an integer from 1 to ${MAX_SCAN_LIMIT}`);
  }
  if (options?.after !== undefined) checkKey(options.after);
}

function parseValue(bytes: Uint8Array): JsonValue {
  return freezeJson(JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')));
}

/** One module's committed state, read through the current engine view. */
export class ModuleState implements ReadStore {
  /** `module` and a NUL, before every key of the module in the engine (as a string and as bytes). */
  private readonly keyPrefix: string;
  private readonly prefix: Buffer;

  constructor(
    readonly module: string,
    private readonly state: ReplicatedState,
  ) {
    this.keyPrefix = `${module}\0`;
    this.prefix = Buffer.from(this.keyPrefix, 'utf8');
  }

  /** The engine key of `key` in this module. */
  engineKey(key: string): Buffer {
    return Buffer.from(this.keyPrefix + key, 'utf8');
  }

  /** The stored bytes of `key`, valid only until the next engine read: decode or measure them at once. */
  peek(key: string): Uint8Array | undefined {
    return this.state.reader.peek('state', this.engineKey(key));
  }

  get(key: string): JsonValue | undefined {
    if (typeof key !== 'string') return undefined;
    const bytes = this.peek(key);
    return bytes === undefined ? undefined : parseValue(bytes);
  }

  has(key: string): boolean {
    return typeof key === 'string' && this.peek(key) !== undefined;
  }

  get size(): number {
    return this.state.count(this.module);
  }

  scan(prefix: string, options: ScanOptions): [string, JsonValue][] {
    checkScan(prefix, options);
    return this.page(prefix, options.after, options.limit);
  }

  /** `scan` without the limit's cap (checked arguments only). */
  page(prefix: string, after: string | undefined, limit: number): [string, JsonValue][] {
    const rows = this.state.reader.range('state', {
      prefix: this.engineKey(prefix),
      after: after === undefined ? undefined : this.engineKey(after),
      limit,
    });
    return rows.map(({ key, value }) => [Buffer.from(key.buffer, key.byteOffset, key.byteLength).subarray(this.prefix.length).toString('utf8'), parseValue(value)]);
  }

  /** Writes a transaction's changes into the apply batch, in the order they were made. */
  commit(writes: ReadonlyMap<string, Write>, countDelta: number, bytesDelta: number): void {
    const tx = this.state.writer;
    for (const [key, write] of writes) {
      if (write === DELETED) tx.delete('state', this.engineKey(key));
      else tx.put('state', this.engineKey(key), write.bytes);
    }
    this.state.account(this.module, countDelta, bytesDelta);
  }
}

const DELETED: unique symbol = Symbol('deleted');
interface Written {
  readonly value: JsonValue;
  readonly bytes: Buffer;
}
type Write = Written | typeof DELETED;
/** A key's committed row as a command saw it: its size (undefined: no row) and its value once parsed. */
interface CommittedRow {
  readonly bytes: number | undefined;
  readonly value: JsonValue | undefined;
}

const compareUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** A command's view of its module state: reads through, writes buffered until `commit()`. */
export class Transaction implements Store {
  private writes: Map<string, Write> | null = null;
  /** What this command read of each key's committed row: one engine read per key, one parse per value. */
  private readonly committed = new Map<string, CommittedRow>();
  private sizeDelta = 0;

  constructor(private readonly base: ModuleState) {}

  /** The committed row of `key`, its value parsed if `parse` (and the row exists). */
  private committedRow(key: string, parse: boolean): CommittedRow {
    const known = this.committed.get(key);
    if (known !== undefined && (!parse || known.bytes === undefined || known.value !== undefined)) return known;
    const raw = this.base.peek(key);
    const row = { bytes: raw?.byteLength, value: parse && raw !== undefined ? parseValue(raw) : undefined };
    this.committed.set(key, row);
    return row;
  }

  get(key: string): JsonValue | undefined {
    if (typeof key !== 'string') return undefined;
    const written = this.writes?.get(key);
    if (written !== undefined) return written === DELETED ? undefined : written.value;
    return this.committedRow(key, true).value;
  }

  has(key: string): boolean {
    if (typeof key !== 'string') return false;
    const written = this.writes?.get(key);
    if (written !== undefined) return written !== DELETED;
    return this.committedRow(key, false).bytes !== undefined;
  }

  get size(): number {
    return this.base.size + this.sizeDelta;
  }

  /**
   * The committed page merged with this transaction's writes. The base is read as many rows deeper
   * as there are buffered deletes, so at least `limit` base keys up to the last row read survive.
   */
  scan(prefix: string, options: ScanOptions): [string, JsonValue][] {
    checkScan(prefix, options);
    const writes = this.writes;
    if (writes === null) return this.base.scan(prefix, options);
    let deletes = 0;
    for (const write of writes.values()) if (write === DELETED) deletes++;
    const depth = options.limit + deletes;
    const rows = this.base.page(prefix, options.after, depth);
    const last = rows.length < depth ? null : (rows[rows.length - 1] as [string, JsonValue])[0];
    const merged = new Map<string, JsonValue>(rows);
    const after = options.after;
    for (const [key, write] of writes) {
      if (!key.startsWith(prefix) || (after !== undefined && compareUtf8(key, after) <= 0)) continue;
      // Past the last base row read, base keys are unknown: leave those to the next page.
      if (last !== null && compareUtf8(key, last) > 0) continue;
      if (write === DELETED) merged.delete(key);
      else merged.set(key, write.value);
    }
    return [...merged.keys()].sort(compareUtf8).slice(0, options.limit).map((key) => [key, merged.get(key) as JsonValue]);
  }

  set(key: string, value: JsonValue): void {
    checkKey(key);
    const frozen = freezeJson(value);
    if (!this.has(key)) this.sizeDelta++;
    this.writes ??= new Map();
    this.writes.set(key, { value: frozen, bytes: Buffer.from(JSON.stringify(frozen), 'utf8') });
  }

  delete(key: string): boolean {
    if (!this.has(key)) return false;
    this.writes ??= new Map();
    this.writes.set(key, DELETED);
    this.sizeDelta--;
    return true;
  }

  /** How many bytes of module state committing would add (negative: free). */
  bytesDelta(): number {
    if (this.writes === null) return 0;
    let delta = 0;
    for (const [key, write] of this.writes) {
      const old = this.committedRow(key, false).bytes;
      const keyBytes = Buffer.byteLength(key, 'utf8');
      if (old !== undefined) delta -= keyBytes + old;
      if (write !== DELETED) delta += keyBytes + write.bytes.byteLength;
    }
    return delta;
  }

  commit(): void {
    if (this.writes !== null) this.base.commit(this.writes, this.sizeDelta, this.bytesDelta());
    this.writes = null;
    this.sizeDelta = 0;
  }
}
