// Safe handler upgrades: which version of each module is in force. Every node runs some version of
// each module it loads (`ModuleDefinition.version`, default 1). The replicated record here, the
// module `catga-versions` every node loads, holds each module's ACTIVE version: raised only through
// the log by `catga.modules.activate` (proposed by the leader's version gate once every voter runs
// at least that version; never sent by clients), never lowered. Handlers see it as
// `ctx.moduleVersion`, so every node applies an entry with the same behaviour whatever code it
// runs. A node whose code is older than an active version refuses to apply (ModuleVersionError)
// rather than diverge.
import { DefinitionError, MAX_MODULE_VERSION, MODULE_NAME_PATTERN, command, defineModule, isModuleVersion, query, type ModuleDefinition } from './api.js';
import { ok } from './result.js';
import { t } from './schema.js';
import type { ReadStore } from './store.js';

export const VERSIONS_MODULE = 'catga-versions';
export const ACTIVATE_COMMAND = 'catga.modules.activate';
export const VERSIONS_QUERY = 'catga.modules.versions';
/** Most modules one activation entry raises. */
export const MAX_ACTIVATIONS_PER_ENTRY = 1_000;
/** A module's active version before any activation. */
export const INITIAL_MODULE_VERSION = 1;

/** Module name → version. */
export type VersionMap = Readonly<Record<string, number>>;

/** This node runs older code than the cluster has activated: it must stop, not apply. */
export class ModuleVersionError extends Error {
  readonly code = 'MODULE_VERSION_BEHIND';
  constructor(readonly module: string, readonly active: number, readonly running: number) {
    super(`module ${module} is active at version ${active} in this cluster but this node runs version ${running}: ` +
      `start this node with version ${active} or later of the module`);
  }
}

const activeKey = (module: string): string => `v/${module}`;

/** The versions of the modules given, as a node reports them (default 1); throws DefinitionError on a bad one. */
export function runningVersions(modules: readonly ModuleDefinition[]): VersionMap {
  for (const m of modules) {
    if (m.version !== undefined && !isModuleVersion(m.version)) throw new DefinitionError(`module ${m.name}: version must be an integer from 1 to ${MAX_MODULE_VERSION}`);
  }
  return Object.freeze(Object.fromEntries(modules.map((m) => [m.name, m.version ?? INITIAL_MODULE_VERSION])));
}

/** A module's active version in the replicated state. */
export function activeVersion(store: ReadStore, module: string): number {
  const held = store.get(activeKey(module));
  return typeof held === 'number' ? held : INITIAL_MODULE_VERSION;
}

/**
 * The gate: for each module every report names, the lowest version among the reports when it is
 * above the active one. `reports` holds one report per voter; a module one voter does not load is
 * never raised.
 */
export function versionsToActivate(active: (module: string) => number, reports: readonly VersionMap[]): Record<string, number> {
  const raise: Record<string, number> = {};
  const first = reports[0];
  if (first === undefined) return raise;
  for (const module of Object.keys(first)) {
    let lowest = Number.POSITIVE_INFINITY;
    for (const report of reports) lowest = Math.min(lowest, Object.hasOwn(report, module) ? (report[module] as number) : 0);
    if (lowest > active(module)) raise[module] = lowest;
  }
  return raise;
}

/** Throws ModuleVersionError when this node cannot apply `module` at `version` (a module it does not load is not checked). */
export function checkRunnable(running: VersionMap, module: string, version: number): void {
  if (!Object.hasOwn(running, module)) return;
  const mine = running[module] as number;
  if (version > mine) throw new ModuleVersionError(module, version, mine);
}

/** The module holding the active versions; `running` answers its query's `running` field. */
export function moduleVersionsModule(running: VersionMap): ModuleDefinition {
  return defineModule({
    name: VERSIONS_MODULE,
    commands: {
      [ACTIVATE_COMMAND]: command({
        schema: t.object({
          versions: t.array(t.object({
            module: t.string({ minLength: 1, maxLength: 64, pattern: MODULE_NAME_PATTERN.source.slice(1, -1) }),
            version: t.integer({ min: 1, max: MAX_MODULE_VERSION }),
          }), { minItems: 1, maxItems: MAX_ACTIVATIONS_PER_ENTRY }),
        }),
        // Only raises: a late or repeated activation changes nothing.
        handle(ctx, { versions }) {
          const raised: { module: string; version: number }[] = [];
          for (const { module, version } of versions) {
            if (version <= activeVersion(ctx.store, module)) continue;
            ctx.store.set(activeKey(module), version);
            raised.push({ module, version });
          }
          return ok({ raised });
        },
      }),
    },
    queries: {
      [VERSIONS_QUERY]: query({
        schema: t.object({}),
        handle: (ctx) => ok(Object.fromEntries(Object.keys(running).map((m) => [m, { running: running[m] as number, active: activeVersion(ctx.store, m) }]))),
      }),
    },
  });
}
