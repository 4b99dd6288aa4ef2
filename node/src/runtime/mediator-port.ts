// Binds the mediator (node/src/catga) to the runtime: loads the built-in and user handler modules,
// turns the mediator's Results into the coded errors and outcomes the request paths use, and feeds
// its observer hooks into the node's metrics.
import type { Entry } from '../raft/types.js';
import { Mediator, builtinModules, httpStatusFor, loadHandlerModules, stampEntry, type AppliedEntry, type Result } from '../catga/index.js';
import type { CommandOutcome, WireEvent } from '../server/api.js';
import type { NodeConfig } from './config.js';
import type { StateMachine } from './driver.js';
import { CatgaError } from './errors.js';
import type { Logger } from './logger.js';
import type { NodeMetrics } from './metrics.js';
import type { MediatorPort } from './service.js';

export interface NodeMediator {
  readonly mediator: Mediator;
  readonly stateMachine: StateMachine;
  readonly port: MediatorPort;
}

function orThrow<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new CatgaError(r.code, r.message, httpStatusFor(r.code));
}

function outcomeOf(r: Result<unknown>): CommandOutcome {
  return r.ok ? { ok: true, value: r.value } : { ok: false, error: { code: r.code, message: r.message } };
}

export async function createMediatorPort(cfg: NodeConfig, metrics: NodeMetrics, log: Logger): Promise<NodeMediator> {
  const user = await loadHandlerModules(cfg.handlers);
  if (user.length > 0) log.info('handlers_loaded', { modules: user.length, paths: cfg.handlers });
  const mediator = new Mediator({
    modules: [...builtinModules, ...user],
    idempotency: { windowMs: cfg.idempotencyWindowMs },
    events: { maxEvents: cfg.eventRingSize },
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
  const stateMachine: StateMachine = {
    apply(entry: Entry): AppliedEntry {
      const applied = mediator.apply(entry);
      const raisedByCommand = applied.kind === 'commands';
      for (const e of applied.events) metrics.eventApplied(e.type, raisedByCommand);
      return applied;
    },
    snapshot: () => mediator.snapshot(),
    restore: (data, index) => mediator.restore(data, index),
  };

  const port: MediatorPort = {
    encodeCommands: (inputs, ts) => orThrow(mediator.prepareCommands(inputs, ts)),
    encodePublish: (type, data, ts) => orThrow(mediator.preparePublish(type, data, ts)),
    outcomes(result: unknown): CommandOutcome[] {
      const applied = result as AppliedEntry;
      if (applied.kind === 'invalid') throw new CatgaError(applied.error?.code ?? 'INVALID_ENTRY', applied.error?.message ?? 'the entry could not be decoded', 500);
      // A duplicate answers the first result with the index of the entry that produced it.
      return applied.results.map((r) => (r.duplicate ? { ...outcomeOf(r.result), index: r.index } : outcomeOf(r.result)));
    },
    stamp: (data, ts) => stampEntry(data, ts, cfg.idempotencyWindowMs),
    checkQuery(type, payload) {
      const failure = mediator.checkQuery(type, payload);
      if (failure !== null) throw new CatgaError(failure.code, failure.message, httpStatusFor(failure.code));
    },
    query: async (type, payload) => outcomeOf(await mediator.query(type, payload)),
    subscribe(from, types, deliver: (events: readonly WireEvent[]) => void, onCompacted: () => void) {
      // Without ?from the stream is live (CONTRACT.md §2): it starts after the last applied entry.
      return orThrow(mediator.events.follow(from ?? mediator.events.lastIndex, types, deliver, onCompacted));
    },
  };
  return { mediator, stateMachine, port };
}
