// `make e2e-k8s` as part of `make test`: the user's path on a real single-node Kubernetes started
// here (e2e/k8s/run.sh: images from the Dockerfiles, helm install, kubectl apply, faults checked by
// Porcupine, Prometheus against the dashboard, scale, roll, delete). Its summary line and, on
// failure, the last lines of its output are reported here; the run's files stay in /tmp.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** A cold run (base image, both images, cluster) took 896 s on 2 busy cores; a warm one 220 s. */
const TIMEOUT_MS = 40 * 60_000;
const isRoot = process.getuid?.() === 0;

test('make e2e-k8s: Catga on a real single-node Kubernetes', { skip: !isRoot && 'needs root (containerd, mounts, network)', timeout: TIMEOUT_MS }, async (t) => {
  const lines: string[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    const run = spawn('bash', [resolve(ROOT, 'e2e/k8s/run.sh')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(line);
      if (lines.length > 4000) lines.splice(0, lines.length - 2000);
    };
    run.stdout.on('data', keep);
    run.stderr.on('data', keep);
    run.on('error', fail);
    run.on('close', done);
  });
  const summary = lines.filter((l) => /PASSED|FAILED/.test(l)).at(-1) ?? '(no summary line)';
  t.diagnostic(summary);
  assert.equal(code, 0, `e2e/k8s/run.sh exited ${code}: ${summary}\n${lines.slice(-80).join('\n')}`);
});
