// A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each sending its
// next request as soon as the previous answer arrives, for a fixed time. The same generator drives
// Catga and etcd, so their figures differ only by the server.
//
// It speaks HTTP/1.1 over raw sockets (request bytes written whole, answers parsed only for the
// status, Content-Length or chunked framing, and Connection: close) because it shares the two
// cores with the servers it measures: node:http's client costs about three times as much CPU
// per request, which is CPU taken from whichever server is being measured. Latencies are kept
// whole (a few hundred thousand numbers at most) and sorted once for percentiles.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface LoadTarget {
  /** `http://host:port` of each server; connection i talks to urls[i % urls.length]. */
  readonly urls: readonly string[];
  readonly path: string;
  /** The body of request number `n` (bodies differ so keys spread). */
  readonly body: (n: number) => string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The CA of `https://` urls (a cluster run with TLS). */
  readonly ca?: string;
}

/** A TCP connection to `url`, through TLS for https:/wss: (trusting `ca`). Writes may start at once. */
export function dialBench(url: URL, ca: string | undefined): Socket {
  const host = url.hostname;
  const port = Number(url.port);
  if (url.protocol === 'https:' || url.protocol === 'wss:') return tlsConnect({ host, port, ca }).setNoDelay(true);
  return connect({ host, port, noDelay: true });
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50ms: number;
  readonly p99ms: number;
  /** The first error seen, for the report. */
  readonly firstError: string | null;
}

/** Longest a single request may take before it counts as an error. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** An answer's head (status line and headers) larger than this is an error. */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;
/** An answer's body larger than this is an error (the benchmark's answers are small). */
export const MAX_RESPONSE_BODY_BYTES = 16 * 1024 * 1024;
/** How much of an error answer's body the report keeps. */
const ERROR_TEXT_CHARS = 200;

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** One complete answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
  /** The server said `Connection: close`: this socket carries no further request. */
  readonly close: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Incremental parser of HTTP/1.1 answers on one connection: feed it the socket's chunks, it
 * returns each complete answer. Throws on anything it does not understand (the connection is
 * then useless and is dropped).
 */
export class AnswerParser {
  private pending: Buffer = Buffer.alloc(0);

  /** Appends `chunk`; returns the answer it completes, or null if more bytes are needed. */
  push(chunk: Buffer): HttpAnswer | null {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const headEnd = this.pending.indexOf(HEAD_END);
    if (headEnd < 0) {
      if (this.pending.length > MAX_RESPONSE_HEAD_BYTES) throw new Error(`answer head over ${MAX_RESPONSE_HEAD_BYTES} bytes`);
      return null;
    }
    const head = this.pending.toString('latin1', 0, headEnd);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (status === null) throw new Error(`not an HTTP/1.1 answer: ${JSON.stringify(head.slice(0, 40))}`);
    const close = /\r\nconnection:[ \t]*close/i.test(head);
    const bodyStart = headEnd + HEAD_END.length;
    const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    let body: Buffer | null;
    let end: number;
    if (length !== null) {
      const n = Number(length[1]);
      if (n > MAX_RESPONSE_BODY_BYTES) throw new Error(`answer body of ${n} bytes`);
      end = bodyStart + n;
      body = this.pending.length >= end ? this.pending.subarray(bodyStart, end) : null;
    } else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
      [body, end] = dechunk(this.pending, bodyStart);
    } else {
      throw new Error('answer with neither Content-Length nor chunked encoding');
    }
    if (body === null) return null;
    if (end !== this.pending.length) throw new Error('bytes after the answer to the only request in flight');
    this.pending = Buffer.alloc(0);
    return { status: Number(status[1]), body, close };
  }
}

