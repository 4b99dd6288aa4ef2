// The state engine seam: the ordered, transactional byte store that holds the replicated state
// machine's state (module state, the idempotency table, the applied index). Two implementations
// with the same semantics: LMDB on disk (lmdb-engine.ts) and an in-memory one with an explicit
// crash model for the simulator and the crash tests (memory-engine.ts).
//
// Semantics both implement:
//  - three tables, each ordered by unsigned byte order of the keys;
//  - `write(fn)` runs `fn` as ONE atomic transaction: reads inside it see its own writes; if `fn`
//    throws nothing of it is visible, ever. A committed write is visible at once but durable only
//    after a later `sync()` resolves (a crash may lose committed-but-unsynced transactions, whole
//    transactions in commit order, never a part of one);
//  - `pin()` returns a read view fixed at the moment it is taken, unaffected by later writes or by
//    a swap, until it is closed;
//  - `stage()` fills a second copy of the state while the live one keeps serving; `swap()` makes it
//    the live state atomically and durably (a crash before it leaves the old state, after it the
//    new one); an unfinished stage is discarded at the next open or stage; one stage at a time.

export type Table = 'state' | 'idem' | 'meta';
export const TABLES: readonly Table[] = ['state', 'idem', 'meta'];

export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface RangeOptions {
  /** Only keys starting with these bytes. */
  readonly prefix: Uint8Array;
  /** Only keys strictly after this one. */
  readonly after?: Uint8Array | undefined;
  readonly limit: number;
}

export interface ReadView {
  /** A copy of the value: the caller may keep it. */
  get(table: Table, key: Uint8Array): Uint8Array | undefined;
  /**
   * The value without a copy, valid only until the next call on the engine (LMDB reuses one
   * buffer for every read): for a caller that decodes it at once, the apply path's reads.
   */
  peek(table: Table, key: Uint8Array): Uint8Array | undefined;
  /** Keys in byte order; at most `limit` of them. */
  range(table: Table, options: RangeOptions): KeyValue[];
}

export interface PinnedView extends ReadView {
  close(): void;
}

export interface WriteTx extends ReadView {
  put(table: Table, key: Uint8Array, value: Uint8Array): void;
  delete(table: Table, key: Uint8Array): void;
}

export interface Staging {
  put(table: Table, records: readonly KeyValue[]): void;
  /** Makes the staged state the live one (atomically and durably), then forgets the old one. */
  swap(): Promise<void>;
  /** Drops what was staged; the live state is untouched. */
  abort(): void;
}

export interface StateEngine extends ReadView {
  write<T>(fn: (tx: WriteTx) => T): T;
  pin(): PinnedView;
  stage(): Staging;
  /** Resolves once every transaction committed before the call is durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export const EMPTY = new Uint8Array(0);

/** True when `key` starts with `prefix`. */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** The smallest key greater than every key starting with `prefix`, or null when there is none. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return null;
}

/** An index (safe integer) as 8 big-endian bytes. */
export function encodeIndex(index: number): Uint8Array {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(index));
  return out;
}

export function decodeIndex(bytes: Uint8Array | undefined): number {
  if (bytes === undefined) return 0;
  const n = Number(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readBigUInt64BE(0));
  if (!Number.isSafeInteger(n)) throw new Error('state engine: stored index is not a safe integer');
  return n;
}
