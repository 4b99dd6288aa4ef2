// The event fan-out benchmark's receiving side, run as its own process so that subscribers do not
// share an event loop with the publisher: opens N WebSocket subscriptions spread over the nodes,
// counts delivered events without parsing whole frames, samples the delay from each frame's last
// event timestamp to its arrival, and prints one JSON line when told to stop (SIGTERM).
import WebSocket from 'ws';

interface Args {
  readonly urls: readonly string[];
  readonly count: number;
  /** Log index to resume after, so that only events published during the run arrive. */
  readonly from: number;
}

const MARK = '"index":';

function countEvents(frame: string): number {
  let n = 0;
  for (let i = frame.indexOf(MARK); i >= 0; i = frame.indexOf(MARK, i + MARK.length)) n++;
  return n;
}

function lastTs(frame: string): number {
  const i = frame.lastIndexOf('"ts":');
  return i < 0 ? NaN : parseInt(frame.slice(i + 5), 10);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  let events = 0;
  let frames = 0;
  let closedEarly = 0;
  const delays: number[] = [];
  const sockets: WebSocket[] = [];
  await Promise.all(Array.from({ length: args.count }, (_, i) => new Promise<void>((resolve, reject) => {
    const url = args.urls[i % args.urls.length]!.replace(/^http/, 'ws') + `/v1/events?types=kv.changed&from=${args.from}`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(ws);
    ws.on('open', () => resolve());
    ws.on('error', reject);
    ws.on('close', () => { closedEarly++; });
    ws.on('message', (data: Buffer) => {
      const frame = data.toString('utf8');
      events += countEvents(frame);
      if ((frames++ & 15) === 0) delays.push(Date.now() - lastTs(frame));
    });
  })));
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    delays.sort((a, b) => a - b);
    const pick = (q: number) => delays.length === 0 ? NaN : delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!;
    const result = { events, frames, closedEarly: closedEarly, p50ms: pick(0.5), p99ms: pick(0.99) };
    for (const ws of sockets) ws.terminate();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`subscribers: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
