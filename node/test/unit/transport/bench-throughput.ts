// Loopback throughput of the peer transport (not part of `make test`; run by hand):
//   node node/dist/test/unit/transport/bench-throughput.js [messages] [entryBytes] [burst]
// A receiver process and a sender process; the sender sends small one-entry appends in bursts of
// `burst` per event-loop turn (as a Raft driver sends a Ready's messages) while keeping its queue
// under the bound, with coalescing on (default batch) and off (maxBatchRecords = 1).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPeerTransport } from '../../../src/transport/index.js';
import { smallAppend } from './samples.js';

const [messages = 300_000, entryBytes = 64, burst = 64] = process.argv.slice(3).map(Number);
const common = { clusterId: 'bench', secret: 'bench-secret', listenHost: '127.0.0.1' };

async function receiver(): Promise<void> {
  const t = createPeerTransport({ ...common, id: 'b', listenPort: 0 });
  await t.start();
  let count = 0;
  t.onMessage(() => {
    if (++count === messages) process.send!({ done: true });
  });
  process.on('message', (m: { reset?: boolean; stop?: boolean }) => {
    if (m.reset) count = 0;
    if (m.stop) void t.close().then(() => process.exit(0));
  });
  process.send!({ port: t.port });
}

async function run(maxBatchRecords: number): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), ['receiver', String(messages), String(entryBytes), String(burst)]);
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const done = new Promise<void>((resolve) => child.on('message', (m: { done?: boolean }) => m.done && resolve()));
  const t = createPeerTransport({ ...common, id: 'a', listenPort: 0, maxBatchRecords });
  await t.start();
  t.setPeers({ b: `127.0.0.1:${port}` });
  const msgs = Array.from({ length: burst }, (_, i) => smallAppend('a', 'b', i + 1, entryBytes));
  const started = process.hrtime.bigint();
  let sent = 0;
  while (sent < messages) {
    const stats = t.peerStats('b')!;
    if (stats.state !== 'open' || stats.queuedRecords > 4096) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    for (let i = 0; i < burst && sent < messages; i++, sent++) t.send(msgs[i]!);
    await new Promise((r) => setImmediate(r));
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  child.send({ stop: true });
  await t.close();
  return messages / seconds;
}

if (process.argv[2] === 'receiver') {
  await receiver();
} else {
  for (const [label, batch] of [
    ['coalescing on ', 1024],
    ['coalescing off', 1],
  ] as const) {
    const rate = await run(batch);
    process.stdout.write(`${label}: ${Math.round(rate).toLocaleString('en')} messages/s (${messages} appends of ${entryBytes} B, bursts of ${burst})\n`);
  }
}
