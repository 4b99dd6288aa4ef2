// Renders the Helm chart with the repository's helm (bin/helm, built by `make tools`) for the chart,
// alert and dashboard tests: one place for the helm invocation and the parsed objects.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import yaml from 'js-yaml';
import { CHART_DIR, HELM_BIN } from './repo-paths.js';

export const KUBE_VERSION = '1.31.0';
export const RELEASE_NAMESPACE = 'ops';

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

export function helm(...args: string[]): string {
  assert.ok(existsSync(HELM_BIN), `${HELM_BIN} is missing: run \`make tools\` first`);
  return execFileSync(HELM_BIN, args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The chart rendered as release `rel` in namespace `ops`, each `set` a `--set key=value`. */
export function render(...set: string[]): Obj[] {
  const out = helm('template', 'rel', CHART_DIR, '--namespace', RELEASE_NAMESPACE, '--include-crds', '--kube-version', KUBE_VERSION, ...set.flatMap((s) => ['--set', s]));
  return yaml.loadAll(out).filter((d): d is Obj => d !== null && typeof d === 'object');
}

export const byKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
