// Paths of repository files the tests read, resolved from the compiled test's location
// (operator/dist/test/*.js) so tests run from any working directory.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const CRD_PATH = resolve(REPO_ROOT, 'crds/catgaclusters.catga.io.yaml');
export const CHART_DIR = resolve(REPO_ROOT, 'charts/catga-operator');
export const HELM_BIN = resolve(REPO_ROOT, 'bin/helm');
