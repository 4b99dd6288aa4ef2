// One HTTP attempt for the client, over the standard fetch API (Node and browsers alike): a JSON
// request to one endpoint with a timeout, answered as a parsed response or as a classified
// connection failure (refused before anything was sent, or an unknown outcome). Knows nothing
// about retries; see requests.ts.

/** Bound on a response body the client reads. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export type Attempt =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfterMs: number | null; readonly body: unknown }
  /** `refused`: the request certainly never reached a server (safe to send elsewhere). */
  | { readonly kind: 'failure'; readonly refused: boolean; readonly code: string; readonly message: string };

/** Connection errors (Node's fetch reports them as the failure's `cause.code`) that mean nothing was sent. */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** One POST; settles (never rejects) on an answer, a connection failure, `timeoutMs` or `signal`. */
export async function attempt(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const failed = (error: unknown): Attempt => {
    if (signal.aborted) return { kind: 'failure', refused: false, code: 'CLIENT_CLOSED', message: 'the client was closed' };
    if (timeout.aborted) return { kind: 'failure', refused: false, code: 'ATTEMPT_TIMEOUT', message: `no answer from ${url.host} within ${timeoutMs} ms` };
    const code = causeCode(error) ?? 'CONNECTION_FAILED';
    return { kind: 'failure', refused: REFUSED_CODES.has(code), code, message: `${url.host}: ${(error as Error).message}${code === 'CONNECTION_FAILED' ? '' : ` (${code})`}` };
  };
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any([signal, timeout]), redirect: 'error' });
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
    const bytes = await readBounded(res);
    if (bytes === null) return { kind: 'failure', refused: false, code: 'RESPONSE_TOO_LARGE', message: `response larger than ${MAX_RESPONSE_BYTES} bytes` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      parsed = { ok: false, error: { code: 'BAD_RESPONSE', message: `HTTP ${res.status} with a body that is not JSON` } };
    }
    return { kind: 'response', status: res.status, retryAfterMs, body: parsed };
  } catch (error) {
    return failed(error);
  }
}

/** The system error code under a fetch failure (also inside an AggregateError of several addresses). */
function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown; errors?: Array<{ code?: unknown }> } } | null)?.cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The body, or null once it passes MAX_RESPONSE_BYTES (the rest is not read). */
async function readBounded(res: Response): Promise<Uint8Array | null> {
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
