// Test fixture: one real `catga node` (a lone member, its own cluster) started in this process,
// so a test can open thousands of sockets against it and read its metrics and memory directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/local-cluster.js';
import { loadConfig } from '../../src/runtime/config.js';
import { startNode, type RunningNode } from '../../src/runtime/node.js';

export interface LoneNode {
  readonly node: RunningNode;
  readonly url: string;
  readonly port: number;
  /** The value of one unlabelled metric (a gauge or counter) from GET /metrics. */
  metric(name: string): Promise<number>;
  /** Every series line of /metrics whose name starts with `prefix`. */
  series(prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startLoneNode(env: Record<string, string> = {}): Promise<LoneNode> {
  const dir = mkdtempSync(join(tmpdir(), 'catga-lone-'));
  const port = await freePort();
  const cfg = loadConfig([], {
    CATGA_NODE_ID: 'n1',
    CATGA_DATA_DIR: dir,
    CATGA_BIND_HOST: '127.0.0.1',
    CATGA_HTTP_PORT: String(port),
    CATGA_PEER_PORT: String(await freePort()),
    CATGA_LOG_LEVEL: 'error',
    ...env,
  });
  const node = await startNode(cfg);
  const url = `http://127.0.0.1:${port}`;
  const metricsText = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
  const lone: LoneNode = {
    node,
    url,
    port,
    async metric(name) {
      const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${name} `));
      if (line === undefined) throw new Error(`no metric ${name}`);
      return Number(line.slice(name.length + 1));
    },
    async series(prefix) {
      return (await metricsText()).split('\n').filter((l) => l.startsWith(prefix));
    },
    async stop() {
      await node.shutdown('test done');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // A lone node elects itself; wait until it can take commands.
  const deadline = Date.now() + 10_000;
  while (!node.api.readiness().isLeader) {
    if (Date.now() > deadline) throw new Error('the lone node did not become leader');
    await new Promise((r) => setTimeout(r, 20));
  }
  return lone;
}
