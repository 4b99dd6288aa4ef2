// The log entry envelope: what the HTTP layer proposes to Raft and what apply() decodes, on every
// node. One JSON document per entry, payloads embedded as JSON values (never as strings inside
// JSON), short keys:
//   command batch  {"v":1,"ts":<ms>,"w":<ms>?,"q":<quota bytes>?,"c":[{"t":"<type>","p":<payload>,"k":"<idempotency key>"?}, …]}
//   published event {"v":1,"ts":<ms>,"e":{"t":"<type>","d":<data>}}
// An empty entry is Raft's no-op. `ts` is first the encoding node's clock; the leader restamps it
// with its own when it proposes (`stampEntry`), adding `"w"`, its idempotency window: so time and
// key expiry are decided once, by the leader, and replicated. `ts` is the only time a handler sees.
// `q` is the proposer's state quota (absent: none): carried in the entry, so every node decides a
// command's quota check alike even if their settings differ.
import assert from 'node:assert/strict';
import { ErrorCodes, fail, ok, type Result } from './result.js';
import type { JsonValue } from './schema.js';

export const ENTRY_FORMAT_VERSION = 1;

export interface CommandRequest {
  readonly type: string;
  readonly payload: unknown;
  readonly idempotencyKey?: string | undefined;
}

export interface CommandEntry {
  readonly kind: 'commands';
  readonly ts: number;
  /** The proposing leader's idempotency window (absent in entries written before it was stamped). */
  readonly windowMs?: number;
  /** Bytes of module state allowed; null: no quota. */
  readonly quotaBytes: number | null;
  readonly commands: readonly CommandRequest[];
}

export interface EventEntry {
  readonly kind: 'event';
  readonly ts: number;
  readonly windowMs?: number;
  readonly type: string;
  readonly data: JsonValue;
}

export type DecodedEntry = CommandEntry | EventEntry;

interface WireCommand {
  t: string;
  p: unknown;
  k?: string;
}

/** Encodes a batch (one or more commands) as one entry. Inputs must already be validated. */
export function encodeCommandEntry(entry: { readonly commands: readonly CommandRequest[]; readonly ts: number; readonly quotaBytes?: number | null }): Uint8Array {
  const wire: WireCommand[] = new Array(entry.commands.length);
  for (let i = 0; i < entry.commands.length; i++) {
    const command = entry.commands[i] as CommandRequest;
    wire[i] = command.idempotencyKey === undefined ? { t: command.type, p: command.payload } : { t: command.type, p: command.payload, k: command.idempotencyKey };
  }
  const quota = entry.quotaBytes ?? null;
  return Buffer.from(JSON.stringify(quota === null ? { v: ENTRY_FORMAT_VERSION, ts: entry.ts, c: wire } : { v: ENTRY_FORMAT_VERSION, ts: entry.ts, q: quota, c: wire }), 'utf8');
}

export function encodeEventEntry(entry: { readonly type: string; readonly data: JsonValue; readonly ts: number }): Uint8Array {
  return Buffer.from(JSON.stringify({ v: ENTRY_FORMAT_VERSION, ts: entry.ts, e: { t: entry.type, d: entry.data } }), 'utf8');
}

const STAMP_PREFIX_TEXT = `{"v":${ENTRY_FORMAT_VERSION},"ts":`;
const STAMP_PREFIX = Buffer.from(STAMP_PREFIX_TEXT);
const COMMA = 0x2c;

/**
 * The same entry with the leader's `ts` and idempotency window `w` in place of the encoder's
 * `ts` (and of any `w`): a splice of the fixed prefix both encoders write, no re-encoding.
 */
export function stampEntry(data: Uint8Array, ts: number, windowMs: number): Uint8Array {
  assert.ok(Number.isSafeInteger(ts) && ts >= 0 && Number.isSafeInteger(windowMs) && windowMs > 0, 'stampEntry: bad ts or window');
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  assert.ok(bytes.subarray(0, STAMP_PREFIX.length).equals(STAMP_PREFIX), 'stampEntry: not an encoded entry');
  let rest = bytes.indexOf(COMMA, STAMP_PREFIX.length);
  assert.ok(rest > 0, 'stampEntry: entry without a body');
  if (bytes.subarray(rest + 1, rest + 5).toString('latin1') === '"w":') rest = bytes.indexOf(COMMA, rest + 1);
  // One allocation: the prefix and both numbers are ASCII, written straight into the result.
  const head = `${STAMP_PREFIX_TEXT}${ts},"w":${windowMs}`;
  const out = Buffer.allocUnsafe(head.length + bytes.length - rest);
  out.write(head, 0, 'latin1');
  bytes.copy(out, head.length, rest);
  return out;
}

function invalid(message: string): Result<DecodedEntry> {
  return fail(ErrorCodes.INVALID_ENTRY, message);
}

/** Decodes a non-empty entry. A malformed entry is an INVALID_ENTRY failure (the same on every node). */
export function decodeEntry(data: Uint8Array): Result<DecodedEntry> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return invalid('entry is not JSON');
  }
  if (doc === null || typeof doc !== 'object') return invalid('entry is not an object');
  const { v, ts, w, q, c, e } = doc as { v?: unknown; ts?: unknown; w?: unknown; q?: unknown; c?: unknown; e?: unknown };
  if (v !== ENTRY_FORMAT_VERSION) return invalid(`unknown entry format ${JSON.stringify(v)}`);
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return invalid('entry has no timestamp');
  if (w !== undefined && (typeof w !== 'number' || !Number.isSafeInteger(w) || w <= 0)) return invalid('entry has a malformed idempotency window');
  if (Array.isArray(c)) {
    if (q !== undefined && !(Number.isSafeInteger(q) && (q as number) >= 0)) return invalid('entry has a malformed quota');
    const commands: CommandRequest[] = new Array(c.length);
    for (let i = 0; i < c.length; i++) {
      const wire = c[i] as Partial<WireCommand> | null;
      if (wire === null || typeof wire !== 'object' || typeof wire.t !== 'string') return invalid(`command ${i} has no type`);
      if (wire.k !== undefined && typeof wire.k !== 'string') return invalid(`command ${i} has a malformed idempotency key`);
      commands[i] = { type: wire.t, payload: wire.p, idempotencyKey: wire.k };
    }
    const quotaBytes = (q as number | undefined) ?? null;
    // Literals, not a spread of the stamp: this runs for every entry on every node.
    return ok(w === undefined ? { kind: 'commands', ts, quotaBytes, commands } : { kind: 'commands', ts, windowMs: w, quotaBytes, commands });
  }
  if (e !== null && typeof e === 'object') {
    const { t, d } = e as { t?: unknown; d?: unknown };
    if (typeof t !== 'string') return invalid('event has no type');
    const data = (d ?? null) as JsonValue;
    return ok(w === undefined ? { kind: 'event', ts, type: t, data } : { kind: 'event', ts, windowMs: w, type: t, data });
  }
  return invalid('entry is neither a command batch nor an event');
}
