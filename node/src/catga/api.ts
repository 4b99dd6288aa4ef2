// The handler author's API: what a module declares (commands, queries, event handlers), the
// contexts handlers receive, pipeline behaviours, and `defineModule`, which checks a definition
// once at load time. `catgaApi` is the object handed to user modules that default-export a
// function, so a module needs no import of its own (see loader.ts).
import type { CatgaEvent } from './events.js';
import { fail, ok, type Failure, type Result } from './result.js';
import { checkSchema, t, type Infer, type JsonValue, type Schema } from './schema.js';
import type { ReadStore, Store } from './store.js';

/** Command, query and event type names: `kv.put`, `orders.created`, `counter:add-v2`. */
export const TYPE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
export const MODULE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** Bound on the events one command may emit. */
export const MAX_EVENTS_PER_COMMAND = 100;

/** How fresh a query's view is: this node's applied state, the leader's, or linearizable (ReadIndex). */
export type Consistency = 'local' | 'leader' | 'linearizable';
export const CONSISTENCIES: readonly Consistency[] = ['local', 'leader', 'linearizable'];

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What a command handler sees. Everything here is replicated: the same entry gives the same
 * context on every node. There is no wall clock: use `ts`.
 */
export interface CommandContext {
  /** Raft index of the entry carrying the command. */
  readonly index: number;
  readonly term: number;
  /** The entry's timestamp (ms since the epoch), set once by the proposing leader. */
  readonly ts: number;
  /** Position of the command within its entry's batch (0 for a single command). */
  readonly position: number;
  readonly type: string;
  /** This module's state. Writes take effect only if the handler returns `ok`. */
  readonly store: Store;
  /** Raises an event, delivered after the entry is applied (dropped if the command fails). */
  emit(type: string, data: JsonValue): void;
}

export interface QueryContext {
  /** This module's applied state on this node. */
  readonly store: ReadStore;
  readonly appliedIndex: number;
  /** Aborted when the query's timeout fires. */
  readonly signal: AbortSignal;
}

export interface EventContext {
  readonly module: string;
  readonly log: Logger;
}

export interface CommandDefinition<S extends Schema = Schema, R = unknown> {
  readonly schema: S;
  /** Synchronous and deterministic: no I/O, no clock, no randomness, no state outside `ctx.store`. */
  handle(ctx: CommandContext, payload: Infer<S>): Result<R>;
}

export interface QueryDefinition<S extends Schema = Schema, R = unknown> {
  readonly schema: S;
  /** Used when a request names no consistency (default `local`). */
  readonly consistency?: Consistency;
  handle(ctx: QueryContext, payload: Infer<S>): Result<R> | Promise<Result<R>>;
}

/**
 * Runs on every node after the entry that raised the event is applied, including when the log is
 * replayed after a restart: delivery is at least once, so make handlers idempotent (the event's
 * `index` is a natural key). A handler cannot change replicated state; its failures are logged
 * and counted and never affect apply.
 */
export type EventHandler = (event: CatgaEvent, ctx: EventContext) => void | Promise<void>;

export interface ModuleDefinition {
  /** Namespace of the module's state; unique among loaded modules. */
  readonly name: string;
  // Each entry is typed by `command()`/`query()` (method parameters are bivariant, so any schema fits).
  readonly commands?: Readonly<Record<string, CommandDefinition<Schema, unknown>>>;
  readonly queries?: Readonly<Record<string, QueryDefinition<Schema, unknown>>>;
  /** Event type (or `*` for every event) → handler(s). */
  readonly events?: Readonly<Record<string, EventHandler | readonly EventHandler[]>>;
}

export interface CommandCall {
  readonly type: string;
  readonly payload: unknown;
  readonly ctx: CommandContext;
}

export interface QueryCall {
  readonly type: string;
  readonly payload: unknown;
}

