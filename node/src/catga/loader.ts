// Loading user handler modules (CATGA_HANDLERS: comma-separated paths). A module's default export
// (or its `module` export) is a module definition, a list of them (an application's index), or a
// function `(catga) => definition`
// that receives the mediator's API object: such a module needs no import at all, so it runs as
// plain .mjs next to a node started from node/dist or from a container image alike. A `.ts` module
// is imported as it is: Node strips its types (erasable syntax only: no enums, namespaces or
// parameter properties), and its `import ... from 'catga'` resolves through the application's
// node_modules (or the package itself, inside it) to the same module instance the node runs.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { catgaApi, defineModule, type CatgaApi, type ModuleDefinition } from './api.js';
import { CodedError } from '../common/errors.js';

/** Bound on module files named in CATGA_HANDLERS, and on the modules they define. */
export const MAX_HANDLER_MODULES = 64;

export class LoadError extends CodedError<'HANDLER_MODULE_NOT_FOUND' | 'HANDLER_MODULE_INVALID' | 'TOO_MANY_HANDLER_MODULES'> {}

/** Splits a CATGA_HANDLERS value into paths (empty or unset: none). */
export function parseHandlerPaths(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((path) => path.trim())
    .filter((path) => path.length > 0);
}

/** Imports each module (relative paths resolve against `cwd`) and checks its definition. Throws LoadError. */
export async function loadHandlerModules(paths: readonly string[], cwd: string = process.cwd()): Promise<ModuleDefinition[]> {
  if (paths.length > MAX_HANDLER_MODULES) throw new LoadError('TOO_MANY_HANDLER_MODULES', `at most ${MAX_HANDLER_MODULES} handler modules, got ${paths.length}`);
  const modules: ModuleDefinition[] = [];
  for (const path of paths) {
    const file = isAbsolute(path) ? path : resolve(cwd, path);
    let exports: { default?: unknown; module?: unknown };
    try {
      exports = (await import(pathToFileURL(file).href)) as typeof exports;
    } catch (error) {
      const nodeCode = (error as { code?: string }).code;
      const code = nodeCode === 'ERR_MODULE_NOT_FOUND' ? 'HANDLER_MODULE_NOT_FOUND' : 'HANDLER_MODULE_INVALID';
      const hint = nodeCode === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' ? ' (a .ts handler module is loaded with its types stripped: use erasable syntax only, or load its compiled .js)' : '';
      throw new LoadError(code, `cannot import handler module ${file}: ${(error as Error).message}${hint}`);
    }
    const exported = exports.default ?? exports.module;
    if (Array.isArray(exported) && exported.length === 0) throw new LoadError('HANDLER_MODULE_INVALID', `handler module ${file}: its default export is an empty list of modules`);
    for (const one of Array.isArray(exported) ? (exported as unknown[]) : [exported]) modules.push(definitionOf(one, file));
  }
  if (modules.length > MAX_HANDLER_MODULES) throw new LoadError('TOO_MANY_HANDLER_MODULES', `at most ${MAX_HANDLER_MODULES} handler modules, got ${modules.length}`);
  return modules;
}

function definitionOf(exported: unknown, file: string): ModuleDefinition {
  let definition = exported;
  try {
    if (typeof exported === 'function') definition = (exported as (api: CatgaApi) => unknown)(catgaApi);
    if (definition === null || typeof definition !== 'object') throw new Error('the default export is neither a module definition nor a function returning one');
    return defineModule(definition as ModuleDefinition);
  } catch (error) {
    throw new LoadError('HANDLER_MODULE_INVALID', `handler module ${file}: ${(error as Error).message}`);
  }
}
