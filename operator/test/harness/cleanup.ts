// Last-resort cleanup of what the harness started, for when a test process ends without calling
// stop() (a failed assertion, an uncaught exception, SIGINT/SIGTERM from the test runner):
// kills the child processes still tracked and removes the temp dirs still tracked, synchronously.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooksInstalled = false;

function cleanupNow(): void {
  for (const child of liveChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.kill(process.pid, signal); // the default action, now that our listener is gone
    });
  }
}

/** Kill this child (SIGKILL) if the process exits while it still runs. */
export function trackChild(child: ChildProcess): void {
  installHooks();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Remove this directory if the process exits before releaseDir(). */
export function trackDir(dir: string): void {
  installHooks();
  liveDirs.add(dir);
}

/** Remove a tracked directory now (keep = leave it on disk, e.g. logs to debug a failure). */
export function releaseDir(dir: string, keep = false): void {
  liveDirs.delete(dir);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
