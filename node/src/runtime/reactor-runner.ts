// Runs the loaded modules' reactors on the leader: the I/O around the pure schedule of
// catga/reactor-schedule.ts. While this node leads (and has applied everything committed before its
// term), one loop per reactor reads the replicated checkpoint, takes the next pending event from the
// event ring, runs the handler (bounded in time, aborted when leadership goes), retries it with
// back-off, and records progress through the log (`catga.reactor.done`, with a dead letter after the
// last try). Losing leadership stops every loop; the next leader resumes from the checkpoints.
import { formatEventId, pendingEvents, decide, type EventId, type Failures, type PendingEvent } from '../catga/reactor-schedule.js';
import { MAX_DEAD_LETTER_ERROR_LENGTH, readCheckpoint, REACTOR_DONE_COMMAND } from '../catga/reactor-progress.js';
import type { BoundReactor } from '../catga/registry.js';
import type { EventLog } from '../catga/events.js';
import type { ReactorContext, Logger as HandlerLogger } from '../catga/api.js';
import type { ReadStore } from '../catga/store.js';
import type { Result } from '../catga/result.js';

export const DEFAULT_REACTOR_MAX_ATTEMPTS = 5;
export const DEFAULT_REACTOR_TIMEOUT_MS = 30_000;
export const DEFAULT_REACTOR_BACKOFF_MS = 100;
/** Most events read from the ring per look (whole entries are never split). */
const EVENTS_PER_LOOK = 1_000;
/** Most commands one handling may send. */
export const MAX_SENDS_PER_EVENT = 1_000;
/** How long recording progress may take before the loop looks again. */
const RECORD_TIMEOUT_MS = 10_000;

export type ReactorOutcome = 'ok' | 'error' | 'timeout' | 'dead_letter';

export interface ReactorMetricsSink {
  handled(reactor: string, outcome: ReactorOutcome, seconds: number): void;
  running(count: number): void;
}

/** What the runner needs of the node. */
export interface ReactorHost {
  /** This node leads in `term` (null: it does not lead). */
  leadingTerm(): number | null;
  /** Calls `listener` whenever role or term may have changed; returns the unsubscribe. */
  onLeadershipChange(listener: () => void): () => void;
  /** Resolves once every entry committed before this leader's term is applied here. */
  caughtUp(): Promise<void>;
  /** Sends a command as a client would (routed to the leader, retried on failover). */
  send(type: string, payload: unknown, idempotencyKey: string, deadline: number): Promise<Result<unknown>>;
  /** Proposes one of the node's own commands. */
  sendOwn(type: string, payload: unknown, deadline: number): Promise<Result<unknown>>;
  /** The version of a module active in this node's applied state. */
  activeVersion(module: string): number;
}

export interface ReactorRunnerOptions {
  readonly reactors: readonly BoundReactor[];
  readonly events: EventLog;
  /** The applied state of the `catga-reactors` module, where checkpoints live. */
  readonly progress: ReadStore;
  readonly host: ReactorHost;
  readonly log: HandlerLogger;
  readonly metrics: ReactorMetricsSink;
  readonly now?: () => number;
}

class Stopped extends Error {}

