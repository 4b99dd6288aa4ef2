// The built-in key/value module (docs/api.md#built-in-modules): kv.put, kv.delete, kv.cas and the query kv.get.
// Each key keeps a version (1 on creation, +1 per write); every change raises `kv.changed`.
import { command, defineModule, query } from '../api.js';
import { fail, ok } from '../result.js';
import { t, type JsonValue } from '../schema.js';

export const KV_MAX_KEY_LENGTH = 256;
export const KV_MAX_VALUE_BYTES = 64 * 1024;
/** Bound on keys held; a put of a new key beyond it fails with KV_FULL. */
export const KV_MAX_KEYS = 1_000_000;

export const KvCodes = { CAS_MISMATCH: 'CAS_MISMATCH', KV_FULL: 'KV_FULL' } as const;

/** How a value is stored: `v` the value, `n` its version. */
interface Stored {
  readonly v: JsonValue;
  readonly n: number;
}

export interface KvEntry {
  readonly value: JsonValue;
  readonly version: number;
}

/** `kv.changed` data: `value` null and `version` 0 on delete. */
export interface KvChanged {
  readonly key: string;
  readonly op: 'put' | 'delete' | 'cas';
  readonly value: JsonValue;
  readonly version: number;
}

const key = t.string({ minLength: 1, maxLength: KV_MAX_KEY_LENGTH });
const value = t.json({ maxBytes: KV_MAX_VALUE_BYTES });

/** Structural JSON equality (object key order does not matter). */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i] as JsonValue, b[i] as JsonValue)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  for (const k of aKeys) {
    if (!Object.hasOwn(b, k) || !jsonEqual(a[k] as JsonValue, b[k] as JsonValue)) return false;
  }
  return true;
}

export const kvModule = defineModule({
  name: 'kv',
  commands: {
    'kv.put': command({
      schema: t.object({ key, value }),
      handle(ctx, payload) {
        const current = ctx.store.get(payload.key) as Stored | undefined;
        if (current === undefined && ctx.store.size >= KV_MAX_KEYS) return fail(KvCodes.KV_FULL, `the store holds its limit of ${KV_MAX_KEYS} keys`);
        const version = (current?.n ?? 0) + 1;
        ctx.store.set(payload.key, { v: payload.value, n: version });
        ctx.emit('kv.changed', { key: payload.key, op: 'put', value: payload.value, version });
        return ok({ version });
      },
    }),
    'kv.delete': command({
      schema: t.object({ key }),
      handle(ctx, payload) {
        const deleted = ctx.store.delete(payload.key);
        // Deleting an absent key changes nothing, so it raises nothing.
        if (deleted) ctx.emit('kv.changed', { key: payload.key, op: 'delete', value: null, version: 0 });
        return ok({ deleted });
      },
    }),
    'kv.cas': command({
      // `expected: null` means "the key must not exist".
      schema: t.object({ key, expected: value, value }),
      handle(ctx, payload) {
        const current = ctx.store.get(payload.key) as Stored | undefined;
        const matches = payload.expected === null ? current === undefined : current !== undefined && jsonEqual(current.v, payload.expected);
        if (!matches) {
          return fail(KvCodes.CAS_MISMATCH, current === undefined ? `key ${JSON.stringify(payload.key)} does not exist` : `key ${JSON.stringify(payload.key)} holds another value (version ${current.n})`);
        }
        if (current === undefined && ctx.store.size >= KV_MAX_KEYS) return fail(KvCodes.KV_FULL, `the store holds its limit of ${KV_MAX_KEYS} keys`);
        const version = (current?.n ?? 0) + 1;
        ctx.store.set(payload.key, { v: payload.value, n: version });
        ctx.emit('kv.changed', { key: payload.key, op: 'cas', value: payload.value, version });
        return ok({ version });
      },
    }),
  },
  queries: {
    'kv.get': query({
      schema: t.object({ key }),
      handle(ctx, payload) {
        const current = ctx.store.get(payload.key) as Stored | undefined;
        const entry: KvEntry | null = current === undefined ? null : { value: current.v, version: current.n };
        return ok(entry);
      },
    }),
  },
});
