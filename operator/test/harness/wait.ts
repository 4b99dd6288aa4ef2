// Polling helpers: free loopback ports, plain HTTP(S) GETs, and waiting for a condition.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { HarnessError } from './errors.js';

/**
 * Ports are picked at random below the kernel's ephemeral range (32768+), so that no outgoing
 * connection can take a port between our check and the child's bind.
 */
const PORT_RANGE = { first: 20_000, last: 32_767 };
const PORT_ATTEMPTS = 50;
/** Ports handed out by this process, never handed out twice. */
const handedOut = new Set<number>();

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port free on host right now, for a child process to bind soon after. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = randomInt(PORT_RANGE.first, PORT_RANGE.last + 1);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port found on ${host} in ${PORT_ATTEMPTS} attempts`);
}

/** True when an error says a child could not bind its port (another process took it). */
export function isPortClash(error: unknown): boolean {
  return error instanceof HarnessError && error.code === 'PROCESS_EXITED' && /address (already )?in use/i.test(error.message);
}

export interface GetOptions {
  timeoutMs: number;
  ca?: string | Buffer;
  /** Accept any server certificate (a self-signed one of a component or a probed pod). */
  insecure?: boolean;
  headers?: Record<string, string>;
}

/** Bytes of a response body kept; probes and health checks only need the start. */
export const MAX_BODY_BYTES = 64 * 1024;

/** GET url; resolves with the status and (the start of) the body, rejects on network errors. */
export function httpGet(url: string, options: GetOptions): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'GET',
        headers: options.headers,
        timeout: options.timeoutMs,
        ...(target.protocol === 'https:' ? { ca: options.ca, rejectUnauthorized: !options.insecure } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_BODY_BYTES) body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Checked before each attempt: a message here aborts the wait (e.g. the process died). */
  abortIf?: () => string | undefined;
}

/** Polls check until it returns true; throws WAIT_TIMEOUT naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    const abort = options.abortIf?.();
    if (abort !== undefined) throw new HarnessError('PROCESS_EXITED', `while waiting for ${what}: ${abort}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = `; last error: ${(error as Error).message}`;
    }
    if (Date.now() >= deadline) {
      throw new HarnessError('WAIT_TIMEOUT', `${what} not reached within ${options.timeoutMs} ms${lastError}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
