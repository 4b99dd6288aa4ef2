// The mediator: the replicated state machine the runtime drives, and the edge checks the HTTP
// layer runs before proposing. Three faces:
//  - edge (any node, before Raft): prepareCommands (one or a batch) / preparePublish validate and
//    encode an entry, or answer a 400/404/413-ready Failure; checkQuery before a ReadIndex;
//  - replicated (every node, in log order): applyBatch(entries) → per entry, one result per command
//    + the events raised, all written in one state engine transaction with the applied index;
//    reload() after the engine's state was replaced by a snapshot;
//  - reads (this node): query(type, payload).
// apply is deterministic: its only inputs are the entry (index, term, bytes with the proposer's
// timestamp) and the state built by earlier entries. A handler that throws, returns garbage or
// breaks a limit yields HANDLER_ERROR for that command and changes nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { APPLICATION_CALLER, MAX_EVENTS_PER_COMMAND, TYPE_NAME_PATTERN, checkBehaviors, type Behavior, type Caller, type EdgeCall, type CommandContext, type Logger, type ModuleDefinition, type QueryCall, type QueryContext } from './api.js';
import { EventDispatcher } from './dispatcher.js';
import { decodeEntry, encodeCommandEntry, encodeEventEntry, type CommandRequest } from './entry.js';
import { EventLog, makeEvent, type CatgaEvent, type EventLogOptions } from './events.js';
import { decodeRecord, encodeRecord, eventRows, takeEventRows } from './persisted-events.js';
import { IdempotencyTable, MAX_IDEMPOTENCY_KEY_LENGTH, payloadFingerprint, type IdempotencyOptions, type IdempotencyRow } from './idempotency.js';
import type { MediatorObserver } from './observer.js';
import { Registry, type BoundCommand, type BoundQuery } from './registry.js';
import { ErrorCodes, fail, ok, type Failure, type Issue, type Result } from './result.js';
import { jsonDepthExceeds, validate, type JsonValue } from './schema.js';
import { freezeJson, Transaction, type ModuleState } from './store.js';
import { ReplicatedState } from './replicated-state.js';
import { REACTOR_DONE_COMMAND, reactorProgressModule } from './reactor-progress.js';
import { ACTIVATE_COMMAND, VERSIONS_MODULE, activeVersion, checkRunnable, moduleVersionsModule, runningVersions, type VersionMap } from './module-versions.js';
import type { Entry } from '../raft/types.js';
import type { KeyValue, StateEngine } from '../state/engine.js';
import { MemoryStateEngine } from '../state/memory-engine.js';
import { EventStore, type EventRecord } from '../state/event-store.js';
import { MemorySegmentFiles } from '../state/memory-event-files.js';

export const DEFAULT_MAX_BATCH_COMMANDS = 1_000;
/** Bound on one encoded entry; keep it below the Raft core's maxBytesPerMessage. */
export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024;
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
/** Most idempotency rows read back from the engine at once when the table reloads. */
const IDEMPOTENCY_LOAD_PAGE = 4_096;

/** A command as the HTTP layer hands it over (`idempotencyKey` null or absent: none). */
export interface CommandInput {
  readonly type: string;
  readonly payload: unknown;
  readonly idempotencyKey?: string | null | undefined;
}

export interface MediatorOptions {
  readonly modules: readonly ModuleDefinition[];
  /** Where the replicated state lives; an in-memory engine when absent (tests). */
  readonly engine?: StateEngine;
  /** Where the events of recent entries survive restarts; in memory when absent (tests). */
  readonly eventStore?: EventStore;
  /**
   * Bytes of module state (keys + values) beyond which commands that grow it fail with
   * STATE_QUOTA_EXCEEDED. Written into each command entry this node proposes. Absent: no quota.
   */
  readonly quotaBytes?: number | null;
  /** User behaviours, outermost first. */
  readonly behaviors?: readonly Behavior[];
  /** Must be the same on every node: expiry changes replicated state. */
  readonly idempotency?: IdempotencyOptions;
  readonly events?: EventLogOptions;
  readonly maxBatchCommands?: number;
  readonly maxEntryBytes?: number;
  readonly queryTimeoutMs?: number;
  readonly maxEventHandlersInFlight?: number;
  readonly observer?: MediatorObserver;
  readonly logger?: Logger;
}

