// What a reactor does next, decided without I/O: which committed events it still owes (from its
// replicated checkpoint and the events this node holds), and whether to run the first of them, wait
// for a retry, give up on it (a dead letter) or do nothing (not leading, nothing pending). The
// runner (runtime/reactor-runner.ts) does the I/O around these functions.
import assert from 'node:assert/strict';
import type { CatgaEvent, WireEvent } from './events.js';

/** An event's identity: the entry that raised it and its place among that entry's events. */
export interface EventId {
  readonly index: number;
  readonly position: number;
}

export function compareEventIds(a: EventId, b: EventId): number {
  return a.index !== b.index ? a.index - b.index : a.position - b.position;
}

export function formatEventId(id: EventId): string {
  return `${id.index}.${id.position}`;
}

export interface PendingEvent {
  readonly id: EventId;
  readonly event: CatgaEvent;
}

/**
 * The events after `checkpoint` whose type is in `types` (null: every type), oldest first, from
 * `wires`: the held events with index >= checkpoint.index, in log order, unfiltered (positions are
 * counted over every event of an entry, so they are the same whatever a reactor handles).
 */
export function pendingEvents(checkpoint: EventId, wires: readonly WireEvent[], types: ReadonlySet<string> | null): PendingEvent[] {
  const out: PendingEvent[] = [];
  let index = -1;
  let position = 0;
  for (const wire of wires) {
    assert.ok(wire.index >= index, 'pendingEvents: events out of log order');
    position = wire.index === index ? position + 1 : 0;
    index = wire.index;
    const id = { index, position };
    if (compareEventIds(id, checkpoint) <= 0 || (types !== null && !types.has(wire.type))) continue;
    const { type, data, ts } = JSON.parse(wire.bytes.toString('utf8')) as CatgaEvent;
    out.push({ id, event: { index, type, data, ts, wire } });
  }
  return out;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  /** Pause after the first failure; doubled after each later one, up to MAX_BACKOFF_MS. */
  readonly backoffMs: number;
}

export const MAX_BACKOFF_MS = 60_000;

/** The pause after `failures` failed tries (1 or more) of one event. */
export function retryDelay(policy: RetryPolicy, failures: number): number {
  assert.ok(failures >= 1, 'retryDelay: no failure yet');
  return Math.min(MAX_BACKOFF_MS, policy.backoffMs * 2 ** Math.min(failures - 1, 30));
}

/** The failed tries of the event in hand, on this leader. */
export interface Failures {
  readonly id: EventId;
  readonly count: number;
  readonly lastAt: number;
  readonly error: string;
}

export type Decision =
  | { readonly kind: 'idle' }
  | { readonly kind: 'run'; readonly next: PendingEvent; readonly attempt: number }
  | { readonly kind: 'wait'; readonly until: number }
  | { readonly kind: 'deadLetter'; readonly next: PendingEvent; readonly attempts: number; readonly error: string };

export function decide(input: { readonly leading: boolean; readonly next: PendingEvent | null; readonly failures: Failures | null; readonly now: number; readonly policy: RetryPolicy }): Decision {
  const { leading, next, failures, now, policy } = input;
  if (!leading || next === null) return { kind: 'idle' };
  // Failures of another event are stale (it was finished, maybe by another leader).
  if (failures === null || compareEventIds(failures.id, next.id) !== 0) return { kind: 'run', next, attempt: 1 };
  if (failures.count >= policy.maxAttempts) return { kind: 'deadLetter', next, attempts: failures.count, error: failures.error };
  const until = failures.lastAt + retryDelay(policy, failures.count);
  return until > now ? { kind: 'wait', until } : { kind: 'run', next, attempt: failures.count + 1 };
}
