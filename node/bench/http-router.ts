// HTTP router benchmark (not a test): what express's router costs against a route matched by hand
// on node:http, for a POST that parses a small JSON body and answers JSON. The reason the node's
// hot routes bypass express (docs/measurements.md#http-router). Each server runs in its own
// process; this process drives it with the bench's closed-loop load generator (64 keep-alive
// connections). Run: npx tsc -p node && node node/dist/bench/http-router.js
// Knobs: CATGA_BENCH_SECONDS per row (default 5), CATGA_BENCH_CONNECTIONS (default 64).
import { fork } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { runLoad } from '../src/bench/load.js';

const SECONDS = Number(process.env.CATGA_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CATGA_BENCH_CONNECTIONS ?? 64);
const KINDS = ['node:http, route matched by hand', 'express 5, route only, body read by hand', 'express 5 with express.json()'] as const;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify({ ok: true, value, index: 1 });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function serve(kind: number): void {
  let server: Server;
  if (kind === 0) {
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (req.method === 'POST' && url.startsWith('/v1/commands/')) {
        void readBody(req).then((b) => answer(res, { type: url.slice(13), got: JSON.parse(b) }));
      } else { res.statusCode = 404; res.end(); }
    });
  } else {
    const app = express();
    if (kind === 2) app.use(express.json());
    app.post('/v1/commands/:type', (req, res) => {
      if (kind === 2) return answer(res, { type: req.params['type'], got: req.body });
      void readBody(req).then((b) => answer(res, { type: req.params['type'], got: JSON.parse(b) }));
    });
    server = createServer(app);
  }
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.send!({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 });
  });
}

async function main(): Promise<void> {
  console.log(`${CONNECTIONS} connections, ${SECONDS} s per row, node ${process.version}`);
  for (let kind = 0; kind < KINDS.length; kind++) {
    const child = fork(fileURLToPath(import.meta.url), ['serve', String(kind)]);
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
    const r = await runLoad({ urls: [`http://127.0.0.1:${port}`], path: '/v1/commands/kv.put', body: (n) => `{"key":"k${n % 1000}","value":${n}}` }, CONNECTIONS, SECONDS);
    child.kill();
    console.log(`${KINDS[kind]!.padEnd(42)} ${Math.round(r.perSecond).toString().padStart(7)} requests/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
  }
}

if (process.argv[2] === 'serve') serve(Number(process.argv[3]));
else await main();