/** One command's outcome in an applied entry. */
export interface CommandResult {
  readonly type: string;
  readonly result: Result<unknown>;
  /** Index of the entry that produced `result`: an earlier one when `duplicate`. */
  readonly index: number;
  /** The idempotency key matched: nothing was applied, `result` is the first one. */
  readonly duplicate: boolean;
}

export interface AppliedEntry {
  readonly index: number;
  /** `none`: Raft no-op or configuration entry; `invalid`: undecodable bytes (see `error`). */
  readonly kind: 'none' | 'commands' | 'event' | 'invalid';
  /** One per command of a `commands` entry, in order; empty otherwise. */
  readonly results: readonly CommandResult[];
  /** Events raised by the entry, in order, already appended to `events` and dispatched. */
  readonly events: readonly CatgaEvent[];
  readonly error?: Failure;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

const consoleLogger: Logger = {
  info: (message, fields) => console.log(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message, fields) => console.error(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

const NO_EVENTS: readonly CatgaEvent[] = Object.freeze([]);
const NO_RESULTS: readonly CommandResult[] = Object.freeze([]);
/** Commands only the node itself sends (through `prepareCommands(..., 'node')`): to a client they do not exist. */
const NODE_ONLY_COMMANDS: ReadonlySet<string> = new Set([REACTOR_DONE_COMMAND, ACTIVATE_COMMAND]);
/** Rows read at once while hashing the state. */
const DIGEST_PAGE = 4_096;

/** A digest of this node's replicated state at one applied index (equal on every node at that index). */
export interface StateDigest {
  readonly appliedIndex: number;
  /** SHA-256 (hex) of every module state and idempotency record, in key order. */
  readonly hash: string;
}

/** Raised inside a handler's context (emit limits); becomes that command's HANDLER_ERROR. */
class ContextError extends Error {}

interface PendingEvent {
  readonly type: string;
  readonly data: JsonValue;
  readonly json: string;
}

class LiveCommandContext implements CommandContext {
  pending: PendingEvent[] | null = null;

  constructor(
    readonly index: number,
    readonly term: number,
    readonly ts: number,
    readonly position: number,
    readonly type: string,
    readonly moduleVersion: number,
    readonly store: Transaction,
  ) {}

  emit(type: string, data: JsonValue): void {
    if (typeof type !== 'string' || !TYPE_NAME_PATTERN.test(type)) throw new ContextError(`emit: event type ${JSON.stringify(type)} does not match ${TYPE_NAME_PATTERN}`);
    this.pending ??= [];
    const pending = this.pending;
    if (pending.length >= MAX_EVENTS_PER_COMMAND) throw new ContextError(`emit: more than ${MAX_EVENTS_PER_COMMAND} events from one command`);
    const frozen = freezeJson(data === undefined ? null : data);
    pending.push({ type, data: frozen, json: JSON.stringify(frozen) });
  }
}

/** The first Failure of the behaviours' edge checks, or null; a check that throws is a HANDLER_ERROR. */
function runEdge(behaviors: readonly Behavior[], call: EdgeCall): Failure | null {
  for (const behavior of behaviors) {
    let answer: Failure | null;
    try {
      answer = (behavior.edge as NonNullable<Behavior['edge']>)(call);
    } catch (error) {
      return handlerError(error);
    }
    if (answer !== null) return isResult(answer) && !answer.ok ? answer : fail(ErrorCodes.HANDLER_ERROR, `behaviour ${behavior.name}: edge returned neither null nor a Failure`);
  }
  return null;
}

/** An absent body (no payload at all) reads as `{}`. */
function orEmpty(payload: unknown): unknown {
  return payload === undefined ? {} : payload;
}

function isResult(value: unknown): value is Result<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { ok?: unknown; code?: unknown; message?: unknown };
  return candidate.ok === true || (candidate.ok === false && typeof candidate.code === 'string' && typeof candidate.message === 'string');
}

function handlerError(error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, code: ErrorCodes.HANDLER_ERROR, message: `handler threw: ${message}` };
}

function unknownCommand(type: string): Failure {
  return fail(ErrorCodes.UNKNOWN_COMMAND, `no command handler for ${JSON.stringify(type)}`);
}

function invalidPayload(issues: readonly Issue[]): Failure {
  const first = issues[0] as Issue;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return fail(ErrorCodes.INVALID_PAYLOAD, `${first.path} ${first.message}${more}`, issues);
}

export class Mediator {
  readonly registry: Registry;
  /** Events of recent entries, for subscribers (see events.ts). */
  readonly events: EventLog;
  readonly idempotency: IdempotencyTable;
  readonly maxBatchCommands: number;
  readonly maxEntryBytes: number;
  readonly queryTimeoutMs: number;
  readonly quotaBytes: number | null;
  readonly state: ReplicatedState;
  /** The version of each module this node runs (what it reports to the leader's version gate). */
  readonly running: VersionMap;
  /** Active version of each loaded module, read from the replicated record; null: read it again. */
  private active: Map<string, number> | null = null;
  private readonly dispatcher: EventDispatcher;
  private readonly observer: MediatorObserver;
  private readonly logger: Logger;
  /** The events of the ring's entries, kept across restarts (persisted-events.ts). */
  readonly eventStore: EventStore;
  /** The digest being computed, shared by every caller until it ends. */
  private digesting: Promise<StateDigest> | null = null;
  /** Commands refused by the quota since start (not replicated). */
  private quotaRefusals = 0;