/** Resolves on the next call to `wake()` or when `signal` aborts. */
class Wakeup {
  private waiters: (() => void)[] = [];
  wait(signal: AbortSignal, untilMs: number | null = null): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', done);
      if (untilMs !== null) timer = setTimeout(done, Math.max(0, untilMs - Date.now()));
      this.waiters.push(done);
    });
  }

  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export class ReactorRunner {
  private readonly o: ReactorRunnerOptions;
  private readonly now: () => number;
  private readonly wakeup = new Wakeup();
  /** The term the loops run for, and what stops them. */
  private session: { readonly term: number; readonly controller: AbortController; readonly done: Promise<void> } | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(o: ReactorRunnerOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (this.o.reactors.length === 0) return;
    this.unsubscribe.push(this.o.events.subscribe(() => this.wakeup.wake()));
    this.unsubscribe.push(this.o.host.onLeadershipChange(() => this.follow()));
    this.follow();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.stopSession();
  }

  /** Starts the loops when this node became leader, stops them when it no longer is. */
  private follow(): void {
    const term = this.closed ? null : this.o.host.leadingTerm();
    if (this.session !== null && this.session.term === term) return;
    void this.stopSession().then(() => {
      const now = this.closed ? null : this.o.host.leadingTerm();
      if (now === null || this.session !== null) return;
      const controller = new AbortController();
      const done = this.runSession(now, controller.signal);
      this.session = { term: now, controller, done };
    });
  }

  private async stopSession(): Promise<void> {
    const s = this.session;
    if (s === null) return;
    s.controller.abort();
    await s.done;
    if (this.session === s) this.session = null;
  }

  private async runSession(term: number, signal: AbortSignal): Promise<void> {
    try {
      await this.o.host.caughtUp();
    } catch {
      // Not leading any more (the next change starts a new session) or shut down.
      return;
    }
    if (signal.aborted || this.o.host.leadingTerm() !== term) return;
    this.o.log.info('reactors_started', { term, reactors: this.o.reactors.map((r) => r.name) });
    this.o.metrics.running(this.o.reactors.length);
    await Promise.all(this.o.reactors.map((r) => this.loop(r, term, signal)));
    this.o.metrics.running(0);
    this.o.log.info('reactors_stopped', { term });
  }

  private leading(term: number, signal: AbortSignal): boolean {
    return !signal.aborted && this.o.host.leadingTerm() === term;
  }

  private async loop(reactor: BoundReactor, term: number, signal: AbortSignal): Promise<void> {
    const policy = {
      maxAttempts: reactor.definition.maxAttempts ?? DEFAULT_REACTOR_MAX_ATTEMPTS,
      backoffMs: reactor.definition.backoffMs ?? DEFAULT_REACTOR_BACKOFF_MS,
    };
    let failures: Failures | null = null;
    while (this.leading(term, signal)) {
      const checkpoint = readCheckpoint(this.o.progress, reactor.name);
      const next = this.nextEvent(reactor, checkpoint);
      if (next === 'compacted') {
        await this.skipCompacted(reactor, checkpoint);
        continue;
      }
      const decision = decide({ leading: true, next, failures, now: this.now(), policy });
      switch (decision.kind) {
        case 'idle':
          await this.wakeup.wait(signal);
          break;
        case 'wait':
          await this.wakeup.wait(signal, decision.until);
          break;
        case 'deadLetter': {
          const { next: pending, attempts, error } = decision;
          this.o.log.error('reactor_dead_letter', { reactor: reactor.name, event: formatEventId(pending.id), type: pending.event.type, attempts, error });
          const recorded = await this.record(reactor, pending.id, { type: pending.event.type, error: error.slice(0, MAX_DEAD_LETTER_ERROR_LENGTH), attempts });
          if (recorded) this.o.metrics.handled(reactor.name, 'dead_letter', 0);
          break;
        }
        case 'run': {
          const { next: pending, attempt } = decision;
          const failure = await this.handle(reactor, pending, attempt, signal);
          if (failure === null) {
            failures = null;
            await this.record(reactor, pending.id, undefined);
          } else if (this.leading(term, signal)) {
            failures = { id: pending.id, count: attempt, lastAt: this.now(), error: failure };
            this.o.log.warn('reactor_attempt_failed', { reactor: reactor.name, event: formatEventId(pending.id), attempt, error: failure });
          }
          break;
        }
      }
    }
  }

  /** The first event the reactor still owes, null when none, or 'compacted' when the ring no longer holds them. */
  private nextEvent(reactor: BoundReactor, checkpoint: EventId): PendingEvent | null | 'compacted' {
    // The checkpoint's own entry may hold more events after it: read from the entry before it, or,
    // when that is below the ring's floor, from the floor (an entry cut by the floor is gone anyway).
    if (checkpoint.index < this.o.events.floor) return 'compacted';
    let from = Math.max(this.o.events.floor, checkpoint.index - 1);
    for (;;) {
      const page = this.o.events.since(from, null, EVENTS_PER_LOOK);
      if (!page.ok) return 'compacted';
      if (page.value.length === 0) return null;
      const pending = pendingEvents(checkpoint, page.value, reactor.types);
      if (pending.length > 0) return pending[0] as PendingEvent;
      from = page.value[page.value.length - 1]!.index;
    }
  }

  /**
   * The events after the checkpoint are gone from this node's ring (the reactor fell further behind
   * than CATGA_EVENT_RING): they are recorded as one dead letter and the reactor goes on from the
   * oldest event still held.
   */
  private async skipCompacted(reactor: BoundReactor, checkpoint: EventId): Promise<void> {
    const floor = this.o.events.floor;
    const error = `EVENTS_COMPACTED: the events after ${formatEventId(checkpoint)} up to index ${floor} are no longer held`;
    this.o.log.error('reactor_events_skipped', { reactor: reactor.name, after: formatEventId(checkpoint), upTo: floor });
    await this.record(reactor, { index: floor, position: 999_999 }, { type: '*', error, attempts: 1 });
  }

  /** Runs the handler once; null when it succeeded, else why it failed. */
  private async handle(reactor: BoundReactor, pending: PendingEvent, attempt: number, leadership: AbortSignal): Promise<string | null> {
    const timeoutMs = reactor.definition.timeoutMs ?? DEFAULT_REACTOR_TIMEOUT_MS;
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    leadership.addEventListener('abort', abort);
    const deadline = this.now() + timeoutMs;
    const eventId = formatEventId(pending.id);
    const key = `reactor:${reactor.name}:${eventId}`;
    let sends = 0;
    const ctx: ReactorContext = {
      reactor: reactor.name,
      module: reactor.module,
      eventId,
      idempotencyKey: key,
      attempt,
      moduleVersion: this.o.host.activeVersion(reactor.module),
      signal: controller.signal,
      log: this.o.log,
      send: (type, payload) => {
        if (controller.signal.aborted) return Promise.reject(new Stopped('the reaction was stopped (leadership lost, timeout or shutdown)'));
        if (sends >= MAX_SENDS_PER_EVENT) return Promise.reject(new Error(`a reaction sends at most ${MAX_SENDS_PER_EVENT} commands`));
        return this.o.host.send(type, payload, `${key}:${sends++}`, deadline);
      },
    };
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timing = { timedOut: false };
    let failure: string | null = null;
    try {
      await Promise.race([
        Promise.resolve().then(() => reactor.definition.handle(pending.event, ctx)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => { timing.timedOut = true; reject(new Error(`the reaction took longer than ${timeoutMs} ms`)); controller.abort(); }, timeoutMs);
        }),
        new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(new Stopped('the reaction was stopped (leadership lost or shutdown)')));
        }),
      ]);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
      leadership.removeEventListener('abort', abort);
      controller.abort();
    }
    const outcome: ReactorOutcome = failure === null ? 'ok' : timing.timedOut ? 'timeout' : 'error';
    this.o.metrics.handled(reactor.name, outcome, (performance.now() - started) / 1000);
    return failure;
  }

  /** Records the reactor's progress through the log; false when it could not (the loop looks again). */
  private async record(reactor: BoundReactor, id: EventId, deadLetter: { type: string; error: string; attempts: number } | undefined): Promise<boolean> {
    const payload = deadLetter === undefined ? { reactor: reactor.name, ...id } : { reactor: reactor.name, ...id, deadLetter };
    try {
      const r = await this.o.host.sendOwn(REACTOR_DONE_COMMAND, payload, this.now() + RECORD_TIMEOUT_MS);
      if (!r.ok) this.o.log.warn('reactor_progress_not_recorded', { reactor: reactor.name, event: formatEventId(id), code: r.code, message: r.message });
      return r.ok;
    } catch (error) {
      this.o.log.warn('reactor_progress_not_recorded', { reactor: reactor.name, event: formatEventId(id), error: String(error) });
      return false;
    }
  }
}
