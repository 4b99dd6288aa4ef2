// Child processes of the harness: start with output to a log file, wait for exit, stop with
// SIGTERM then SIGKILL after a grace period. Every child is tracked for last-resort cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { trackChild } from './cleanup.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Lines of a log file quoted in error messages. */
export const LOG_TAIL_LINES = 25;

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL if the child is still running after graceMs. */
export async function terminate(child: ChildProcess, graceMs: number): Promise<ExitStatus> {
  const exited = exitOf(child);
  if (!isRunning(child)) return exited;
  child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') child.kill('SIGKILL');
  return exited;
}

/** The last lines of a log file, for error messages. */
export function logTail(path: string, lines = LOG_TAIL_LINES): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** A long-running child whose stdout and stderr go to logFile. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly logFile: string;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    const log = openSync(options.logFile, 'a');
    try {
      this.child = spawn(options.command, options.args, {
        stdio: ['ignore', log, log],
        env: options.env ?? process.env,
      });
    } finally {
      closeSync(log);
    }
    trackChild(this.child);
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** Why it is not running, with the end of its log; undefined while it runs. */
  deathNotice(): string | undefined {
    if (this.running) return undefined;
    const { exitCode, signalCode } = this.child;
    return `${this.name} exited (code ${exitCode}, signal ${signalCode}); end of ${this.logFile}:\n${logTail(this.logFile)}`;
  }

  stop(graceMs: number): Promise<ExitStatus> {
    return terminate(this.child, graceMs);
  }
}
