// WebSocket fan-out benchmark (not a test): what `ws` costs per message, and how much putting
// several events in one message would save (docs/measurements.md#websocket-fan-out). This process
// runs a `ws` server that sends the same pre-serialized payload to every subscriber as fast as
// their sockets drain; a second process holds the subscribers (`ws` clients) and counts messages
// without parsing them. Run: npx tsc -p node && node node/dist/bench/ws-fanout.js
// Knobs: CATGA_BENCH_SECONDS per row (default 5).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const SECONDS = Number(process.env.CATGA_BENCH_SECONDS ?? 5);
const ROWS: readonly [subscribers: number, eventsPerMessage: number][] = [[100, 1], [100, 50], [1000, 1], [1000, 50]];
const EVENT = '{"index":123456,"type":"kv.changed","data":{"key":"k42","value":"v42"},"ts":1764921600000}';
const HIGH_WATER = 256 * 1024;

function subscribe(port: number, n: number): void {
  let messages = 0;
  let open = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('open', () => { if (++open === n) process.send!({ ready: true }); });
    ws.on('message', () => { messages++; });
  }
  process.on('message', () => { process.send!({ messages }, () => process.exit(0)); });
}

async function row(subscribers: number, perMessage: number): Promise<void> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const payload = Buffer.from(perMessage === 1 ? EVENT : `[${Array(perMessage).fill(EVENT).join(',')}]`);
  const child = fork(fileURLToPath(import.meta.url), ['subscribe', String(port), String(subscribers)]);
  await new Promise<void>((r) => child.once('message', () => r()));
  const clients = [...wss.clients];
  const end = Date.now() + SECONDS * 1000;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (Date.now() >= end) return resolve();
      for (const c of clients) if (c.bufferedAmount < HIGH_WATER) c.send(payload, { binary: false });
      setImmediate(pump);
    };
    pump();
  });
  const elapsed = (performance.now() - started) / 1000;
  const counted = new Promise<number>((r) => child.once('message', (m) => r((m as { messages: number }).messages)));
  child.send('stop');
  const messages = await counted;
  for (const c of clients) c.terminate();
  wss.close();
  const deliveries = (messages * perMessage) / elapsed;
  console.log(`${String(subscribers).padStart(5)} subscribers  ${String(perMessage).padStart(3)} events/message  ${Math.round(messages / elapsed).toString().padStart(9)} messages/s  ${Math.round(deliveries).toString().padStart(10)} events/s in all  ${Math.round(deliveries / subscribers).toString().padStart(8)} per subscriber`);
}

if (process.argv[2] === 'subscribe') subscribe(Number(process.argv[3]), Number(process.argv[4]));
else {
  console.log(`${SECONDS} s per row, node ${process.version}, ${Buffer.byteLength(EVENT)}-byte events`);
  for (const [s, e] of ROWS) await row(s, e);
}
