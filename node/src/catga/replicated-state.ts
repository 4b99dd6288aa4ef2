// The replicated state as the mediator holds it in a state engine: which engine transaction reads
// and writes go through, and the small replicated counters kept next to the data (applied index,
// keys per module, bytes of module state for the quota, the idempotency clock). An apply batch is
// one engine transaction that also records the applied index, so the engine always holds the state
// of exactly one applied index (etcd's consistent index).
import assert from 'node:assert/strict';
import { decodeIndex, encodeIndex, type ReadView, type StateEngine, type WriteTx } from '../state/engine.js';

const APPLIED = Buffer.from('applied');
const BYTES = Buffer.from('bytes');
const CLOCK = Buffer.from('clock');
const COUNT_PREFIX = 'count\0';

export class ReplicatedState {
  private tx: WriteTx | null = null;
  private applied = 0;
  private bytes = 0;
  private clock = 0;
  private readonly counts = new Map<string, number>();
  /** Counters changed in the open batch: written once at its end, not once per command. */
  private readonly dirtyCounts = new Set<string>();
  private dirtyTotals = false;

  constructor(readonly engine: StateEngine) {
    this.reload();
  }

  /** Re-reads the counters from the engine (at open, and after a snapshot was swapped in). */
  reload(): void {
    assert.ok(this.tx === null, 'reload inside an apply batch');
    this.applied = decodeIndex(this.engine.get('meta', APPLIED));
    this.bytes = decodeIndex(this.engine.get('meta', BYTES));
    this.clock = decodeIndex(this.engine.get('meta', CLOCK));
    this.counts.clear();
    for (const { key, value } of this.engine.range('meta', { prefix: Buffer.from(COUNT_PREFIX), limit: Number.MAX_SAFE_INTEGER })) {
      this.counts.set(Buffer.from(key).toString('utf8').slice(COUNT_PREFIX.length), decodeIndex(value));
    }
  }

  /** Reads go through the batch's transaction while one runs (they see its writes). */
  get reader(): ReadView {
    return this.tx ?? this.engine;
  }

  /** The open batch's transaction; only writes inside `batch` are allowed. */
  get writer(): WriteTx {
    assert.ok(this.tx !== null, 'state written outside an apply batch');
    return this.tx;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** Bytes of module state (keys and values), what the quota counts. */
  get stateBytes(): number {
    return this.bytes;
  }

  get idempotencyClock(): number {
    return this.clock;
  }

  count(module: string): number {
    return this.counts.get(module) ?? 0;
  }

  /**
   * Runs `fn` as one engine transaction ending at `lastIndex`: everything it writes and the new
   * applied index commit together, or (if it throws) nothing does and the counters are restored.
   */
  batch<T>(lastIndex: number, fn: () => T): T {
    assert.ok(this.tx === null, 'apply batches do not nest');
    assert.ok(lastIndex >= this.applied, `apply batch ends at ${lastIndex}, before applied ${this.applied}`);
    const before = { applied: this.applied, bytes: this.bytes, clock: this.clock, counts: new Map(this.counts) };
    try {
      return this.engine.write((tx) => {
        this.tx = tx;
        const result = fn();
        this.applied = lastIndex;
        tx.put('meta', APPLIED, encodeIndex(lastIndex));
        for (const module of this.dirtyCounts) tx.put('meta', Buffer.from(COUNT_PREFIX + module, 'utf8'), encodeIndex(this.count(module)));
        if (this.dirtyTotals) {
          tx.put('meta', BYTES, encodeIndex(this.bytes));
          tx.put('meta', CLOCK, encodeIndex(this.clock));
        }
        return result;
      });
    } catch (error) {
      this.applied = before.applied;
      this.bytes = before.bytes;
      this.clock = before.clock;
      this.counts.clear();
      for (const [k, v] of before.counts) this.counts.set(k, v);
      throw error;
    } finally {
      this.tx = null;
      this.dirtyCounts.clear();
      this.dirtyTotals = false;
    }
  }

  /** Records a committed command's effect on the counters. */
  account(module: string, countDelta: number, bytesDelta: number): void {
    assert.ok(this.tx !== null, 'state written outside an apply batch');
    if (countDelta !== 0) {
      const count = this.count(module) + countDelta;
      assert.ok(count >= 0, `module ${module} would hold a negative number of keys`);
      this.counts.set(module, count);
      this.dirtyCounts.add(module);
    }
    if (bytesDelta !== 0) {
      this.bytes += bytesDelta;
      assert.ok(this.bytes >= 0, 'module state would hold negative bytes');
      this.dirtyTotals = true;
    }
  }

  setIdempotencyClock(clock: number): void {
    assert.ok(this.tx !== null, 'state written outside an apply batch');
    if (clock === this.clock) return;
    this.clock = clock;
    this.dirtyTotals = true;
  }
}
