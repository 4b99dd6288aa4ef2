// Which handler serves which type: built from the loaded modules once at start, refusing
// duplicate modules or command/query types. Also owns the module states the handlers are bound to.
import { DefinitionError, type Behavior, type CommandDefinition, type EventContext, type EventHandler, type Logger, type ModuleDefinition, type QueryDefinition, type ReactorDefinition } from './api.js';
import type { ReplicatedState } from './replicated-state.js';
import { ModuleState } from './store.js';

/** A command or query bound to its module: the module's state and the behaviours around it. */
export interface BoundHandler<D> {
  readonly module: string;
  readonly definition: D;
  readonly state: ModuleState;
  /** The node-wide behaviours of its kind, then the module's, outermost first. */
  readonly behaviors: readonly Behavior[];
  /** The behaviours with an edge check, in the same order. */
  readonly edge: readonly Behavior[];
}

export type BoundCommand = BoundHandler<CommandDefinition>;
export type BoundQuery = BoundHandler<QueryDefinition>;

export interface BoundEventHandler {
  readonly module: string;
  readonly handler: EventHandler;
  readonly ctx: EventContext;
}

export interface BoundReactor {
  readonly name: string;
  readonly module: string;
  readonly definition: ReactorDefinition;
  /** Event types handled; null: every type. */
  readonly types: ReadonlySet<string> | null;
}

export class Registry {
  readonly commands = new Map<string, BoundCommand>();
  readonly queries = new Map<string, BoundQuery>();
  /** Event type → handlers; type `*` holds the handlers of every event. */
  readonly eventHandlers = new Map<string, BoundEventHandler[]>();
  /** Module name → state of every loaded module (the engine may also hold state of modules not loaded now). */
  readonly states = new Map<string, ModuleState>();
  /** Reactor name → reactor (names are unique across modules: they key the replicated checkpoints). */
  readonly reactors = new Map<string, BoundReactor>();

  /** `behaviors`: the node-wide ones, around every module's. */
  constructor(modules: readonly ModuleDefinition[], logger: Logger, replicated: ReplicatedState, behaviors: readonly Behavior[] = []) {
    for (const module of modules) {
      if (this.states.has(module.name)) throw new DefinitionError(`module ${module.name} is loaded twice`);
      const state = new ModuleState(module.name, replicated);
      const around = [...behaviors, ...(module.behaviors ?? [])];
      const commandBehaviors = around.filter((b) => typeof b.command === 'function');
      const queryBehaviors = around.filter((b) => typeof b.query === 'function');
      const edge = around.filter((b) => typeof b.edge === 'function');
      this.states.set(module.name, state);
      for (const [type, definition] of Object.entries(module.commands ?? {})) {
        const other = this.commands.get(type);
        if (other !== undefined) throw new DefinitionError(`command ${type} is defined by modules ${other.module} and ${module.name}`);
        this.commands.set(type, { module: module.name, definition, state, behaviors: commandBehaviors, edge });
      }
      for (const [type, definition] of Object.entries(module.queries ?? {})) {
        const other = this.queries.get(type);
        if (other !== undefined) throw new DefinitionError(`query ${type} is defined by modules ${other.module} and ${module.name}`);
        this.queries.set(type, { module: module.name, definition, state, behaviors: queryBehaviors, edge });
      }
      const ctx: EventContext = Object.freeze({ module: module.name, log: logger });
      for (const [type, handlers] of Object.entries(module.events ?? {})) {
        const list = this.eventHandlers.get(type) ?? [];
        for (const handler of Array.isArray(handlers) ? (handlers as readonly EventHandler[]) : [handlers as EventHandler]) {
          list.push({ module: module.name, handler, ctx });
        }
        this.eventHandlers.set(type, list);
      }
      for (const [name, definition] of Object.entries(module.reactors ?? {})) {
        const other = this.reactors.get(name);
        if (other !== undefined) throw new DefinitionError(`reactor ${name} is defined by modules ${other.module} and ${module.name}`);
        this.reactors.set(name, { name, module: module.name, definition, types: definition.events.includes('*') ? null : new Set(definition.events) });
      }
    }
  }
}