/** The body of a chunked answer starting at `at` and where it ends, or null if incomplete. */
function dechunk(buf: Buffer, at: number): [Buffer | null, number] {
  const parts: Buffer[] = [];
  let size = 0;
  let pos = at;
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, pos);
    if (lineEnd < 0) return [null, 0];
    const chunkSize = parseInt(buf.toString('latin1', pos, lineEnd), 16);
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 0) throw new Error('bad chunk size');
    size += chunkSize;
    if (size > MAX_RESPONSE_BODY_BYTES) throw new Error(`answer body over ${MAX_RESPONSE_BODY_BYTES} bytes`);
    const dataEnd = lineEnd + CRLF.length + chunkSize;
    if (buf.length < dataEnd + CRLF.length) return [null, 0];
    if (chunkSize === 0) {
      // No trailers are expected: the terminating chunk is followed by the final CRLF.
      return [Buffer.concat(parts), dataEnd + CRLF.length];
    }
    parts.push(buf.subarray(lineEnd + CRLF.length, dataEnd));
    pos = dataEnd + CRLF.length;
  }
}

/** One keep-alive connection that carries one request at a time; redialled after any failure. */
export class Connection {
  private socket: Socket | null = null;
  private parser = new AnswerParser();
  private waiting: ((answer: HttpAnswer | Error) => void) | null = null;

  constructor(private readonly url: URL, private readonly ca: string | undefined) {}

  request(bytes: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('timeout')), REQUEST_TIMEOUT_MS);
      this.waiting = (answer) => {
        clearTimeout(timer);
        this.waiting = null;
        if (answer instanceof Error) reject(answer);
        else resolve(answer);
      };
      (this.socket ?? this.dial()).write(bytes);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private dial(): Socket {
    const socket = dialBench(this.url, this.ca);
    this.parser = new AnswerParser();
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      let answer: HttpAnswer | null;
      try {
        answer = this.parser.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (answer === null) return;
      if (answer.close) this.close();
      this.waiting?.(answer);
    });
    socket.on('error', (err) => {
      if (socket === this.socket) this.fail(err);
    });
    socket.on('close', () => {
      if (socket === this.socket) this.fail(new Error('connection closed by the server'));
    });
    this.socket = socket;
    return socket;
  }

  /** Drops the connection (the next request redials) and fails the request in flight, if any. */
  private fail(err: Error): void {
    this.close();
    this.waiting?.(err);
  }
}

export async function runLoad(target: LoadTarget, connections: number, seconds: number): Promise<LoadResult> {
  const parsed = target.urls.map((u) => new URL(u));
  const extra = Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const heads = parsed.map((u) => `POST ${target.path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n${extra}Content-Length: `);
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let errors = 0;
  let firstError: string | null = null;
  let n = 0;
  const started = performance.now();
  const end = started + seconds * 1000;

  const record = (ms: number): void => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[count++] = ms;
  };

  const loop = async (i: number): Promise<void> => {
    const conn = new Connection(parsed[i % parsed.length]!, target.ca);
    const head = heads[i % heads.length]!;
    try {
      while (performance.now() < end) {
        const body = target.body(n++);
        const t0 = performance.now();
        try {
          const answer = await conn.request(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
          if (answer.status === 200) record(performance.now() - t0);
          else {
            errors++;
            firstError ??= `${answer.status} ${answer.body.toString('utf8', 0, ERROR_TEXT_CHARS)}`;
          }
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    } finally {
      conn.close();
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  return {
    requests: count, errors, seconds: elapsed, perSecond: count / elapsed,
    p50ms: percentile(sorted, 0.5), p99ms: percentile(sorted, 0.99), firstError,
  };
}

/** One request on its own connection (`body` null: a GET), over TLS for an https: url. */
export async function requestOnce(url: string, path: string, body: string | null, ca?: string): Promise<HttpAnswer> {
  const u = new URL(url);
  const conn = new Connection(u, ca);
  try {
    return await conn.request(body === null
      ? `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`
      : `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  } finally {
    conn.close();
  }
}

/** Sends requests until one answers 200 or the time is up (readiness of a server). */
export async function waitFor(url: string, path: string, body: string, timeoutMs: number, ca?: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const answer = await requestOnce(url, path, body, ca);
      if (answer.status === 200) return;
      last = `${answer.status} ${answer.body.toString('utf8', 0, ERROR_TEXT_CHARS)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}${path} not ready: ${last}`);
}
