// The replicated idempotency table: key → first result of the command that carried it, with a
// fingerprint of that command's payload (a key reused with another payload is refused, not
// answered). Keys are scoped by the caller (mediator: command type; server: token). Time is the
// entries' own timestamps, stamped by the leader (a monotonic "replicated clock" = the largest
// entry ts applied so far), and the window comes with each entry from the leader too, so expiry
// happens at the same entry on every node, whatever each node's own setting, and survives snapshots.
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
  /** Digest of the command's payload; '' for a record restored from a snapshot without one. */
  readonly fingerprint: string;
}

type SnapshotRow = [key: string, at: number, index: number, result: Result<unknown>, fingerprint?: string];

/** The fingerprint of a command payload: every node computes it from the same entry bytes. */
export function payloadFingerprint(payload: unknown): string {
  return createHash('sha256').update(JSON.stringify(payload) ?? 'undefined').digest('base64url');
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
  private order: string[] = [];
  private head = 0;
  private clockMs = 0;
  private evicted = 0;

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
      const key = this.order[this.head] as string;
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
    this.records.set(key, { at: this.clockMs, index, result, fingerprint });
    this.order.push(key);
  }

  private forgetOldest(): void {
    const key = this.order[this.head] as string;
    this.order[this.head] = '';
    this.head++;
    this.records.delete(key);
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    assert.equal(this.order.length - this.head, this.records.size, 'idempotency queue and table disagree');
  }

  snapshot(): { clock: number; keys: SnapshotRow[] } {
    const keys: SnapshotRow[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const key = this.order[i] as string;
      const record = this.records.get(key) as IdempotencyRecord;
      keys.push([key, record.at, record.index, record.result, record.fingerprint]);
    }
    return { clock: this.clockMs, keys };
  }

  restore(image: unknown): void {
    const { clock, keys } = (image ?? {}) as { clock?: unknown; keys?: unknown };
    assert.ok(typeof clock === 'number' && Array.isArray(keys), 'idempotency snapshot is malformed');
    this.records.clear();
    this.order = [];
    this.head = 0;
    this.clockMs = clock;
    for (const row of keys as SnapshotRow[]) {
      assert.ok(Array.isArray(row) && typeof row[0] === 'string' && typeof row[1] === 'number' && typeof row[2] === 'number', 'idempotency snapshot row is malformed');
      assert.ok(!this.records.has(row[0]), 'idempotency snapshot repeats a key');
      this.records.set(row[0], { at: row[1], index: row[2], result: row[3], fingerprint: row[4] ?? '' });
      this.order.push(row[0]);
    }
  }
}
