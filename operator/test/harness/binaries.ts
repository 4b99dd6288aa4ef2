// Paths of the binaries `make tools` builds into bin/; a missing one fails loudly.
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../repo-paths.js';
import { HarnessError } from './errors.js';

export const BIN_DIR = resolve(REPO_ROOT, 'bin');

export type Tool = 'etcd' | 'kube-apiserver' | 'kube-controller-manager';

/** The path of bin/<tool>; throws TOOLS_MISSING (telling to run `make tools`) when absent. */
export function toolPath(tool: Tool): string {
  const path = resolve(BIN_DIR, tool);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new HarnessError('TOOLS_MISSING', `${path} is missing or not executable: run make tools`);
  }
  return path;
}
