// One HTTP attempt for the client: a JSON request to one endpoint with a timeout, answered as a
// parsed response or as a classified connection failure (refused before anything was sent, or an
// unknown outcome). Knows nothing about retries; see requests.ts.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Bound on a response body the client reads. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export type Attempt =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfterMs: number | null; readonly body: unknown }
  /** `refused`: the request certainly never reached a server (safe to send elsewhere). */
  | { readonly kind: 'failure'; readonly refused: boolean; readonly code: string; readonly message: string };

const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export class Agents {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 64 });

  for(url: URL): HttpAgent {
    return url.protocol === 'https:' ? this.https : this.http;
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** One POST; settles (never rejects) on an answer, a connection failure, `timeoutMs` or `signal`. */
export function attempt(agents: Agents, url: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const onAbort = (): void => {
      settle({ kind: 'failure', refused: false, code: 'CLIENT_CLOSED', message: 'the client was closed' });
      req.destroy();
    };
    const settle = (result: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const req = send(url, { method: 'POST', agent: agents.for(url), headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => readResponse(res, settle));
    const timer = setTimeout(() => {
      settle({ kind: 'failure', refused: false, code: 'ATTEMPT_TIMEOUT', message: `no answer from ${url.host} within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'CONNECTION_FAILED';
      settle({ kind: 'failure', refused: REFUSED_CODES.has(code), code, message: `${url.host}: ${error.message}` });
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
    req.end(body);
  });
}

function readResponse(res: IncomingMessage, settle: (result: Attempt) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      res.destroy();
      settle({ kind: 'failure', refused: false, code: 'RESPONSE_TOO_LARGE', message: `response larger than ${MAX_RESPONSE_BYTES} bytes` });
      return;
    }
    chunks.push(chunk);
  });
  res.on('error', (error) => settle({ kind: 'failure', refused: false, code: 'CONNECTION_FAILED', message: error.message }));
  res.on('end', () => {
    const status = res.statusCode ?? 0;
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      body = { ok: false, error: { code: 'BAD_RESPONSE', message: `HTTP ${status} with a body that is not JSON` } };
    }
    settle({ kind: 'response', status, retryAfterMs, body });
  });
}
