// Delivers applied events to the event handlers registered with `on` (a module's `events`), on
// this node. A handler's failure (throw or rejected promise) is logged and counted and never
// reaches apply. Asynchronous handlers in flight are bounded; beyond the bound a delivery is
// skipped and counted as `dropped`.
import assert from 'node:assert/strict';
import type { Logger } from './api.js';
import type { CatgaEvent } from './events.js';
import type { MediatorObserver } from './observer.js';
import type { BoundEventHandler, Registry } from './registry.js';

export const DEFAULT_MAX_EVENT_HANDLERS_IN_FLIGHT = 10_000;

const NONE: readonly BoundEventHandler[] = [];

export class EventDispatcher {
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly logger: Logger,
    private readonly observer: MediatorObserver,
    private readonly maxInFlight: number = DEFAULT_MAX_EVENT_HANDLERS_IN_FLIGHT,
  ) {
    assert.ok(maxInFlight > 0, 'maxInFlight must be positive');
  }

  get pending(): number {
    return this.inFlight;
  }

  dispatch(events: readonly CatgaEvent[]): void {
    if (this.registry.eventHandlers.size === 0) return;
    const wildcard = this.registry.eventHandlers.get('*') ?? NONE;
    for (const event of events) {
      for (const bound of this.registry.eventHandlers.get(event.type) ?? NONE) this.deliver(bound, event);
      for (const bound of wildcard) this.deliver(bound, event);
    }
  }

  /** Resolves once no asynchronous handler is running (shutdown, tests). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private deliver(bound: BoundEventHandler, event: CatgaEvent): void {
    if (this.inFlight >= this.maxInFlight) {
      this.logger.warn('event handler skipped: too many handlers in flight', { module: bound.module, type: event.type, index: event.index, limit: this.maxInFlight });
      this.observer.eventHandled?.(event.type, 'dropped');
      return;
    }
    let outcome: unknown;
    try {
      outcome = bound.handler(event, bound.ctx);
    } catch (error) {
      this.failed(bound, event, error);
      return;
    }
    if (outcome !== null && typeof outcome === 'object' && typeof (outcome as Promise<void>).then === 'function') {
      this.inFlight++;
      (outcome as Promise<void>).then(
        () => this.settled(bound, event, false, undefined),
        (error: unknown) => this.settled(bound, event, true, error),
      );
      return;
    }
    this.observer.eventHandled?.(event.type, 'ok');
  }

  private settled(bound: BoundEventHandler, event: CatgaEvent, rejected: boolean, error: unknown): void {
    this.inFlight--;
    if (rejected) this.failed(bound, event, error);
    else this.observer.eventHandled?.(event.type, 'ok');
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private failed(bound: BoundEventHandler, event: CatgaEvent, error: unknown): void {
    this.logger.warn('event handler failed', { module: bound.module, type: event.type, index: event.index, error: String((error as Error)?.stack ?? error) });
    this.observer.eventHandled?.(event.type, 'error');
  }
}
