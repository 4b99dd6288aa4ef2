// `catga node`: one cluster member, the container entrypoint. Reads flags and CATGA_* variables
// (a flag it refuses: the message, the usage and exit 2; a value a setting refuses: exit 2), starts
// the node, and turns SIGTERM/SIGINT into a graceful shutdown within the grace period.
// With --cpu-prof it records a V8 CPU profile of the whole run into the data directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { ConfigError, configHelp, loadConfig, NODE_USAGE, type NodeConfig } from '../runtime/config.js';
import { parseOrExplain } from '../common/flags.js';
import { startNode } from '../runtime/node.js';

export async function runNodeCli(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${NODE_USAGE}\n\nEvery flag has a CATGA_* environment twin:\n${configHelp()}\n`);
    return 0;
  }
  let cfg: NodeConfig | null;
  try {
    cfg = parseOrExplain('node', NODE_USAGE, argv, (flags) => loadConfig(flags, process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`catga node: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cfg === null) return 2;

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
