// Small HTTP helpers shared by the client API and the admin API: bounded body reading, the
// contract's JSON success/error bodies, the JSON content type and request deadlines.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CatgaError } from '../common/errors.js';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;
/** Longest deadline a client may ask for with `Request-Timeout`. */
export const MAX_REQUEST_TIMEOUT_MS = 60_000;

export function sendJson(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, extra ? { ...JSON_HEADERS, ...extra, 'content-length': Buffer.byteLength(body) } : { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function okBody(value: unknown, index: number): string {
  return `{"ok":true,"value":${value === undefined ? 'null' : JSON.stringify(value)},"index":${index}}`;
}

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ ok: false, error: { code, message } });
}

export function sendError(res: ServerResponse, err: CatgaError): void {
  const extra: Record<string, string> | undefined = err.status === 503 || err.status === 429 ? { 'retry-after': '1' } : undefined;
  sendJson(res, err.status, errorBody(err.code, err.message), extra);
}

/**
 * Most bytes of an over-limit body read and discarded before answering 413, so that a client
 * still sending it gets the answer instead of a reset connection; a larger body is cut off.
 */
export const MAX_DISCARD_BYTES = 8 << 20;

/**
 * Reads the whole body, refusing more than `limit` bytes with 413 (checked against
 * Content-Length first, then while streaming), and parses it as JSON (400 on failure).
 * An empty body is `{}`.
 */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge: CatgaError | null = null;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      tooLarge = new CatgaError('BODY_TOO_LARGE', `request body of ${declared} bytes exceeds the limit of ${limit}`, 413);
      if (Number(declared) > MAX_DISCARD_BYTES) { req.resume(); reject(tooLarge); return; }
    }
    let settled = false;
    const fail = (e: CatgaError) => { if (!settled) { settled = true; reject(e); } };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (tooLarge === null && size > limit) {
        tooLarge = new CatgaError('BODY_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`, 413);
        chunks.length = 0;
      }
      if (tooLarge !== null) {
        if (size > MAX_DISCARD_BYTES) fail(tooLarge);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (e) => fail(new CatgaError('BAD_REQUEST', e.message, 400)));
    req.on('end', () => {
      if (tooLarge !== null) return fail(tooLarge);
      if (settled) return;
      settled = true;
      if (size === 0) return resolve({});
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new CatgaError('INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`, 400));
      }
    });
  });
}

const JSON_CONTENT_TYPE = /^application\/json[ \t]*(;[ \t]*charset[ \t]*=[ \t]*"?utf-8"?[ \t]*)?$/i;

/**
 * Request bodies are JSON and must say so. A browser sends a form or a text/plain POST to another
 * site without asking first (no CORS preflight); requiring application/json means such a request
 * never reaches a handler, whatever its body.
 */
export function checkJsonContentType(req: IncomingMessage): CatgaError | null {
  const type = req.headers['content-type'];
  if (type !== undefined && JSON_CONTENT_TYPE.test(type)) return null;
  return new CatgaError('UNSUPPORTED_MEDIA_TYPE', `request bodies must be JSON (Content-Type: application/json), got ${type === undefined ? 'none' : JSON.stringify(type.slice(0, 100))}`, 415);
}

/** The request carries a body (a non-zero Content-Length, or a chunked one). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

/** The request's deadline (epoch ms): `Request-Timeout` header or `?timeout=` in ms, else the default. */
export function deadlineOf(req: IncomingMessage, query: URLSearchParams | null, defaultMs: number, now: number): number {
  const raw = (req.headers['request-timeout'] as string | undefined) ?? query?.get('timeout') ?? null;
  if (raw === null) return now + defaultMs;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_REQUEST_TIMEOUT_MS) {
    throw new CatgaError('INVALID_TIMEOUT', `Request-Timeout must be an integer number of milliseconds from 1 to ${MAX_REQUEST_TIMEOUT_MS}`, 400);
  }
  return now + ms;
}
