// The replicated idempotency table: key → first result of the command that carried it, with a
// fingerprint of that command's payload (a key reused with another payload is refused, not
// answered). Keys are scoped by the caller (mediator: command type; server: token). Time is the
// entries' own timestamps, stamped by the leader (a monotonic "replicated clock" = the largest
// entry ts applied so far), and the window comes with each entry from the leader too, so expiry
// happens at the same entry on every node, whatever each node's own setting. The table is
// bounded in memory (maxKeys) and mirrored into the state engine through a journal, keyed by a
// sequence (entry index, then order within the entry) so that it reloads in recording order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Result } from './result.js';

export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 60 * 60 * 1000;
export const DEFAULT_IDEMPOTENCY_MAX_KEYS = 100_000;
/** The HTTP API's 256 characters plus the scope the server puts in front (see server/auth.ts). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 300;

export interface IdempotencyOptions {
  /** A key is forgotten once the replicated clock is this far past the entry that recorded it. */
  readonly windowMs?: number;
  /** Bound on keys held; beyond it the oldest key is forgotten early (counted in `evictedEarly`). */
  readonly maxKeys?: number;
}

export interface IdempotencyRecord {
  /** Replicated clock when the key was recorded. */
  readonly at: number;
  /** Index of the entry whose result this is. */
  readonly index: number;
  readonly result: Result<unknown>;
  /** Digest of the command's payload; '' for a record persisted without one. */
  readonly fingerprint: string;
}

/** The fingerprint of a command payload: every node computes it from the same entry bytes. */
export function payloadFingerprint(payload: unknown): string {
  return createHash('sha256').update(JSON.stringify(payload) ?? 'undefined').digest('base64url');
}

/** Where the table's changes go (the apply batch's engine transaction). */
export interface IdempotencyJournal {
  recorded(seq: Uint8Array, key: string, record: IdempotencyRecord): void;
  forgotten(seq: Uint8Array): void;
}

/** A persisted row, as the journal stored it. */
export interface IdempotencyRow {
  readonly seq: Uint8Array;
  readonly key: string;
  readonly record: IdempotencyRecord;
}

interface Recorded {
  readonly key: string;
  readonly seq: Uint8Array;
}

const FORGOTTEN: Recorded = { key: '', seq: new Uint8Array(0) };
const NO_JOURNAL: IdempotencyJournal = { recorded() {}, forgotten() {} };

/** The engine key of the `within`-th key recorded by entry `index`: rows sort in recording order. */
export function sequence(index: number, within: number): Uint8Array {
  const seq = Buffer.alloc(12);
  seq.writeBigUInt64BE(BigInt(index), 0);
  seq.writeUInt32BE(within, 8);
  return seq;
}

export class IdempotencyTable {
  readonly windowMs: number;
  readonly maxKeys: number;
  private readonly records = new Map<string, IdempotencyRecord>();
  /**
   * Keys in the order they were recorded (= clock order, the clock never goes back), consumed
   * from `head`. A plain queue, because iterating a Map from its front after many deletions costs
   * time proportional to the deleted slots.
   */
  private order: Recorded[] = [];
  private head = 0;
  private clockMs = 0;
  private evicted = 0;
  /** Sequence of the last key recorded: its entry's index and its rank within that entry. */
  private lastIndex = 0;
  private within = 0;
  journal: IdempotencyJournal = NO_JOURNAL;

  constructor(options: IdempotencyOptions = {}) {
    this.windowMs = options.windowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
    this.maxKeys = options.maxKeys ?? DEFAULT_IDEMPOTENCY_MAX_KEYS;
    assert.ok(this.windowMs > 0, 'idempotency windowMs must be positive');
    assert.ok(Number.isSafeInteger(this.maxKeys) && this.maxKeys > 0, 'idempotency maxKeys must be a positive integer');
  }

  get clock(): number {
    return this.clockMs;
  }

  get size(): number {
    return this.records.size;
  }

  /** Keys forgotten before their window ended because the table was full (not replicated). */
  get evictedEarly(): number {
    return this.evicted;
  }

  /**
   * Moves the replicated clock to an entry's timestamp and forgets keys older than the window the
   * entry carries (the leader's setting; this table's own for entries stamped before windows were).
   */
  advance(entryTs: number, entryWindowMs: number = this.windowMs): void {
    if (entryTs > this.clockMs) this.clockMs = entryTs;
    const horizon = this.clockMs - entryWindowMs;
    while (this.head < this.order.length) {
      const key = (this.order[this.head] as Recorded).key;
      if ((this.records.get(key) as IdempotencyRecord).at > horizon) break;
      this.forgetOldest();
    }
  }

  lookup(key: string): IdempotencyRecord | undefined {
    return this.records.get(key);
  }

  record(key: string, index: number, result: Result<unknown>, fingerprint: string): void {
    assert.ok(!this.records.has(key), 'idempotency key recorded twice');
    if (this.records.size >= this.maxKeys) {
      this.forgetOldest();
      this.evicted++;
    }
    this.within = index === this.lastIndex ? this.within + 1 : 0;
    this.lastIndex = index;
    const record = { at: this.clockMs, index, result, fingerprint };
    const seq = sequence(index, this.within);
    this.records.set(key, record);
    this.order.push({ key, seq });
    this.journal.recorded(seq, key, record);
  }

  private forgetOldest(): void {
    const { key, seq } = this.order[this.head] as Recorded;
    this.order[this.head] = FORGOTTEN;
    this.head++;
    this.records.delete(key);
    this.journal.forgotten(seq);
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    assert.equal(this.order.length - this.head, this.records.size, 'idempotency queue and table disagree');
  }

  /** Replaces the table with persisted rows (in sequence order) and the persisted clock. */
  load(clock: number, rows: Iterable<IdempotencyRow>): void {
    assert.ok(Number.isFinite(clock), 'idempotency clock is malformed');
    this.records.clear();
    this.order = [];
    this.head = 0;
    this.clockMs = clock;
    this.lastIndex = 0;
    this.within = 0;
    for (const { seq, key, record } of rows) {
      assert.ok(!this.records.has(key), 'idempotency rows repeat a key');
      this.records.set(key, record);
      this.order.push({ key, seq });
      const bytes = Buffer.from(seq.buffer, seq.byteOffset, seq.byteLength);
      this.lastIndex = Number(bytes.readBigUInt64BE(0));
      this.within = bytes.readUInt32BE(8);
    }
    assert.ok(this.records.size <= this.maxKeys, 'idempotency rows exceed maxKeys');
  }
}
