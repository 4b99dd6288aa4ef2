// Owns running short system commands (ip, nft) from the harness with a bounded time and a
// coded error carrying stderr.
import { execFile } from 'node:child_process';

export const COMMAND_TIMEOUT_MS = 15_000;

export class CommandError extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(readonly command: string, readonly stderr: string) {
    super(`${command}: ${stderr.trim()}`);
  }
}

/** Runs `cmd args` (optionally feeding `input` on stdin) and resolves with stdout. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${cmd} ${args.join(' ')}`, stderr || err.message));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
