// Waiting inside a request's deadline: a pause between attempts, and a promise cut off at the
// deadline with 503 TIMEOUT (shared by the request paths of runtime/service.ts and the member
// changes of runtime/membership.ts).
import { CatgaError } from '../common/errors.js';

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** Rejects with 503 TIMEOUT at `deadline`; the underlying work goes on (its outcome is unknown). */
export function withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(new CatgaError('TIMEOUT', `${what}: the deadline passed`, 503));
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => { t = setTimeout(() => reject(new CatgaError('TIMEOUT', `${what}: no result within the deadline (the outcome is unknown)`, 503)), left); }),
  ]);
}
