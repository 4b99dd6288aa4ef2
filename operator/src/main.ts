#!/usr/bin/env node
// `catga-operator`: reads its configuration, connects in cluster or with KUBECONFIG, runs until
// SIGTERM/SIGINT, then shuts down gracefully (lease released, in-flight passes drained).
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig, refuseArguments } from './machinery/config.js';
import { jsonLogger } from './machinery/log.js';
import { startOperator } from './operator.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    refuseArguments(process.argv.slice(2));
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`catga-operator: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = jsonLogger(config.logLevel, { component: 'catga-operator' });
  const kc = new KubeConfig();
  kc.loadFromDefault();
  let stopping = false;
  const running = await startOperator(kc, config, log, (reason) => {
    log.error('fatal', { reason });
    process.exit(1);
  });
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    running.stop().then(() => process.exit(0), (err: Error) => {
      log.error('shutdown failed', { error: err.message });
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`catga-operator: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
