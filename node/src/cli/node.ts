// `catga node`: one cluster member, the container entrypoint. Reads flags and CATGA_* variables,
// starts the node, and turns SIGTERM/SIGINT into a graceful shutdown within the grace period.
// With --cpu-prof it records a V8 CPU profile of the whole run into the data directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { ConfigError, configHelp, loadConfig } from '../runtime/config.js';
import { startNode } from '../runtime/node.js';

export async function runNodeCli(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: catga node [flags]\n\nEvery flag has a CATGA_* environment twin:\n${configHelp()}\n`);
    return 0;
  }
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`catga node: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  let profiler: Session | null = null;
  if (cfg.cpuProf) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }

  const node = await startNode(cfg);
  const onSignal = (sig: NodeJS.Signals) => { void node.shutdown(sig); };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await node.stopped;

  if (profiler !== null) {
    const { profile } = await profiler.post('Profiler.stop');
    const file = join(cfg.dataDir, `catga-${cfg.nodeId}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`catga node: CPU profile written to ${file}\n`);
    profiler.disconnect();
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
