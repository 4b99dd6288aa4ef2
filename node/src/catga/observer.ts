// Metrics hooks: the mediator reports what happened and how long it took; the runtime turns these
// calls into prom-client metrics (it owns the registry). Every hook is optional and must be cheap.

/** `duplicate`: an idempotency key matched, the first result was returned without applying. */
export type CommandOutcome = 'ok' | 'failed' | 'error' | 'duplicate';
export type QueryOutcome = 'ok' | 'failed' | 'error' | 'timeout';
export type EventHandlerOutcome = 'ok' | 'error' | 'dropped';

export interface MediatorObserver {
  /** One command applied on this node (in apply; every node reports its own). */
  commandApplied?(type: string, outcome: CommandOutcome, seconds: number): void;
  /** One query served by `Mediator.query`. */
  queryServed?(type: string, outcome: QueryOutcome, seconds: number): void;
  /** One event handler delivery finished (asynchronous handlers report when they settle). */
  eventHandled?(type: string, outcome: EventHandlerOutcome): void;
}
