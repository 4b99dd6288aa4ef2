// Owns the harness's HTTP calls to nodes: one bounded request with a hard timeout, answering the
// status and parsed JSON body, or failing with a coded error that says whether the request can
// have reached the server (needed to tell "not applied" from "outcome unknown"). Over HTTPS when
// the URL says so, trusting the endpoint's CA and checking the name the endpoint is known by.
import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const MAX_RESPONSE_BYTES = 1 << 20;

/** How a client trusts a node that speaks HTTPS: its cluster's CA, and a name its certificate carries. */
export interface EndpointTls {
  readonly ca: string;
  /** Checked against the certificate (a port-forward's URL is 127.0.0.1, which no node certificate names). */
  readonly servername: string;
}

/** A node as a client sees it: its id and its HTTP base URL (a local namespace or a port-forward). */
export interface Endpoint {
  readonly id: string;
  readonly url: string;
  /** Set when `url` is https:. */
  readonly tls?: EndpointTls;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: unknown;
  readonly raw: string;
}

export type HttpErrorCode = 'CONNECTION_REFUSED' | 'TIMEOUT' | 'CONNECTION_LOST' | 'RESPONSE_TOO_LARGE';

export class HttpError extends Error {
  constructor(readonly code: HttpErrorCode, message: string) {
    super(message);
  }
  /** True when the request certainly never reached the server (so it had no effect). */
  get neverSent(): boolean {
    return this.code === 'CONNECTION_REFUSED';
  }
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
  /** An https.Agent (which carries its own trust) for https: URLs. */
  readonly agent?: Agent;
  /** Trust for an https: URL sent without an agent. */
  readonly tls?: EndpointTls;
}

export function httpCall(url: string, options: RequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const common = { method: options.method ?? 'GET', headers, agent: options.agent ?? false };
    const req = url.startsWith('https:')
      ? httpsRequest(url, { ...common, ...(options.tls ? { ca: options.tls.ca, servername: options.tls.servername } : {}) })
      : httpRequest(url, common);
    const timer = setTimeout(() => {
      req.destroy(new HttpError('TIMEOUT', `${url}: no answer in ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (err instanceof HttpError) reject(err);
      else if (err.code === 'ECONNREFUSED') reject(new HttpError('CONNECTION_REFUSED', `${url}: ${err.message}`));
      else reject(new HttpError('CONNECTION_LOST', `${url}: ${err.message}`));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new HttpError('RESPONSE_TOO_LARGE', `${url}: body over limit`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = raw === '' ? null : JSON.parse(raw);
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, body, raw });
      });
      res.on('error', () => undefined); // surfaced through req's 'error'
    });
    req.end(options.body);
  });
}

/** Fetches `url` and returns the success body's `value`, or null on any failure. */
export async function getValue<T>(url: string, timeoutMs: number, headers?: Record<string, string>, tls?: EndpointTls): Promise<T | null> {
  try {
    const res = await httpCall(url, { timeoutMs, ...(headers ? { headers } : {}), ...(tls ? { tls } : {}) });
    if (res.status !== 200) return null;
    const body = res.body as { ok?: boolean; value?: T } | null;
    return body?.ok === true ? (body.value as T) : null;
  } catch {
    return null;
  }
}
