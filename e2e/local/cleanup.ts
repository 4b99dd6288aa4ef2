// Owns teardown of everything the harness creates (namespaces, links, daemons, processes): a
// registry of synchronous cleanup actions that runs from test `after` hooks and, as a last
// resort, from the process 'exit' / SIGINT / SIGTERM handlers, so an interrupted run leaves
// nothing behind.
import { execFileSync } from 'node:child_process';

type CleanupAction = () => void;

const actions = new Map<number, { name: string; run: CleanupAction }>();
let nextId = 1;
let handlersInstalled = false;

function runAction(id: number): void {
  const action = actions.get(id);
  if (action === undefined) return;
  actions.delete(id);
  try {
    action.run();
  } catch (err) {
    process.stderr.write(`cleanup ${action.name} failed: ${(err as Error).message}\n`);
  }
}

/** Runs every registered action, newest first (processes before the namespaces they live in). */
export function runAllCleanups(): void {
  const ids = [...actions.keys()].sort((a, b) => b - a);
  for (const id of ids) runAction(id);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runAllCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAllCleanups();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Registers a synchronous cleanup action; the returned function runs it now (once) and unregisters it. */
export function registerCleanup(name: string, run: CleanupAction): () => void {
  installHandlers();
  const id = nextId++;
  actions.set(id, { name, run });
  return () => runAction(id);
}

/** Runs a command synchronously, ignoring failure (for teardown of things that may already be gone). */
export function runQuietly(cmd: string, args: readonly string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // already gone
  }
}

/** Sends SIGKILL to one process id, ignoring "no such process". */
export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already exited
  }
}
