// A work queue of reconcile keys: a key waits at most once (de-duplicated), is never handed to
// two workers at once (a key re-added while in progress runs again after it is done), and a key
// that failed is retried after an exponential back-off that resets on success.
import assert from 'node:assert/strict';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  /** First retry delay after a failure. */
  readonly baseDelayMs: number;
  /** Upper bound of the retry delay. */
  readonly maxDelayMs: number;
  /** Upper bound of distinct keys waiting or delayed; beyond it add() throws QUEUE_FULL. */
  readonly maxKeys: number;
  readonly timers?: Timers;
}

export const DEFAULT_WORK_QUEUE_OPTIONS: WorkQueueOptions = { baseDelayMs: 200, maxDelayMs: 60_000, maxKeys: 10_000 };

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, unknown>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | null) => void)[] = [];
  private readonly timers: Timers;
  private closed = false;

  constructor(private readonly options: WorkQueueOptions = DEFAULT_WORK_QUEUE_OPTIONS) {
    assert.ok(options.baseDelayMs > 0 && options.maxDelayMs >= options.baseDelayMs && options.maxKeys > 0);
    this.timers = options.timers ?? realTimers;
  }

  /** Keys waiting to be handed out (not counting delayed or in-progress ones). */
  get depth(): number {
    return this.ready.length;
  }

  /** Makes key ready now (cancelling a pending delayed add). */
  add(key: string): void {
    if (this.closed) return;
    const timer = this.delayed.get(key);
    if (timer !== undefined) {
      this.timers.clearTimeout(timer);
      this.delayed.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    if (this.queued.size + this.delayed.size >= this.options.maxKeys) {
      throw Object.assign(new Error(`work queue holds ${this.options.maxKeys} keys`), { code: 'QUEUE_FULL' });
    }
    this.queued.add(key);
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.queued.delete(key);
      this.active.add(key);
      waiter(key);
    } else {
      this.ready.push(key);
    }
  }

  /** Makes key ready after ms, unless it is added sooner. A later addAfter keeps the earlier deadline. */
  addAfter(key: string, ms: number): void {
    if (this.closed || this.queued.has(key) || this.delayed.has(key)) return;
    const timer = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, timer);
  }

  /** Next ready key, waiting for one; null once the queue is shut down. The caller must call done(). */
  next(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const key = this.ready.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.active.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the processing of key; a failure schedules a retry with back-off, success resets it. */
  done(key: string, outcome: 'ok' | 'failed'): void {
    assert.ok(this.active.delete(key), `done(${key}) for a key not in progress`);
    if (outcome === 'ok') this.failures.delete(key);
    const wasDirty = this.dirty.delete(key);
    if (outcome === 'failed') {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      if (!wasDirty) {
        this.addAfter(key, this.backoffMs(failures));
        return;
      }
    }
    if (wasDirty) this.add(key);
  }

  /** Delay before retry number `failures` (1-based): base * 2^(failures-1), capped. */
  backoffMs(failures: number): number {
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Drops every pending key and timer and releases waiting workers with null. */
  shutdown(): void {
    this.closed = true;
    for (const timer of this.delayed.values()) this.timers.clearTimeout(timer);
    this.delayed.clear();
    this.ready.length = 0;
    this.queued.clear();
    for (const waiter of this.waiters.splice(0)) waiter(null);
  }
}
