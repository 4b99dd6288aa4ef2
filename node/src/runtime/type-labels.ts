// The `type` label values of the command, query and event metrics: a bounded set, so that no
// client input can create Prometheus series. A command or query type is its own label only when a
// loaded module handles it; an event type only when a module handles it or a command handler
// raised it (the first MAX_RAISED_EVENT_LABELS such types). Everything else is `other`.
import assert from 'node:assert';

/** The label of every type outside the bounded set. */
export const OTHER_TYPE_LABEL = 'other';
/** Most distinct event types raised by command handlers that get a label of their own. */
export const MAX_RAISED_EVENT_LABELS = 256;

export interface KnownTypes {
  readonly commands: Iterable<string>;
  readonly queries: Iterable<string>;
  /** Event types some module handles (not `*`). */
  readonly handledEvents: Iterable<string>;
}

export class TypeLabels {
  private commands = new Set<string>();
  private queries = new Set<string>();
  private events = new Set<string>();
  private raisedEvents = 0;

  /** The handlers of this node, once they are loaded (until then every type is `other`). */
  know(types: KnownTypes): void {
    this.commands = new Set(types.commands);
    this.queries = new Set(types.queries);
    this.events = new Set(types.handledEvents);
    this.events.delete('*');
    this.raisedEvents = 0;
  }

  command(type: string): string {
    return this.commands.has(type) ? type : OTHER_TYPE_LABEL;
  }

  query(type: string): string {
    return this.queries.has(type) ? type : OTHER_TYPE_LABEL;
  }

  /** `raisedByCommand`: the event came from a command handler (code), not from a client's publish. */
  event(type: string, raisedByCommand: boolean): string {
    if (this.events.has(type)) return type;
    if (!raisedByCommand || this.raisedEvents >= MAX_RAISED_EVENT_LABELS) return OTHER_TYPE_LABEL;
    this.events.add(type);
    this.raisedEvents++;
    assert(this.raisedEvents <= MAX_RAISED_EVENT_LABELS);
    return type;
  }
}
