// A closed-loop HTTP load generator: `connections` keep-alive connections, each sending its next
// request as soon as the previous answer arrives, for a fixed time. The same generator drives
// Catga and etcd, so their figures differ only by the server. Latencies are kept whole (a few
// hundred thousand numbers at most) and sorted once for percentiles.
import { Agent, request } from 'node:http';

export interface LoadTarget {
  /** `http://host:port` of each server; connection i talks to urls[i % urls.length]. */
  readonly urls: readonly string[];
  readonly path: string;
  /** The body of request number `n` (bodies differ so keys spread). */
  readonly body: (n: number) => string;
  readonly headers?: Readonly<Record<string, string>>;
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

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runLoad(target: LoadTarget, connections: number, seconds: number): Promise<LoadResult> {
  const agents = target.urls.map(() => new Agent({ keepAlive: true, maxSockets: connections }));
  const parsed = target.urls.map((u) => new URL(u));
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

  const one = (conn: number): Promise<void> => new Promise((resolve) => {
    const u = parsed[conn % parsed.length]!;
    const body = target.body(n++);
    const t0 = performance.now();
    const req = request({
      host: u.hostname, port: u.port, path: target.path, method: 'POST', agent: agents[conn % agents.length],
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...target.headers },
      timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      let text = '';
      const keep = res.statusCode !== 200 && firstError === null;
      res.on('data', (c: Buffer) => { if (keep) text += c.toString('utf8'); });
      res.on('end', () => {
        if (res.statusCode === 200) record(performance.now() - t0);
        else { errors++; firstError ??= `${res.statusCode} ${text.slice(0, 200)}`; }
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { errors++; firstError ??= e.message; resolve(); });
    req.end(body);
  });

  const loop = async (conn: number): Promise<void> => {
    while (performance.now() < end) await one(conn);
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  for (const a of agents) a.destroy();
  const sorted = latencies.subarray(0, count).sort();
  return {
    requests: count, errors, seconds: elapsed, perSecond: count / elapsed,
    p50ms: percentile(sorted, 0.5), p99ms: percentile(sorted, 0.99), firstError,
  };
}

/** Sends requests until `ok` says the answer is good or the time is up (readiness of a server). */
export async function waitFor(url: string, path: string, body: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const res = await fetch(url + path, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}${path} not ready: ${last}`);
}
