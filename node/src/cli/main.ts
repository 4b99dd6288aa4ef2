#!/usr/bin/env node
// The `catga` command: `node` (one cluster member, the container entrypoint), `dev` (a local
// cluster), `sim` (deterministic Raft simulation), `bench` (the benchmark), `backup` and `restore`. Each verb's module
// is loaded only when used, so `catga node` starts without the simulator or the load generator.

import { USAGE } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'node': return (await import('./node.js')).runNodeCli(rest);
    case 'dev': return (await import('./dev.js')).runDevCli(rest);
    case 'sim': return (await import('../sim/cli.js')).runSimCli(rest);
    case 'bench': return (await import('../bench/cli.js')).runBenchCli(rest);
    case 'backup': return (await import('./backup.js')).runBackupCli(rest);
    case 'restore': return (await import('./backup.js')).runRestoreCli(rest);
    case undefined: case '-h': case '--help': case 'help':
      process.stdout.write(USAGE);
      return verb === undefined ? 2 : 0;
    default:
      process.stderr.write(`catga: unknown verb "${verb}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0 || process.exitCode === undefined) process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`catga: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
