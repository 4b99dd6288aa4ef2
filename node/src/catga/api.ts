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
  /**
   * The version of this module in force at this entry: the highest version every voter runs, raised
   * through the log (see module-versions.ts), so every node applies the entry alike. A module at
   * version 2 keeps its version-1 behaviour while `moduleVersion` is 1.
   */
  readonly moduleVersion: number;
  /** This module's state. Writes take effect only if the handler returns `ok`. */
  readonly store: Store;
  /** Raises an event, delivered after the entry is applied (dropped if the command fails). */
  emit(type: string, data: JsonValue): void;
}

export interface QueryContext {
  /** This module's applied state on this node. */
  readonly store: ReadStore;
  readonly appliedIndex: number;
  /** The version of this module active at `appliedIndex` (see `CommandContext.moduleVersion`). */
  readonly moduleVersion: number;
  /** Aborted when the query's timeout fires. */
  readonly signal: AbortSignal;
}

export interface EventContext {
  readonly module: string;
  readonly log: Logger;
}

export interface CommandDefinition<S extends Schema = Schema, R = unknown> {
  readonly schema: S;
  /**
   * The module version that introduced this command (default 1). Until that version is active,
   * every node answers UNKNOWN_COMMAND for it, as a node whose code predates it does.
   */
  readonly since?: number;
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

/**
 * What a reactor sees while it handles one event, on the leader only. `send` routes a follow-up
 * command exactly as an HTTP request would, with the idempotency key
 * `reactor:<name>:<event id>:<n>` (n counts the sends of this handling from 0): a reaction that
 * runs again after a failure or a leader change sends the same keys, so its commands apply once.
 */
export interface ReactorContext {
  readonly reactor: string;
  readonly module: string;
  /** `<index>.<position>`: the entry that raised the event and the event's place among its events. */
  readonly eventId: string;
  /** `reactor:<name>:<event id>`: stable across retries and leaders, for calls to other systems. */
  readonly idempotencyKey: string;
  /** 1 for the first try on this leader. */
  readonly attempt: number;
  /** The version of the reactor's module active on this leader when the try starts (see `CommandContext.moduleVersion`). */
  readonly moduleVersion: number;
  /** Aborted when this node stops leading, shuts down, or the attempt times out. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  send(type: string, payload: unknown): Promise<Result<unknown>>;
}

/**
 * Handles committed events once per cluster: on the leader, in log order, one event at a time.
 * Its progress (the last event finished) is replicated, so a new leader resumes after it. Delivery
 * is at least once (a leader may die after the effect and before the checkpoint): use
 * `ctx.idempotencyKey` with other systems and `ctx.send` for Catga commands. A handling that throws
 * is retried with back-off; after `maxAttempts` it becomes a dead letter and the reactor moves on.
 */
export interface ReactorDefinition {
  /** Event types handled (`*`: every event). */
  readonly events: readonly string[];
  handle(event: CatgaEvent, ctx: ReactorContext): void | Promise<void>;
  /** Tries before a dead letter, 1 to 100 (default 5). */
  readonly maxAttempts?: number;
  /** Bound on one try, in ms: 1 to 600,000 (default 30,000). */
  readonly timeoutMs?: number;
  /** Pause before the second try, doubled for each later one up to 60,000 ms: 1 to 60,000 (default 100). */
  readonly backoffMs?: number;
}

/** Highest module version. */
export const MAX_MODULE_VERSION = 1_000_000;

/** True for a module version: an integer from 1 to MAX_MODULE_VERSION. */
export function isModuleVersion(version: unknown): version is number {
  return Number.isSafeInteger(version) && (version as number) >= 1 && (version as number) <= MAX_MODULE_VERSION;
}

export interface ModuleDefinition {
  /** Namespace of the module's state; unique among loaded modules. */
  readonly name: string;
  /** The version of this code, 1 to MAX_MODULE_VERSION (default 1); see `CommandContext.moduleVersion`. */
  readonly version?: number;
  // Each entry is typed by `command()`/`query()` (method parameters are bivariant, so any schema fits).
  readonly commands?: Readonly<Record<string, CommandDefinition<Schema, unknown>>>;
  readonly queries?: Readonly<Record<string, QueryDefinition<Schema, unknown>>>;
  /** Event type (or `*` for every event) → handler(s). */
  readonly events?: Readonly<Record<string, EventHandler | readonly EventHandler[]>>;
  /** Reactor name (unique among loaded modules) → reactor. */
  readonly reactors?: Readonly<Record<string, ReactorDefinition>>;
  /**
   * Behaviours around this module's commands and queries only, outermost first, inside the
   * node-wide ones (at most MAX_MODULE_BEHAVIORS).
   */
  readonly behaviors?: readonly Behavior[];
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

/** The scopes of the HTTP API's bearer tokens. */
export type CallerScope = 'commands' | 'queries' | 'events' | 'admin';

/** Who sent a command or query, as the node that received it authenticated them. */
export interface Caller {
  /** May the caller do `scope` on `type` (its token's rules)? */
  allows(scope: CallerScope, type: string): boolean;
}

/** The application itself (an embedded node's send and query, the node's own commands): every scope. */
export const APPLICATION_CALLER: Caller = Object.freeze({ allows: () => true });

/** A command or query as the node that received it sees it, before the log or the query runs. */
export interface EdgeCall {
  readonly kind: 'command' | 'query';
  readonly type: string;
  /** Already valid against the type's schema. */
  readonly payload: unknown;
  readonly caller: Caller;
}

/**
 * A pipeline behaviour wraps every command and/or query handler call. Command behaviours run
 * inside apply on every node: they must be synchronous and deterministic in what they return
 * (logging and counting are fine). A behaviour that throws fails the command with HANDLER_ERROR.
 * `edge` runs once, on the node that received the call, before anything reaches the log (or the
 * query runs): the place for checks on the caller; a Failure it returns is the answer.
 */
export interface Behavior {
  readonly name: string;
  edge?(call: EdgeCall): Failure | null;
  command?(call: CommandCall, next: () => Result<unknown>): Result<unknown>;
  query?(call: QueryCall, next: () => Promise<Result<unknown>>): Promise<Result<unknown>>;
}

export class DefinitionError extends Error {
  readonly code = 'INVALID_MODULE';
}

/** Types a command definition's payload from its schema (identity at run time). */
export function command<const S extends Schema, R>(definition: { schema: S; since?: number; handle(ctx: CommandContext, payload: Infer<S>): Result<R> }): CommandDefinition<S, R> {
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
  if (definition.version !== undefined && !isModuleVersion(definition.version)) {
    throw new DefinitionError(`${where}: version must be an integer from 1 to ${MAX_MODULE_VERSION}`);
  }
  checkHandlers('commands', definition.commands, where);
  for (const [type, c] of Object.entries(definition.commands ?? {})) {
    if (c.since !== undefined && !(isModuleVersion(c.since) && c.since <= (definition.version ?? 1))) {
      throw new DefinitionError(`${where}: command ${type}: since must be a module version from 1 to the module's version (${definition.version ?? 1})`);
    }
  }
  checkHandlers('queries', definition.queries, where);
  if (definition.events !== undefined) {
    for (const [type, handlers] of Object.entries(definition.events)) {
      if (type !== '*' && !TYPE_NAME_PATTERN.test(type)) throw new DefinitionError(`${where}: event type ${JSON.stringify(type)} does not match ${TYPE_NAME_PATTERN}`);
      const list: readonly unknown[] = Array.isArray(handlers) ? handlers : [handlers];
      if (list.some((handler) => typeof handler !== 'function')) throw new DefinitionError(`${where}: event handler for ${type} is not a function`);
    }
  }
  checkReactors(definition.reactors, where);
  if (definition.behaviors !== undefined) {
    if (!Array.isArray(definition.behaviors) || definition.behaviors.length > MAX_MODULE_BEHAVIORS) throw new DefinitionError(`${where}: behaviors must be a list of at most ${MAX_MODULE_BEHAVIORS} behaviours`);
    checkBehaviors(definition.behaviors, where);
  }
  return Object.freeze(definition);
}

/** Most behaviours one module declares. */
export const MAX_MODULE_BEHAVIORS = 32;

/** Checks pipeline behaviours: a name, and a command and/or query function. Throws DefinitionError. */
export function checkBehaviors(behaviors: readonly Behavior[], where: string): void {
  for (const [i, b] of behaviors.entries()) {
    const { name, command: c, query: q, edge: e } = (b ?? {}) as Partial<Behavior>;
    if (typeof name !== 'string' || name.length === 0) throw new DefinitionError(`${where}: behaviour ${i} has no name`);
    const hooks = [c, q, e];
    if (hooks.some((f) => f !== undefined && typeof f !== 'function') || hooks.every((f) => f === undefined)) {
      throw new DefinitionError(`${where}: behaviour ${name} needs a command, query and/or edge function`);
    }
  }
}

/** Reactor limits: (name of the setting, lowest, highest). */
const REACTOR_LIMITS = [['maxAttempts', 1, 100], ['timeoutMs', 1, 600_000], ['backoffMs', 1, 60_000]] as const;

function checkReactors(reactors: unknown, where: string): void {
  if (reactors === undefined) return;
  if (reactors === null || typeof reactors !== 'object') throw new DefinitionError(`${where}: reactors must be an object`);
  for (const [name, reactor] of Object.entries(reactors)) {
    if (!TYPE_NAME_PATTERN.test(name)) throw new DefinitionError(`${where}: reactor name ${JSON.stringify(name)} does not match ${TYPE_NAME_PATTERN}`);
    const { events, handle } = (reactor ?? {}) as Partial<ReactorDefinition>;
    if (typeof handle !== 'function') throw new DefinitionError(`${where}: reactor ${name} has no handle function`);
    if (!Array.isArray(events) || events.length === 0 || events.some((type) => typeof type !== 'string' || (type !== '*' && !TYPE_NAME_PATTERN.test(type)))) {
      throw new DefinitionError(`${where}: reactor ${name} needs events, a non-empty list of event types (or '*')`);
    }
    for (const [setting, low, high] of REACTOR_LIMITS) {
      const value = (reactor as unknown as Record<string, unknown>)[setting];
      if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= low && (value as number) <= high)) {
        throw new DefinitionError(`${where}: reactor ${name}: ${setting} must be an integer from ${low} to ${high}`);
      }
    }
  }
}

/** Everything a user module needs at run time, passed to a module that default-exports a function. */
export const catgaApi = Object.freeze({ defineModule, command, query, t, ok, fail });
export type CatgaApi = typeof catgaApi;

export type { Failure, Result };