  constructor(options: MediatorOptions) {
    this.logger = options.logger ?? consoleLogger;
    this.observer = options.observer ?? {};
    this.state = new ReplicatedState(options.engine ?? new MemoryStateEngine());
    this.eventStore = options.eventStore ?? new EventStore(new MemorySegmentFiles());
    this.running = runningVersions(options.modules);
    const behaviors = options.behaviors ?? [];
    checkBehaviors(behaviors, 'node');
    this.registry = new Registry([reactorProgressModule, moduleVersionsModule(this.running), ...options.modules], this.logger, this.state, behaviors);
    this.events = new EventLog(options.events);
    this.idempotency = new IdempotencyTable(options.idempotency);
    const state = this.state;
    this.idempotency.journal = {
      recorded: (seq, key, record) => state.writer.put('idem', seq, Buffer.from(JSON.stringify([key, record.at, record.index, record.result, record.fingerprint]), 'utf8')),
      forgotten: (seq) => state.writer.delete('idem', seq),
    };
    this.quotaBytes = options.quotaBytes ?? null;
    assert.ok(this.quotaBytes === null || (Number.isSafeInteger(this.quotaBytes) && this.quotaBytes >= 0), 'quotaBytes must be a non-negative integer');
    this.dispatcher = new EventDispatcher(this.registry, this.logger, this.observer, options.maxEventHandlersInFlight);
    this.maxBatchCommands = options.maxBatchCommands ?? DEFAULT_MAX_BATCH_COMMANDS;
    this.maxEntryBytes = options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    assert.ok(this.maxBatchCommands > 0 && this.maxEntryBytes > 0 && this.queryTimeoutMs > 0, 'mediator limits must be positive');
    this.reload();
  }

  /** Index of the last entry applied (or restored from a snapshot): what the engine holds. */
  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  /** Commands refused by the quota on this node since it started. */
  get quotaRefused(): number {
    return this.quotaRefusals;
  }

  /** True when module state has reached the quota of this node's settings. */
  get quotaReached(): boolean {
    return this.quotaBytes !== null && this.state.stateBytes >= this.quotaBytes;
  }

  // ---- Edge: validation and encoding, before anything reaches the log ---------------------------

