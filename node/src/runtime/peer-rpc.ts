// Every peer RPC besides Raft messages (those have transport/codec.ts): for each kind its name,
// request and reply types, and the codec that encodes them and validates every field when
// decoding, so a handler and a caller only ever see well-formed values. Every reply travels in one
// envelope: `{ok: true, value}` or `{ok: false, code, message, status, leader}`. A malformed
// payload is refused with BAD_PEER_RPC naming the RPC and the field; nothing acts on it.
import { MAX_ADDRESS_LENGTH, MAX_INCARNATION_LENGTH } from '../raft/confchange.js';
import type { ConfState, NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/types.js';
import { NODE_ID_PATTERN } from '../membership/static-peers.js';
import type { CommandOutcome } from '../server/api.js';
import { isModuleVersion, MAX_MODULE_VERSION, MODULE_NAME_PATTERN } from '../catga/api.js';
import type { VersionMap } from '../catga/module-versions.js';
import { CatgaError, asCatgaError } from '../common/errors.js';

/** Largest encoded control message (member changes, joins, transfers, probes, chunk requests). */
export const MAX_CONTROL_RPC_BYTES = 1024 * 1024;
/** Longest string field of a control message (a query type, a cursor, a backup checksum, an error message). */
export const MAX_RPC_STRING_LENGTH = 64 * 1024;

const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * A refused peer RPC payload. 502 either way: a client whose request a node forwarded sees a
 * fault between two nodes (a bug, or nodes of versions that do not understand each other), not
 * one of its own request, and retrying it unchanged will not help.
 */
export function badPeerRpc(kind: string, part: 'request' | 'reply', problem: string): CatgaError {
  return new CatgaError('BAD_PEER_RPC', `peer RPC ${kind} ${part}: ${problem}`, 502);
}

/** Reads and checks the fields of one decoded JSON object; each failure names the field. */
class Fields {
  constructor(private readonly kind: string, private readonly part: 'request' | 'reply', private readonly o: Record<string, unknown>, private readonly prefix = '') {}

  private fail(field: string, want: string): never {
    throw badPeerRpc(this.kind, this.part, `${this.prefix}${field} must be ${want}`);
  }

  raw(field: string): unknown { return this.o[field]; }

  string(field: string, max = MAX_RPC_STRING_LENGTH): string {
    const v = this.o[field];
    return typeof v === 'string' && v.length <= max ? v : this.fail(field, `a string of at most ${max} characters`);
  }

  nullableString(field: string): string | null {
    return this.o[field] === null ? null : this.string(field);
  }

  nodeId(field: string): NodeId {
    const v = this.o[field];
    return typeof v === 'string' && NODE_ID_PATTERN.test(v) ? v : this.fail(field, 'a node id (1-63 letters, digits, ".", "_" or "-")');
  }

  nullableNodeId(field: string): NodeId | null {
    return this.o[field] === null ? null : this.nodeId(field);
  }

  address(field: string): string {
    const v = this.o[field];
    return typeof v === 'string' && v.length > 0 && v.length <= MAX_ADDRESS_LENGTH ? v : this.fail(field, `a peer address of 1-${MAX_ADDRESS_LENGTH} characters`);
  }

  incarnation(field: string): string {
    const v = this.o[field];
    return typeof v === 'string' && v.length > 0 && v.length <= MAX_INCARNATION_LENGTH ? v : this.fail(field, `an incarnation of 1-${MAX_INCARNATION_LENGTH} characters`);
  }

  optionalIncarnation(field: string): string | undefined {
    return this.o[field] === undefined ? undefined : this.incarnation(field);
  }

  boolean(field: string): boolean {
    const v = this.o[field];
    return typeof v === 'boolean' ? v : this.fail(field, 'true or false');
  }

  /** A log index or a count: a safe integer >= 0. */
  count(field: string): number {
    const v = this.o[field];
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : this.fail(field, 'an integer >= 0');
  }

  /** A wall-clock deadline in milliseconds since the epoch. */
  time(field: string): number {
    return this.count(field);
  }

  /** An object keyed by node ids whose values `read` checks. */
  byNodeId(field: string, read: (o: Fields, id: NodeId) => string): Record<NodeId, string> {
    const o = this.object(field);
    const out: Record<NodeId, string> = {};
    for (const id of Object.keys(o.o)) { o.nodeIdKey(id); out[id] = read(o, id); }
    return out;
  }

  object(field: string): Fields {
    const v = this.o[field];
    return isPlainObject(v) ? new Fields(this.kind, this.part, v, `${this.prefix}${field}.`) : this.fail(field, 'an object');
  }

  nodeIdKey(key: string): void {
    if (!NODE_ID_PATTERN.test(key)) this.fail(key, 'keyed by a node id');
  }

  array(field: string): Fields[] {
    const v = this.o[field];
    if (!Array.isArray(v)) return this.fail(field, 'an array');
    return v.map((item, i) => (isPlainObject(item) ? new Fields(this.kind, this.part, item, `${this.prefix}${field}[${i}].`) : this.fail(`${field}[${i}]`, 'an object')));
  }

  /** This object as a module version report: module name → version. */
  moduleVersions(): VersionMap {
    const out: Record<string, number> = {};
    for (const [name, v] of Object.entries(this.o)) {
      if (!MODULE_NAME_PATTERN.test(name)) this.fail(name, 'a module name');
      out[name] = isModuleVersion(v) ? v : this.fail(name, `a module version from 1 to ${MAX_MODULE_VERSION}`);
    }
    return out;
  }

  nodeIds(field: string): NodeId[] {
    const v = this.o[field];
    if (!Array.isArray(v) || !v.every((id) => typeof id === 'string' && NODE_ID_PATTERN.test(id))) return this.fail(field, 'an array of node ids');
    return v as NodeId[];
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses JSON of at most `max` bytes into an object; garbage, oversize and non-objects are refused. */
function parseObject(kind: string, part: 'request' | 'reply', bytes: Uint8Array, max: number | null): Record<string, unknown> {
  if (max !== null && bytes.byteLength > max) throw badPeerRpc(kind, part, `${bytes.byteLength} bytes, more than the ${max} allowed`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    throw badPeerRpc(kind, part, 'not JSON text');
  }
  if (!isPlainObject(v)) throw badPeerRpc(kind, part, 'not a JSON object');
  return v;
}

/** JSON text as UTF-8 (a slice of Node's buffer pool: a TextEncoder allocates a backing store for each, 6x the time). */
function json(v: unknown): Uint8Array { return Buffer.from(JSON.stringify(v), 'utf8'); }

/** How one side of an RPC is written and read. */
interface Codec<T> {
  encode(v: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** One peer RPC kind: its request codec and the reader of its reply's value. */
export interface PeerRpc<Req, Res> {
  readonly kind: string;
  encodeRequest(req: Req): Uint8Array;
  decodeRequest(bytes: Uint8Array): Req;
  encodeReply(value: Res): Uint8Array;
  /** The reply's value; an error envelope is thrown as the CatgaError it carries. */
  decodeReply(bytes: Uint8Array): Res;
}

/** A failure, in the one reply envelope. */
export function encodeErrorReply(err: unknown): Uint8Array {
  const e = asCatgaError(err);
  return json({ ok: false, code: e.code, message: e.message, status: e.status, leader: e.leader });
}

/** Reads the envelope; returns the fields of the ok value (an object) or throws the carried error. */
function openEnvelope(kind: string, o: Record<string, unknown>): Fields {
  const f = new Fields(kind, 'reply', o);
  if (f.boolean('ok')) {
    const value = o['value'];
    if (!isPlainObject(value)) throw badPeerRpc(kind, 'reply', 'value must be an object');
    return new Fields(kind, 'reply', value);
  }
  const status = f.count('status');
  if (status < 400 || status > 599) throw badPeerRpc(kind, 'reply', 'status must be an HTTP error status (400-599)');
  throw new CatgaError(f.string('code', 64), f.string('message'), status, f.nullableNodeId('leader'));
}

function defineRpc<Req, Res>(kind: string, request: Codec<Req>, readReply: (f: Fields) => Res, maxReplyBytes: number | null): PeerRpc<Req, Res> {
  return {
    kind,
    encodeRequest: (req) => request.encode(req),
    decodeRequest: (bytes) => request.decode(bytes),
    encodeReply: (value) => json({ ok: true, value }),
    decodeReply: (bytes) => readReply(openEnvelope(kind, parseObject(kind, 'reply', bytes, maxReplyBytes))),
  };
}

/** A JSON request whose fields `read` checks; `max` bounds its size (null: the transport's frame limit). */
function jsonRequest<T>(kind: string, read: (f: Fields) => T, max: number | null): Codec<T> {
  return { encode: json, decode: (bytes) => read(new Fields(kind, 'request', parseObject(kind, 'request', bytes, max))) };
}

/** A request that carries nothing. */
function emptyRequest(kind: string): Codec<null> {
  return {
    encode: () => new Uint8Array(0),
    decode: (bytes) => { if (bytes.byteLength !== 0) throw badPeerRpc(kind, 'request', 'must be empty'); return null; },
  };
}

function readOutcome(f: Fields): CommandOutcome {
  const index = f.raw('index') === undefined ? {} : { index: f.count('index') };
  if (f.boolean('ok')) return { ok: true, value: f.raw('value'), ...index };
  const error = f.object('error');
  return { ok: false, error: { code: error.string('code', 64), message: error.string('message') }, ...index };
}

// ---- the RPC kinds --------------------------------------------------------------------------

/** A follower forwards an encoded command entry to the leader (the bytes are the entry). */
export const PROPOSE_RPC: PeerRpc<Uint8Array, { index: number; outcomes: CommandOutcome[] }> = defineRpc('propose',
  {
    encode: (entry) => entry,
    decode: (bytes) => { if (bytes.byteLength === 0) throw badPeerRpc('propose', 'request', 'the entry is empty'); return bytes; },
  },
  (f) => ({ index: f.count('index'), outcomes: f.array('outcomes').map(readOutcome) }), null);

export interface QueryRequest { readonly type: string; readonly payload: unknown }
/** A follower forwards a leader-consistency query. */
export const QUERY_RPC: PeerRpc<QueryRequest, { index: number; outcome: CommandOutcome }> = defineRpc('query',
  jsonRequest('query', (f) => ({ type: f.string('type', 256), payload: f.raw('payload') }), null),
  (f) => ({ index: f.count('index'), outcome: readOutcome(f.object('outcome')) }), null);

export type MemberRequest =
  | { readonly op: 'add'; readonly id: NodeId; readonly address: string; readonly voter: boolean; readonly deadline: number; readonly incarnation?: string }
  | { readonly op: 'remove'; readonly id: NodeId; readonly deadline: number };
/** An admin member change forwarded to the leader. */
export const MEMBER_RPC: PeerRpc<MemberRequest, { index: number }> = defineRpc('member',
  jsonRequest('member', (f): MemberRequest => {
    const op = f.raw('op');
    if (op === 'remove') return { op, id: f.nodeId('id'), deadline: f.time('deadline') };
    if (op !== 'add') throw badPeerRpc('member', 'request', 'op must be "add" or "remove"');
    const incarnation = f.optionalIncarnation('incarnation');
    const add = { op, id: f.nodeId('id'), address: f.address('address'), voter: f.boolean('voter'), deadline: f.time('deadline') } as const;
    return incarnation === undefined ? add : { ...add, incarnation };
  }, MAX_CONTROL_RPC_BYTES),
  (f) => ({ index: f.count('index') }), MAX_CONTROL_RPC_BYTES);

export interface JoinRequest { readonly id: NodeId; readonly address: string; readonly incarnation: string; readonly deadline: number }
/** A joining node asks a member to add it (or replace its former incarnation). */
export const JOIN_RPC: PeerRpc<JoinRequest, { index: number }> = defineRpc('join',
  jsonRequest('join', (f) => ({ id: f.nodeId('id'), address: f.address('address'), incarnation: f.incarnation('incarnation'), deadline: f.time('deadline') }), MAX_CONTROL_RPC_BYTES),
  (f) => ({ index: f.count('index') }), MAX_CONTROL_RPC_BYTES);

export interface TransferRequest { readonly to: NodeId | null; readonly deadline: number }
/** A leadership transfer forwarded to the leader (`to` null: the best caught-up voter). */
export const TRANSFER_RPC: PeerRpc<TransferRequest, { leader: NodeId }> = defineRpc('transfer',
  jsonRequest('transfer', (f) => ({ to: f.nullableNodeId('to'), deadline: f.time('deadline') }), MAX_CONTROL_RPC_BYTES),
  (f) => ({ leader: f.nodeId('leader') }), MAX_CONTROL_RPC_BYTES);

/** A restored cluster a first member started: the backup (its checksum) and the first configuration. */
export interface RestoredStart { readonly from: string; readonly conf: ConfState }
export interface ProbeReply {
  /** An elected leader has written to this member's log. */
  readonly established: boolean;
  readonly incarnation: string;
  /** The backup this member was restored from (its checksum), null for an empty directory. */
  readonly restoredFrom: string | null;
  /** Where the members of its configuration listen. */
  readonly addresses: Record<NodeId, string>;
  readonly restoredStart: RestoredStart | null;
}

function readRestoredStart(f: Fields): RestoredStart | null {
  if (f.raw('restoredStart') === null) return null;
  const r = f.object('restoredStart');
  const c = r.object('conf');
  const conf: ConfState = {
    voters: c.nodeIds('voters'), learners: c.nodeIds('learners'),
    addresses: c.byNodeId('addresses', (o, id) => o.address(id)), incarnations: c.byNodeId('incarnations', (o, id) => o.incarnation(id)),
  };
  return { from: r.string('from'), conf };
}

/** A fresh first member asks the others whether to bootstrap; a joining node asks where the members listen. */
export const PROBE_RPC: PeerRpc<null, ProbeReply> = defineRpc('probe', emptyRequest('probe'),
  (f) => ({
    established: f.boolean('established'), incarnation: f.incarnation('incarnation'), restoredFrom: f.nullableString('restoredFrom'),
    addresses: f.byNodeId('addresses', (o, id) => o.address(id)), restoredStart: readRestoredStart(f),
  }), MAX_CONTROL_RPC_BYTES);

/** The leader's version gate asks each voter which module versions it runs (runtime/version-gate.ts). */
export const VERSIONS_RPC: PeerRpc<null, VersionMap> = defineRpc('versions', emptyRequest('versions'), (f) => f.moduleVersions(), MAX_CONTROL_RPC_BYTES);

export interface ChunkRequest { readonly index: number; readonly cursor: string }
export interface ChunkReply { readonly records: number; readonly next: string | null; readonly chunk: Uint8Array }
const chunkRequest = jsonRequest('snapshot.chunk', (f): ChunkRequest => ({ index: f.count('index'), cursor: f.string('cursor') }), MAX_CONTROL_RPC_BYTES);
/** A snapshot receiver asks the sender for the chunk after `cursor`; the reply is the envelope, then the chunk's bytes. */
export const SNAPSHOT_CHUNK_RPC: PeerRpc<ChunkRequest, ChunkReply> = {
  kind: 'snapshot.chunk',
  encodeRequest: chunkRequest.encode,
  decodeRequest: chunkRequest.decode,
  encodeReply: ({ records, next, chunk }) => withTail(json({ ok: true, value: { records, next } }), chunk),
  decodeReply: (bytes) => {
    const kind = 'snapshot.chunk';
    if (bytes.byteLength < 4) throw badPeerRpc(kind, 'reply', 'shorter than its 4-byte header length');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const len = view.getUint32(0);
    if (len > MAX_CONTROL_RPC_BYTES || 4 + len > bytes.byteLength) throw badPeerRpc(kind, 'reply', `header length ${len} exceeds the reply or ${MAX_CONTROL_RPC_BYTES} bytes`);
    const f = openEnvelope(kind, parseObject(kind, 'reply', bytes.subarray(4, 4 + len), null));
    return { records: f.count('records'), next: f.nullableString('next'), chunk: bytes.subarray(4 + len) };
  },
};

/** An error for SNAPSHOT_CHUNK_RPC: the envelope with its length header and no chunk. */
export function encodeChunkError(err: unknown): Uint8Array {
  return withTail(encodeErrorReply(err), new Uint8Array(0));
}

function withTail(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + head.byteLength + tail.byteLength);
  new DataView(out.buffer).setUint32(0, head.byteLength);
  out.set(head, 4);
  out.set(tail, 4 + head.byteLength);
  return out;
}

// ---- both ends ------------------------------------------------------------------------------

/** Registers `handler` for `rpc`: a malformed request or a failure is answered in the error envelope. */
export function serveRpc<Req, Res>(transport: PeerTransport, rpc: PeerRpc<Req, Res>, handler: (from: NodeId, req: Req) => Promise<Res> | Res,
  encodeError: (err: unknown) => Uint8Array = encodeErrorReply): void {
  transport.onRequest(rpc.kind, async (from, bytes) => {
    try {
      return rpc.encodeReply(await handler(from, rpc.decodeRequest(bytes)));
    } catch (err) {
      return encodeError(err);
    }
  });
}

/** Calls `rpc` on `to`; resolves with the reply's value, rejects with its error (or the transport's). */
export async function callRpc<Req, Res>(transport: PeerTransport, to: NodeId, rpc: PeerRpc<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
  return rpc.decodeReply(await transport.request(to, rpc.kind, rpc.encodeRequest(req), timeoutMs));
}