/**
 * A pipeline behaviour wraps every command and/or query handler call. Command behaviours run
 * inside apply on every node: they must be synchronous and deterministic in what they return
 * (logging and counting are fine). A behaviour that throws fails the command with HANDLER_ERROR.
 */
export interface Behavior {
  readonly name: string;
  command?(call: CommandCall, next: () => Result<unknown>): Result<unknown>;
  query?(call: QueryCall, next: () => Promise<Result<unknown>>): Promise<Result<unknown>>;
}

export class DefinitionError extends Error {
  readonly code = 'INVALID_MODULE';
}

/** Types a command definition's payload from its schema (identity at run time). */
export function command<const S extends Schema, R>(definition: { schema: S; handle(ctx: CommandContext, payload: Infer<S>): Result<R> }): CommandDefinition<S, R> {
  return definition;
}

/** Types a query definition's payload from its schema (identity at run time). */
export function query<const S extends Schema, R>(definition: {
  schema: S;
  consistency?: Consistency;
  handle(ctx: QueryContext, payload: Infer<S>): Result<R> | Promise<Result<R>>;
}): QueryDefinition<S, R> {
  return definition;
}

function checkHandlers(kind: string, handlers: unknown, where: string): void {
  if (handlers === undefined) return;
  if (handlers === null || typeof handlers !== 'object') throw new DefinitionError(`${where}: ${kind} must be an object`);
  for (const [type, definition] of Object.entries(handlers)) {
    if (!TYPE_NAME_PATTERN.test(type)) throw new DefinitionError(`${where}: ${kind} type ${JSON.stringify(type)} does not match ${TYPE_NAME_PATTERN}`);
    const { schema, handle, consistency } = (definition ?? {}) as { schema?: Schema; handle?: unknown; consistency?: unknown };
    if (typeof handle !== 'function') throw new DefinitionError(`${where}: ${kind} ${type} has no handle function`);
    if (consistency !== undefined && (kind !== 'queries' || !(CONSISTENCIES as readonly unknown[]).includes(consistency))) {
      throw new DefinitionError(`${where}: ${kind} ${type}: consistency is declared by queries only, as one of ${CONSISTENCIES.join(', ')}`);
    }
    if (schema === undefined) throw new DefinitionError(`${where}: ${kind} ${type} has no schema`);
    try {
      checkSchema(schema, `${type}.payload`);
    } catch (error) {
      throw new DefinitionError(`${where}: ${(error as Error).message}`);
    }
  }
}

/** Checks a module definition (names, schemas, handler functions) and freezes it. Throws DefinitionError. */
export function defineModule<const M extends ModuleDefinition>(definition: M): M {
  if (definition === null || typeof definition !== 'object') throw new DefinitionError('a module definition must be an object');
  const where = `module ${JSON.stringify(definition.name)}`;
  if (typeof definition.name !== 'string' || !MODULE_NAME_PATTERN.test(definition.name)) {
    throw new DefinitionError(`${where}: name must match ${MODULE_NAME_PATTERN}`);
  }
  checkHandlers('commands', definition.commands, where);
  checkHandlers('queries', definition.queries, where);
  if (definition.events !== undefined) {
    for (const [type, handlers] of Object.entries(definition.events)) {
      if (type !== '*' && !TYPE_NAME_PATTERN.test(type)) throw new DefinitionError(`${where}: event type ${JSON.stringify(type)} does not match ${TYPE_NAME_PATTERN}`);
      const list: readonly unknown[] = Array.isArray(handlers) ? handlers : [handlers];
      if (list.some((handler) => typeof handler !== 'function')) throw new DefinitionError(`${where}: event handler for ${type} is not a function`);
    }
  }
  return Object.freeze(definition);
}

/** Everything a user module needs at run time, passed to a module that default-exports a function. */
export const catgaApi = Object.freeze({ defineModule, command, query, t, ok, fail });
export type CatgaApi = typeof catgaApi;

export type { Failure, Result };
