// Binds the mediator (node/src/catga) to the runtime: loads the built-in and user handler modules
// over the node's state engine, turns the mediator's Results into the coded errors and outcomes the
// request paths use, feeds its observer hooks into the node's metrics, and presents it to the Raft
// driver as its state machine.
import { strict as assert } from 'node:assert';
import type { Entry, Index } from '../raft/types.js';
import type { StateEngine } from '../state/engine.js';
import type { EventStore } from '../state/event-store.js';
import { decodeDescriptor } from '../state/snapshot-stream.js';
import { Mediator, ModuleVersionError, builtinModules, httpStatusFor, loadHandlerModules, openApiDocument, stampEntry, type AppliedEntry, type Behavior, type ModuleDefinition, type Result } from '../catga/index.js';
import type { CommandOutcome, WireEvent } from '../server/api.js';
import type { NodeConfig } from './config.js';
import type { StateMachine } from '../driver/driver.js';
import { CatgaError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { NodeMetrics } from './metrics.js';
import type { MediatorPort } from './service.js';
import type { SnapshotTransfer, TransferStateMachine } from './snapshot-transfer.js';

export interface NodeMediator {
  readonly mediator: Mediator;
  readonly port: MediatorPort;
  /** GET /v1/openapi.json: the loaded modules' commands, queries and handled events. */
  readonly openapi: string;
  /** What the snapshot transfer needs of the state machine. */
  readonly transferable: TransferStateMachine;
  /** The driver's view, once the snapshot transfer exists. */
  stateMachine(transfer: SnapshotTransfer): StateMachine;
}

function orThrow<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new CatgaError(r.code, r.message, httpStatusFor(r.code));
}

function outcomeOf(r: Result<unknown>): CommandOutcome {
  return r.ok ? { ok: true, value: r.value } : { ok: false, error: { code: r.code, message: r.message } };
}

/**
 * `given`: what the application passes in (an embedded node): modules, loaded after the handler
 * files, and node-wide behaviours. `onBehind`: a snapshot from the leader holds a module version this node's code is older than.
 */
export async function createMediatorPort(cfg: NodeConfig, metrics: NodeMetrics, log: Logger, engine: StateEngine, eventStore: EventStore, onBehind: (err: ModuleVersionError) => void, given: { readonly modules?: readonly ModuleDefinition[]; readonly behaviors?: readonly Behavior[] } = {}): Promise<NodeMediator> {
  const user = [...await loadHandlerModules(cfg.handlers), ...given.modules ?? []];
  if (user.length > 0) log.info('handlers_loaded', { modules: user.length, paths: cfg.handlers, builtins: cfg.builtins });
  const mediator = new Mediator({
    modules: [...(cfg.builtins ? builtinModules : []), ...user],
    engine,
    eventStore,
    quotaBytes: cfg.stateQuotaBytes,
    behaviors: given.behaviors ?? [],
    idempotency: { windowMs: cfg.idempotencyWindowMs },
    events: { maxEvents: cfg.eventRingSize, maxBytes: cfg.eventRingBytes },
    maxBatchCommands: cfg.maxBatchCommands,
    queryTimeoutMs: cfg.requestTimeoutMs,
    logger: {
      info: (m, f) => log.info(m, f),
      warn: (m, f) => log.warn(m, f),
      error: (m, f) => log.error(m, f),
    },
  });

  const { commands, queries, eventHandlers } = mediator.registry;
  metrics.typeLabels.know({ commands: commands.keys(), queries: queries.keys(), handledEvents: eventHandlers.keys() });
  const stateMachine = (transfer: SnapshotTransfer): StateMachine => ({
    applyBatch(entries: readonly Entry[]): readonly (AppliedEntry | null)[] {
      // Entries a snapshot swapped in just before the core heard of it are already in the state:
      // their results are unknown here (null), the rest applies as one batch.
      let skip = 0;
      while (skip < entries.length && (entries[skip] as Entry).index <= mediator.appliedIndex) skip++;
      const applied = mediator.applyBatch(skip === 0 ? entries : entries.slice(skip));
      for (const a of applied) {
        const raisedByCommand = a.kind === 'commands';
        for (const e of a.events) metrics.eventApplied(e.type, raisedByCommand);
      }
      return skip === 0 ? applied : [...new Array<null>(skip).fill(null), ...applied];
    },
    snapshot: (index: Index) => (mediator.appliedIndex === index ? transfer.take() : null),
    restore(data: Uint8Array, index: Index): void {
      assert.equal(decodeDescriptor(data).index, index, 'restore: snapshot descriptor and metadata disagree');
      assert.equal(mediator.appliedIndex, index, `restore: the core installed snapshot ${index} but the state engine holds ${mediator.appliedIndex}`);
    },
    sync: () => mediator.sync(),
  });

  const transferable: TransferStateMachine = {
    engine,
    get appliedIndex() { return mediator.appliedIndex; },
    get stateBytes() { return mediator.state.stateBytes; },
    get idempotencyKeys() { return mediator.idempotency.size; },
    eventRows: () => mediator.eventRowsForSnapshot(),
    reload: () => {
      try {
        mediator.reload();
      } catch (err) {
        // The node must stop, as when applying an activation it cannot honour.
        if (err instanceof ModuleVersionError) onBehind(err);
        throw err;
      }
    },
  };

  const port: MediatorPort = {
    encodeCommands: (inputs, ts, caller) => orThrow(mediator.prepareCommands(inputs, ts, 'client', caller)),
    encodeOwnCommands: (inputs, ts) => orThrow(mediator.prepareCommands(inputs, ts, 'node')),
    encodePublish: (type, data, ts) => orThrow(mediator.preparePublish(type, data, ts)),
    outcomes(result: unknown): CommandOutcome[] {
      if (result === null) throw new CatgaError('OUTCOME_UNKNOWN', 'the entry was covered by a snapshot from the leader before its result was known here', 503);
      const applied = result as AppliedEntry;
      if (applied.kind === 'invalid') throw new CatgaError(applied.error?.code ?? 'INVALID_ENTRY', applied.error?.message ?? 'the entry could not be decoded', 500);
      // A duplicate answers the first result with the index of the entry that produced it.
      return applied.results.map((r) => (r.duplicate ? { ...outcomeOf(r.result), index: r.index } : outcomeOf(r.result)));
    },
    stamp: (data, ts) => stampEntry(data, ts, cfg.idempotencyWindowMs),
    checkQuery(type, payload, caller) {
      const failure = mediator.checkQuery(type, payload, caller);
      if (failure !== null) throw new CatgaError(failure.code, failure.message, httpStatusFor(failure.code));
      return mediator.registry.queries.get(type)?.definition.consistency ?? 'local';
    },
    query: async (type, payload) => outcomeOf(await mediator.query(type, payload)),
    subscribe(from, types, deliver: (events: readonly WireEvent[]) => void, onCompacted: () => void) {
      // Without ?from the stream is live (docs/api.md#events): it starts after the last applied entry.
      return orThrow(mediator.events.follow(from ?? mediator.events.lastIndex, types, deliver, onCompacted));
    },
  };
  const openapi = JSON.stringify({ ...openApiDocument(mediator.registry, { title: 'Catga node API', version: '1' }), 'x-catga-modules': [...mediator.registry.states.keys()] });
  return { mediator, port, transferable, stateMachine, openapi };
}
