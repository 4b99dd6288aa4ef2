// The event fan-out benchmark's receiving side, run as its own process so that subscribers do not
// share an event loop with the publisher: opens N WebSocket subscriptions spread over the nodes,
// counts delivered events, samples the delay from an event's timestamp to its arrival, and prints
// one JSON line when told to stop (SIGTERM).
//
// Like the load generator it speaks the protocol over raw sockets: the handshake, then a walk over
// frame headers. Every frame must be one text message holding one event (docs/api.md#events), and is
// counted as one; only one frame in DELAY_SAMPLE_EVERY is decoded, for its timestamp. A `ws`
// client costs several microseconds per message, which at a million messages a second is the
// whole of a core taken from the nodes being measured.
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { dialBench } from './load.js';

interface Args {
  readonly urls: readonly string[];
  readonly count: number;
  /** Log index to resume after, so that only events published during the run arrive. */
  readonly from: number;
  /** The CA of https:// urls. */
  readonly ca?: string;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DELAY_SAMPLE_EVERY = 16;
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const MAX_HANDSHAKE_BYTES = 16 * 1024;
/** A client's close frame: FIN + close, masked (as every client frame must be), no payload. */
const MASKED_EMPTY_CLOSE = Buffer.from([0x88, 0x80, 0, 0, 0, 0]);

interface Counts {
  events: number;
  closedEarly: number;
  anomalies: number;
  readonly delays: number[];
}

/** Reads one subscription's frames from its socket after the handshake; counts into `counts`. */
class FrameCounter {
  private pending: Buffer = Buffer.alloc(0);
  private frames = 0;

  constructor(
    private readonly counts: Counts,
    /** The server sent a close frame. */
    private readonly onClose: () => void,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      const b0 = buf[at]!;
      let length = buf[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = buf.readUInt32BE(at + 2) * 0x1_0000_0000 + buf.readUInt32BE(at + 6);
        header = 10;
      }
      if (buf.length - at < header + length) break;
      const opcode = b0 & 0x0f;
      if (opcode === OPCODE_TEXT && (b0 & 0x80) !== 0) {
        this.counts.events++;
        if (this.frames++ % DELAY_SAMPLE_EVERY === 0) this.sample(buf.subarray(at + header, at + header + length));
      } else if (opcode === OPCODE_CLOSE) {
        this.onClose();
      } else {
        this.counts.anomalies++; // a fragment, binary or control frame: not one event per message
      }
      at += header + length;
    }
    this.pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
  }

  private sample(payload: Buffer): void {
    const text = payload.toString('utf8');
    const i = text.lastIndexOf('"ts":');
    if (i < 0) this.counts.anomalies++;
    else this.counts.delays.push(Date.now() - parseInt(text.slice(i + 5), 10));
  }
}

/** Opens one subscription: resolves with its socket once the server answered 101. */
function subscribe(url: string, ca: string | undefined, counts: Counts): Promise<Socket> {
  const u = new URL(url);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  return new Promise((resolve, reject) => {
    const socket = dialBench(u, ca);
    let head = Buffer.alloc(0);
    let counter: FrameCounter | null = null;
    socket.write(
      `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.on('data', (chunk: Buffer) => {
      if (counter !== null) return counter.push(chunk);
      head = Buffer.concat([head, chunk]);
      const headEnd = head.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        if (head.length > MAX_HANDSHAKE_BYTES) socket.destroy(new Error('handshake answer too long'));
        return;
      }
      const text = head.toString('latin1', 0, headEnd);
      const answered = /\r\nsec-websocket-accept:[ \t]*(\S+)/i.exec(text)?.[1];
      if (!text.startsWith('HTTP/1.1 101 ') || answered !== accept) {
        socket.destroy(new Error(`subscription refused: ${text.split('\r\n')[0]}`));
        return;
      }
      // Closed by the server before the end of the run: by a close frame, or a socket that went away.
      let ended = false;
      const closedByServer = (): void => {
        if (ended) return;
        ended = true;
        counts.closedEarly++;
        socket.end(MASKED_EMPTY_CLOSE); // the closing handshake's answer; the server then hangs up
      };
      socket.on('close', closedByServer);
      counter = new FrameCounter(counts, closedByServer);
      resolve(socket);
      if (head.length > headEnd + 4) counter.push(head.subarray(headEnd + 4));
    });
    socket.on('error', reject);
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const counts: Counts = { events: 0, closedEarly: 0, anomalies: 0, delays: [] };
  const sockets = await Promise.all(Array.from({ length: args.count }, (_, i) =>
    subscribe(`${args.urls[i % args.urls.length]!.replace(/^http/, 'ws')}/v1/events?types=kv.changed&from=${args.from}`, args.ca, counts)));
  process.stdout.write('ready\n');
  // Stay up until told to stop, even if the server closed every subscription.
  const keepAlive = setInterval(() => {}, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    const delays = counts.delays.sort((a, b) => a - b);
    const pick = (q: number) => delays.length === 0 ? NaN : delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!;
    const result = { events: counts.events, closedEarly: counts.closedEarly, anomalies: counts.anomalies, p50ms: pick(0.5), p99ms: pick(0.99) };
    for (const s of sockets) s.destroy();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`subscribers: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