  /**
   * Validates commands (one, or a batch) and encodes them as ONE entry to propose, or answers a
   * 400/404/413-ready Failure. Issue paths are `payload.x` for a single command and
   * `commands[i].payload.x` in a batch. The node's own commands (a reactor's checkpoints) are
   * accepted only from `origin` 'node': to a client they do not exist. The behaviours' edge checks
   * see `caller` (default: the application itself).
   */
  prepareCommands(commands: readonly CommandInput[], ts: number, origin: 'client' | 'node' = 'client', caller: Caller = APPLICATION_CALLER): Result<Uint8Array> {
    if (commands.length === 0) return fail(ErrorCodes.EMPTY_BATCH, 'commands must not be empty');
    if (commands.length > this.maxBatchCommands) return fail(ErrorCodes.BATCH_TOO_LARGE, `a batch holds at most ${this.maxBatchCommands} commands, got ${commands.length}`);
    const single = commands.length === 1;
    const requests: CommandRequest[] = new Array(commands.length);
    for (let i = 0; i < commands.length; i++) {
      const { type, idempotencyKey } = commands[i] as CommandInput;
      const payload = orEmpty((commands[i] as CommandInput).payload);
      const key = idempotencyKey ?? undefined;
      const failure = NODE_ONLY_COMMANDS.has(type) && origin === 'client' ? unknownCommand(type) : this.checkCommand(type, payload, key, single ? 'payload' : `commands[${i}].payload`, caller);
      if (failure !== null) return failure;
      requests[i] = { type, payload, idempotencyKey: key };
    }
    return this.sized(encodeCommandEntry({ commands: requests, ts, quotaBytes: this.quotaBytes }));
  }

  /** Validates a directly published event (`POST /v1/events/{type}`) and encodes its entry. */
  preparePublish(type: string, data: unknown, ts: number): Result<Uint8Array> {
    if (!TYPE_NAME_PATTERN.test(type)) return fail(ErrorCodes.INVALID_TYPE, `event type ${JSON.stringify(type)} does not match ${TYPE_NAME_PATTERN}`);
    if (data === undefined || jsonDepthExceeds(data)) return fail(ErrorCodes.INVALID_PAYLOAD, 'event data must be a JSON value of bounded depth', [{ path: 'data', message: 'must be a JSON value of bounded depth' }]);
    return this.sized(encodeEventEntry({ type, data: data as JsonValue, ts }));
  }

  /** Validates a query, and runs the behaviours' edge checks, on the node that received it, before any ReadIndex round: null when it may run. */
  checkQuery(type: string, payload: unknown, caller: Caller = APPLICATION_CALLER): Failure | null {
    const failure = this.validateQuery(type, payload);
    if (failure !== null) return failure;
    const bound = this.registry.queries.get(type) as BoundQuery;
    return runEdge(bound.edge, { kind: 'query', type, payload: orEmpty(payload), caller });
  }

  private validateQuery(type: string, payload: unknown): Failure | null {
    const bound = this.registry.queries.get(type);
    if (bound === undefined) return fail(ErrorCodes.UNKNOWN_QUERY, `no query handler for ${JSON.stringify(type)}`);
    const issues = validate(bound.definition.schema, orEmpty(payload));
    return issues.length === 0 ? null : invalidPayload(issues);
  }

