// Test fixture: one real `catga node` (a lone member, its own cluster) started in this process,
// so a test can open thousands of sockets against it and read its metrics and memory directly.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnswerParser, type HttpAnswer } from '../../src/bench/load.js';
import { freePort } from '../../src/local/local-cluster.js';
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
    CATGA_OPEN_ACCESS: 'true',
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

/**
 * Sends `total` JSON POSTs over `connections` keep-alive sockets, each waiting for its answer
 * before the next (the bench's raw HTTP/1.1 client: fetch costs several times the CPU, which the
 * node in this process would lose). `check` sees every answer.
 */
export async function floodPosts(
  port: number,
  total: number,
  connections: number,
  pathOf: (i: number) => string,
  check: (i: number, answer: HttpAnswer) => void,
  body = '{}',
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const parser = new AnswerParser();
    let current = -1;
    const send = (): void => {
      if (next >= total) { socket.end(); return; }
      current = next++;
      socket.write(`POST ${pathOf(current)} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      try {
        const answer = parser.push(chunk);
        if (answer === null) return;
        check(current, answer);
        send();
      } catch (err) {
        socket.destroy();
        reject(err as Error);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  })));
  if (next < total) throw new Error(`only ${next} of ${total} requests were sent`);
}