  private checkCommand(type: string, payload: unknown, idempotencyKey: string | undefined, path: string, caller: Caller): Failure | null {
    const bound = this.registry.commands.get(type);
    if (bound === undefined) return unknownCommand(type);
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      return fail(ErrorCodes.INVALID_IDEMPOTENCY_KEY, `an idempotency key has 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    if (!this.introduced(bound)) {
      return fail(ErrorCodes.UNKNOWN_COMMAND, `${type} comes with version ${bound.definition.since} of module ${bound.module}, not active yet (active: ${this.activeVersion(bound.module)})`);
    }
    const issues = validate(bound.definition.schema, payload, path);
    return issues.length === 0 ? runEdge(bound.edge, { kind: 'command', type, payload, caller }) : invalidPayload(issues);
  }

  private sized(data: Uint8Array): Result<Uint8Array> {
    if (data.byteLength > this.maxEntryBytes) return fail(ErrorCodes.ENTRY_TOO_LARGE, `the entry would take ${data.byteLength} bytes, more than the limit of ${this.maxEntryBytes}`);
    return ok(data);
  }

  // ---- Replicated: apply, snapshot, restore ------------------------------------------------------

  /**
   * Applies committed entries, in log order, on every node, as one state engine transaction that
   * also records the last one's index: a crash keeps all of the batch or none of it. The driver
   * may skip no-op and configuration entries (they are no-ops here too); an index that does not
   * increase is a broken invariant and stops the process.
   */
  applyBatch(entries: readonly Entry[]): AppliedEntry[] {
    if (entries.length === 0) return [];
    const last = (entries[entries.length - 1] as Entry).index;
    const applied = this.state.batch(last, () => {
      const evicted = this.events.takeEvicted();
      if (evicted.length > 0) this.eventStore.forget(evicted[evicted.length - 1] as number);
      const results = entries.map((entry) => this.applyOne(entry));
      // Before the engine commits the batch: a crash between the two leaves the frame past the
      // engine's applied index, which the next open cuts (the replay writes it again).
      const records: EventRecord[] = [];
      for (const a of results) if (a.events.length > 0) records.push(encodeRecord(a.index, a.events.map((e) => e.wire)));
      this.eventStore.append(last, records);
      return results;
    });
    for (const a of applied) {
      this.events.append(a.index, a.events);
      if (a.events.length > 0) this.dispatcher.dispatch(a.events);
    }
    return applied;
  }

  /** One entry as its own batch. */
  apply(entry: Entry): AppliedEntry {
    return this.applyBatch([entry])[0] as AppliedEntry;
  }

  private applyOne(entry: Entry): AppliedEntry {
    assert.ok(entry.index > this.appliedIndex, `apply: entry ${entry.index} after applied index ${this.appliedIndex}`);
    if (entry.type === 'conf' || entry.data.byteLength === 0) {
      return { index: entry.index, kind: 'none', results: NO_RESULTS, events: NO_EVENTS };
    }
    const decoded = decodeEntry(entry.data);
    if (!decoded.ok) return this.invalidEntry(entry.index, decoded);
    const envelope = decoded.value;
    this.idempotency.advance(envelope.ts, envelope.windowMs);
    this.state.setIdempotencyClock(this.idempotency.clock);
    if (envelope.kind === 'event') {
      let frozen: JsonValue;
      try {
        frozen = freezeJson(envelope.data);
      } catch (error) {
        return this.invalidEntry(entry.index, fail(ErrorCodes.INVALID_ENTRY, `event data: ${(error as Error).message}`));
      }
      const event = makeEvent(entry.index, envelope.type, frozen, envelope.ts, JSON.stringify(frozen));
      return { index: entry.index, kind: 'event', results: NO_RESULTS, events: [event] };
    }
    const results: CommandResult[] = new Array(envelope.commands.length);
    const events: CatgaEvent[] = [];
    for (let position = 0; position < envelope.commands.length; position++) {
      results[position] = this.applyCommand(entry, envelope.ts, envelope.quotaBytes, position, envelope.commands[position] as CommandRequest, events);
    }
    return { index: entry.index, kind: 'commands', results, events };
  }

  private invalidEntry(index: number, error: Failure): AppliedEntry {
    this.logger.error('undecodable log entry skipped', { index, code: error.code, message: error.message });
    return { index, kind: 'invalid', results: NO_RESULTS, events: NO_EVENTS, error };
  }

  private applyCommand(entry: Entry, ts: number, quotaBytes: number | null, position: number, command: CommandRequest, events: CatgaEvent[]): CommandResult {
    const started = this.observer.commandApplied === undefined ? 0 : performance.now();
    // A key belongs to one command type: the same key on another type is another key.
    const key = command.idempotencyKey === undefined ? undefined : `${command.type}\u0000${command.idempotencyKey}`;
    const fingerprint = key === undefined ? '' : payloadFingerprint(command.payload);
    if (key !== undefined) {
      // Rows recorded before keys were scoped by type carry no fingerprint: they answer the bare key.
      const legacy = this.idempotency.lookup(command.idempotencyKey as string);
      const seen = this.idempotency.lookup(key) ?? (legacy?.fingerprint === '' ? legacy : undefined);
      if (seen !== undefined) {
        this.observer.commandApplied?.(command.type, 'duplicate', (performance.now() - started) / 1000);
        if (seen.fingerprint !== '' && seen.fingerprint !== fingerprint) {
          const reused = fail(ErrorCodes.IDEMPOTENCY_KEY_REUSED, `this idempotency key was used at index ${seen.index} with another payload`);
          return { type: command.type, result: reused, index: entry.index, duplicate: false };
        }
        return { type: command.type, result: seen.result, index: seen.index, duplicate: true };
      }
    }
    // Applying an activation this node's code cannot honour would diverge: stop instead (the
    // error leaves the apply batch, which the driver treats as fatal).
    if (command.type === ACTIVATE_COMMAND) this.admitActivation(command.payload);
    const bound = this.registry.commands.get(command.type);
    // A command of a module version not active yet is unknown here as on a node without its code.
    const result = bound === undefined || !this.introduced(bound) ? unknownCommand(command.type) : this.runCommand(bound, entry, ts, quotaBytes, position, command, events);
    if (command.type === ACTIVATE_COMMAND) {
      this.active = null;
      const raised = result.ok ? (result.value as { raised: readonly unknown[] }).raised : [];
      if (raised.length > 0) this.logger.info('module versions activated', { index: entry.index, raised });
    }
    if (key !== undefined) this.idempotency.record(key, entry.index, result, fingerprint);
    if (this.observer.commandApplied !== undefined) {
      const outcome = result.ok ? 'ok' : result.code === ErrorCodes.HANDLER_ERROR ? 'error' : 'failed';
      this.observer.commandApplied(command.type, outcome, (performance.now() - started) / 1000);
    }
    return { type: command.type, result, index: entry.index, duplicate: false };
  }

  private runCommand(bound: BoundCommand, entry: Entry, ts: number, quotaBytes: number | null, position: number, command: CommandRequest, events: CatgaEvent[]): Result<unknown> {
    const store = new Transaction(bound.state);
    const ctx = new LiveCommandContext(entry.index, entry.term, ts, position, command.type, this.activeVersion(bound.module), store);
    let result: Result<unknown>;
    try {
      result = this.commandPipeline(bound, ctx, command.payload);
      if (!isResult(result)) {
        const what = result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function' ? 'a Promise (command handlers must be synchronous)' : 'no Result';
        result = fail(ErrorCodes.HANDLER_ERROR, `handler returned ${what}`);
      }
    } catch (error) {
      result = handlerError(error);
    }
    if (!result.ok) {
      if (result.code === ErrorCodes.HANDLER_ERROR) this.logger.warn('command handler failed', { type: command.type, index: entry.index, position, message: result.message });
      return result;
    }
    if (quotaBytes !== null) {
      // Part of the replicated apply: every node sees the same state bytes and the same entry.
      const growth = store.bytesDelta();
      if (growth > 0 && this.state.stateBytes + growth > quotaBytes) {
        this.quotaRefusals++;
        return fail(ErrorCodes.STATE_QUOTA_EXCEEDED, `the command would grow the state to ${this.state.stateBytes + growth} bytes, beyond the quota of ${quotaBytes}; deletes still work`);
      }
    }
    store.commit();
    if (ctx.pending !== null) {
      for (const pending of ctx.pending) events.push(makeEvent(entry.index, pending.type, pending.data, ts, pending.json));
    }
    return result;
  }

  /** The version of `module` in force at the entry being applied (loaded modules' are cached). */
  activeVersion(module: string): number {
    const record = this.registry.states.get(VERSIONS_MODULE) as ModuleState;
    this.active ??= new Map([...this.registry.states.keys()].map((m) => [m, activeVersion(record, m)]));
    return this.active.get(module) ?? activeVersion(record, module);
  }

  /** True once the module version that introduced a command is active. */
  private introduced(bound: BoundCommand): boolean {
    return bound.definition.since === undefined || this.activeVersion(bound.module) >= bound.definition.since;
  }

  /** Throws ModuleVersionError if an activation entry names a version above this node's code. */
  private admitActivation(payload: unknown): void {
    const versions = (payload as { versions?: unknown }).versions;
    if (!Array.isArray(versions)) return;
    for (const item of versions as { module?: unknown; version?: unknown }[]) {
      if (typeof item?.module === 'string' && typeof item.version === 'number') checkRunnable(this.running, item.module, item.version);
    }
  }

  /** Throws ModuleVersionError if the state holds an active version above this node's code. */
  private checkActiveVersions(): void {
    for (const module of Object.keys(this.running)) checkRunnable(this.running, module, this.activeVersion(module));
  }

  /**
   * Hashes the replicated state (module state and idempotency records, in key order) as of one
   * applied index: a pinned view, so the applies that run meanwhile do not tear it; it yields to the
   * event loop between pages, so a large state does not stall the node. One digest runs at a time:
   * callers that ask meanwhile share it.
   */
  digest(): Promise<StateDigest> {
    this.digesting ??= this.computeDigest().finally(() => { this.digesting = null; });
    return this.digesting;
  }

  private async computeDigest(): Promise<StateDigest> {
    // Applies run on this thread too: the view and the applied index are taken at one moment.
    const view = this.state.engine.pin();
    const appliedIndex = this.appliedIndex;
    try {
      const hash = createHash('sha256');
      for (const table of ['state', 'idem'] as const) {
        hash.update(table);
        let after: Uint8Array | undefined;
        for (;;) {
          const page = view.range(table, { prefix: new Uint8Array(0), after, limit: DIGEST_PAGE });
          for (const { key, value } of page) {
            const lengths = Buffer.alloc(8);
            lengths.writeUInt32BE(key.byteLength, 0);
            lengths.writeUInt32BE(value.byteLength, 4);
            hash.update(lengths).update(key).update(value);
          }
          if (page.length < DIGEST_PAGE) break;
          after = (page[page.length - 1] as { key: Uint8Array }).key;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      return { appliedIndex, hash: hash.digest('hex') };
    } finally {
      view.close();
    }
  }

  private commandPipeline(bound: BoundCommand, ctx: LiveCommandContext, payload: unknown): Result<unknown> {
    const behaviors = bound.behaviors;
    if (behaviors.length === 0) return bound.definition.handle(ctx, payload as never);
    const call = { type: ctx.type, payload, ctx };
    let next = 0;
    const proceed = (): Result<unknown> => {
      const behavior = behaviors[next++];
      return behavior === undefined ? bound.definition.handle(ctx, payload as never) : (behavior.command as NonNullable<Behavior['command']>)(call, proceed);
    };
    return proceed();
  }

  /**
   * Re-reads what the engine holds (at start, and after a snapshot from the leader replaced it):
   * the counters, the idempotency table. Events restart at the applied index.
   */
  reload(): void {
    this.state.reload();
    this.active = null;
    this.checkActiveVersions();
    const engine = this.state.engine;
    const rows = function* (): Generator<IdempotencyRow> {
      let after: Uint8Array | undefined;
      for (;;) {
        const page = engine.range('idem', { prefix: new Uint8Array(0), after, limit: IDEMPOTENCY_LOAD_PAGE });
        for (const { key, value } of page) {
          const [k, at, index, result, fingerprint] = JSON.parse(Buffer.from(value).toString('utf8')) as [string, number, number, Result<unknown>, string?];
          yield { seq: key, key: k, record: { at, index, result, fingerprint: fingerprint ?? '' } };
        }
        if (page.length < IDEMPOTENCY_LOAD_PAGE) return;
        after = (page[page.length - 1] as { key: Uint8Array }).key;
      }
    };
    this.idempotency.load(this.state.idempotencyClock, rows());
    this.reloadEvents();
  }

  /**
   * The events of the last entries come back from the event store, so subscribers resume across
   * restarts; after a snapshot, from the events it carried (or from its index when it carried
   * none). Records at or below the floor are read only to be let go (the ring reports them evicted).
   */
  private reloadEvents(): void {
    const store = this.eventStore;
    const rows = takeEventRows(this.state.engine);
    if (rows !== null && rows.since <= this.appliedIndex) {
      // The events a snapshot carried, or rows an older version kept in the engine (complete
      // after `since`, which is the applied index itself when its sender held no event).
      store.align(rows.since);
      if (rows.since < this.appliedIndex) store.append(this.appliedIndex, rows.records.filter((r) => r.index > rows.since && r.index <= this.appliedIndex));
    }
    const { outcome, lastBefore } = store.align(this.appliedIndex);
    if (outcome !== 'kept' && lastBefore !== null) {
      this.logger.info('event_store_aligned', {
        outcome, lastBefore, appliedIndex: this.appliedIndex,
        ...(outcome === 'restarted' ? { note: `the events of entries after ${Math.min(lastBefore, this.appliedIndex)} up to ${this.appliedIndex} are not held here (a snapshot replaced the state, or a machine crash lost unsynced events): subscribers resume after ${this.appliedIndex}` } : {}),
      });
    }
    const floor = Math.max(store.floor as number, this.appliedIndex - this.events.maxEvents);
    const records = store.read(store.floor as number);
    this.events.restore(floor, this.appliedIndex, (function* () { for (const r of records) yield decodeRecord(r); })());
  }

  /** Makes every applied batch durable: the event store first, so events are no less durable than the state they came from. */
  async sync(): Promise<void> {
    await this.eventStore.sync();
    await this.state.engine.sync();
  }

  /** The events this node holds, as the rows a snapshot of its current state carries (persisted-events.ts). */
  eventRowsForSnapshot(): KeyValue[] {
    const floor = this.events.floor;
    const held = this.events.since(floor, null, Number.MAX_SAFE_INTEGER);
    assert.ok(held.ok, 'the ring serves from its own floor');
    return eventRows(floor, held.value);
  }

  // ---- Reads -------------------------------------------------------------------------------------

  /** Runs a query on this node's applied state, bounded by the query timeout. Never rejects. */
  async query(type: string, payload: unknown): Promise<Result<unknown>> {
    const started = this.observer.queryServed === undefined ? 0 : performance.now();
    // The edge checks ran where the query arrived (checkQuery); here it only must be valid.
    const failure = this.validateQuery(type, payload);
    let result: Result<unknown>;
    if (failure !== null) result = failure;
    else result = await this.runQuery(this.registry.queries.get(type) as BoundQuery, { type, payload: orEmpty(payload) });
    if (this.observer.queryServed !== undefined) {
      const outcome = result.ok ? 'ok' : result.code === ErrorCodes.QUERY_TIMEOUT ? 'timeout' : result.code === ErrorCodes.HANDLER_ERROR ? 'error' : 'failed';
      this.observer.queryServed(type, outcome, (performance.now() - started) / 1000);
    }
    return result;
  }

  private async runQuery(bound: BoundQuery, call: QueryCall): Promise<Result<unknown>> {
    const controller = new AbortController();
    const ctx: QueryContext = { store: bound.state, appliedIndex: this.appliedIndex, moduleVersion: this.activeVersion(bound.module), signal: controller.signal };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Result<unknown>>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(fail(ErrorCodes.QUERY_TIMEOUT, `query ${call.type} took longer than ${this.queryTimeoutMs} ms`));
      }, this.queryTimeoutMs);
    });
    const behaviors = bound.behaviors;
    let next = 0;
    const proceed = async (): Promise<Result<unknown>> => {
      const behavior = behaviors[next++];
      if (behavior === undefined) return bound.definition.handle(ctx, call.payload as never);
      return (behavior.query as NonNullable<Behavior['query']>)(call, proceed);
    };
    try {
      const result = await Promise.race([proceed(), timeout]);
      return isResult(result) ? result : fail(ErrorCodes.HANDLER_ERROR, 'query handler returned no Result');
    } catch (error) {
      return handlerError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once asynchronous event handlers have settled (shutdown, tests). */
  eventHandlersIdle(): Promise<void> {
    return this.dispatcher.idle();
  }
}
