// The peer RPC codec (runtime/peer-rpc.ts): every kind round-trips, every decoder refuses garbage,
// wrong types, missing fields and oversize payloads with BAD_PEER_RPC naming the RPC and the field,
// and a handler never runs on a refused request (its node answers with the error and goes on).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CatgaError } from '../../../src/common/errors.js';
import { MAX_MODULE_VERSION } from '../../../src/catga/api.js';
import {
  callRpc, encodeChunkError, encodeErrorReply, JOIN_RPC, MAX_CONTROL_RPC_BYTES, MEMBER_RPC, PROBE_RPC, PROPOSE_RPC, QUERY_RPC, serveRpc, SNAPSHOT_CHUNK_RPC,
  TRANSFER_RPC, VERSIONS_RPC, type PeerRpc,
} from '../../../src/runtime/peer-rpc.js';
import type { PeerTransport } from '../../../src/transport/types.js';

const enc = new TextEncoder();
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
const GARBAGE = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);

function refuses(f: () => unknown, kind: string, part: 'request' | 'reply', field: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof CatgaError, String(e));
    assert.equal(e.code, 'BAD_PEER_RPC');
    assert.equal(e.status, 502);
    assert.match(e.message, new RegExp(`^peer RPC ${kind.replace('.', '\\.')} ${part}: .*${field.replace(/[.[\]]/g, '\\$&')}`));
    return true;
  });
}

const conf = { voters: ['n1', 'n2'], learners: ['n3'], addresses: { n1: 'h1:7000', n2: 'h2:7000', n3: 'h3:7000' }, incarnations: { n1: 'i1', n2: 'i2' } };
const probeReply = { established: true, incarnation: 'inc-1', restoredFrom: 'sha', addresses: { n1: 'h1:7000' }, restoredStart: { from: 'sha', conf } };

/** Each JSON kind with a valid request and reply, and a bad field of each. */
const cases: { rpc: PeerRpc<never, never>; req: unknown; reply: unknown; badReq: [object, string][]; badReply: [object, string][] }[] = [
  { rpc: QUERY_RPC as PeerRpc<never, never>, req: { type: 'kv.get', payload: { key: 'a' } }, reply: { index: 3, outcome: { ok: false, error: { code: 'X', message: 'm' }, index: 2 } },
    badReq: [[{ payload: 1 }, 'type'], [{ type: 'x'.repeat(257) }, 'type']], badReply: [[{ index: -1, outcome: { ok: true } }, 'index'], [{ index: 1, outcome: { ok: 'yes' } }, 'outcome.ok'], [{ index: 1, outcome: { ok: false, error: { code: 1 } } }, 'outcome.error.code']] },
  { rpc: MEMBER_RPC as PeerRpc<never, never>, req: { op: 'add', id: 'n4', address: 'h4:7000', voter: true, deadline: 1000, incarnation: 'i4' }, reply: { index: 9 },
    badReq: [[{ op: 'drop', id: 'n4', deadline: 1 }, 'op'], [{ op: 'remove', id: '../x', deadline: 1 }, 'id'], [{ op: 'add', id: 'n4', address: '', voter: true, deadline: 1 }, 'address'],
      [{ op: 'add', id: 'n4', address: 'h:1', voter: 'yes', deadline: 1 }, 'voter'], [{ op: 'remove', id: 'n4', deadline: 1.5 }, 'deadline'], [{ op: 'add', id: 'n4', address: 'h:1', voter: true, deadline: 1, incarnation: 'x'.repeat(65) }, 'incarnation']],
    badReply: [[{ index: '9' }, 'index']] },
  { rpc: JOIN_RPC as PeerRpc<never, never>, req: { id: 'n4', address: 'h4:7000', incarnation: 'i4', deadline: 5 }, reply: { index: 1 },
    badReq: [[{ address: 'h:1', incarnation: 'i', deadline: 1 }, 'id'], [{ id: 'n4', address: 'h:1', deadline: 1 }, 'incarnation']], badReply: [[{}, 'index']] },
  { rpc: TRANSFER_RPC as PeerRpc<never, never>, req: { to: null, deadline: 5 }, reply: { leader: 'n2' },
    badReq: [[{ to: 7, deadline: 1 }, 'to'], [{ to: 'n2' }, 'deadline']], badReply: [[{ leader: null }, 'leader']] },
  { rpc: PROBE_RPC as PeerRpc<never, never>, req: null, reply: probeReply,
    badReq: [], badReply: [[{ ...probeReply, established: 1 }, 'established'], [{ ...probeReply, addresses: { 'bad id': 'h:1' } }, 'addresses.bad id'],
      [{ ...probeReply, restoredStart: { from: 'sha', conf: { ...conf, voters: 'n1' } } }, 'restoredStart.conf.voters'],
      [{ ...probeReply, restoredStart: { from: 'sha', conf: { ...conf, incarnations: { n1: '' } } } }, 'restoredStart.conf.incarnations.n1']] },
  { rpc: VERSIONS_RPC as PeerRpc<never, never>, req: null, reply: { ledger: 2, kv: 1 },
    badReq: [], badReply: [[{ Ledger: 1 }, 'Ledger'], [{ a: 0 }, 'a'], [{ a: 1.5 }, 'a'], [{ a: MAX_MODULE_VERSION + 1 }, 'a'], [{ a: '2' }, 'a']] },
];

test('every JSON kind round-trips its request and its reply', () => {
  for (const c of cases) {
    assert.deepEqual(c.rpc.decodeRequest(c.rpc.encodeRequest(c.req as never)), c.req, c.rpc.kind);
    assert.deepEqual(c.rpc.decodeReply(c.rpc.encodeReply(c.reply as never)), c.reply, c.rpc.kind);
  }
  const entry = new Uint8Array([1, 2, 3]);
  assert.deepEqual(PROPOSE_RPC.decodeRequest(PROPOSE_RPC.encodeRequest(entry)), entry);
  const outcomes = { index: 4, outcomes: [{ ok: true, value: { a: 1 } }, { ok: false, error: { code: 'C', message: 'm' } }] };
  assert.deepEqual(PROPOSE_RPC.decodeReply(PROPOSE_RPC.encodeReply(outcomes as never)), outcomes);
  const chunk = { records: 2, next: 'cur', chunk: new Uint8Array([9, 8, 7]) };
  const back = SNAPSHOT_CHUNK_RPC.decodeReply(SNAPSHOT_CHUNK_RPC.encodeReply(chunk));
  assert.deepEqual({ ...back, chunk: [...back.chunk] }, { ...chunk, chunk: [9, 8, 7] });
  assert.deepEqual(SNAPSHOT_CHUNK_RPC.decodeRequest(SNAPSHOT_CHUNK_RPC.encodeRequest({ index: 5, cursor: '' })), { index: 5, cursor: '' });
});

test('every decoder refuses a wrong type or a missing field, naming the RPC and the field', () => {
  for (const c of cases) {
    for (const [req, field] of c.badReq) refuses(() => c.rpc.decodeRequest(json(req)), c.rpc.kind, 'request', field);
    for (const [value, field] of c.badReply) refuses(() => c.rpc.decodeReply(json({ ok: true, value })), c.rpc.kind, 'reply', field);
  }
  refuses(() => PROPOSE_RPC.decodeRequest(new Uint8Array(0)), 'propose', 'request', 'empty');
  refuses(() => PROBE_RPC.decodeRequest(new Uint8Array([1])), 'probe', 'request', 'empty');
  refuses(() => SNAPSHOT_CHUNK_RPC.decodeRequest(json({ index: 1, cursor: 3 })), 'snapshot.chunk', 'request', 'cursor');
  refuses(() => SNAPSHOT_CHUNK_RPC.decodeReply(new Uint8Array([0, 0])), 'snapshot.chunk', 'reply', 'header length');
  refuses(() => SNAPSHOT_CHUNK_RPC.decodeReply(new Uint8Array([0, 0, 0, 200, 1])), 'snapshot.chunk', 'reply', 'header length 200');
  refuses(() => QUERY_RPC.decodeReply(json({ ok: false, code: 'X', message: 'm', status: 200, leader: null })), 'query', 'reply', 'status');
  refuses(() => QUERY_RPC.decodeReply(json({ ok: true, value: [] })), 'query', 'reply', 'value');
});

test('every decoder refuses garbage bytes, non-objects and oversize payloads', () => {
  for (const c of cases) {
    if (c.req !== null) {
      refuses(() => c.rpc.decodeRequest(GARBAGE), c.rpc.kind, 'request', 'not JSON');
      refuses(() => c.rpc.decodeRequest(json([1, 2])), c.rpc.kind, 'request', 'not a JSON object');
    }
    refuses(() => c.rpc.decodeReply(GARBAGE), c.rpc.kind, 'reply', 'not JSON');
    refuses(() => c.rpc.decodeReply(json('ok')), c.rpc.kind, 'reply', 'not a JSON object');
  }
  const big = new Uint8Array(MAX_CONTROL_RPC_BYTES + 1).fill(0x20);
  for (const rpc of [MEMBER_RPC, JOIN_RPC, TRANSFER_RPC, SNAPSHOT_CHUNK_RPC]) refuses(() => rpc.decodeRequest(big), rpc.kind, 'request', `more than the ${MAX_CONTROL_RPC_BYTES} allowed`);
  for (const rpc of [MEMBER_RPC, JOIN_RPC, TRANSFER_RPC, PROBE_RPC, VERSIONS_RPC]) refuses(() => rpc.decodeReply(big), rpc.kind, 'reply', `more than the ${MAX_CONTROL_RPC_BYTES} allowed`);
  // Exactly at the limit is still read (and refused only for what it says).
  const atLimit = new Uint8Array(MAX_CONTROL_RPC_BYTES).fill(0x20);
  atLimit.set(json({ to: null, deadline: 1 }));
  assert.deepEqual(TRANSFER_RPC.decodeRequest(atLimit), { to: null, deadline: 1 });
});

test('an error reply comes back as the CatgaError it carries, from every kind', () => {
  const err = new CatgaError('NOT_LEADER', 'the leader is n2', 503, 'n2');
  for (const c of cases) {
    assert.throws(() => c.rpc.decodeReply(encodeErrorReply(err)), (e: unknown) => e instanceof CatgaError && e.code === 'NOT_LEADER' && e.status === 503 && e.leader === 'n2' && e.message === 'the leader is n2');
  }
  assert.throws(() => SNAPSHOT_CHUNK_RPC.decodeReply(encodeChunkError(new CatgaError('SNAPSHOT_GONE', 'gone', 410))), (e: unknown) => e instanceof CatgaError && e.code === 'SNAPSHOT_GONE' && e.status === 410);
});

/** A transport that delivers requests to its own handlers in process. */
function loopback(): PeerTransport {
  const handlers = new Map<string, (from: string, payload: Uint8Array) => Promise<Uint8Array>>();
  return {
    start: async () => {}, setPeers: () => {}, send: () => {}, onMessage: () => {}, close: async () => {},
    onRequest: (kind, h) => { handlers.set(kind, h); },
    request: (_to, kind, payload) => handlers.get(kind)!('n9', payload),
  };
}

test('a node answers a malformed request with BAD_PEER_RPC and never runs its handler', async () => {
  const t = loopback();
  let calls = 0;
  serveRpc(t, MEMBER_RPC, (_from, req) => { calls++; return { index: req.deadline }; });
  for (const bad of [GARBAGE, json({ op: 'add' }), json(null), new Uint8Array(MAX_CONTROL_RPC_BYTES + 1)]) {
    await assert.rejects(t.request('n1', MEMBER_RPC.kind, bad, 1_000).then((b) => MEMBER_RPC.decodeReply(b)), (e: unknown) => e instanceof CatgaError && e.code === 'BAD_PEER_RPC' && e.status === 502);
  }
  assert.equal(calls, 0);
  assert.deepEqual(await callRpc(t, 'n1', MEMBER_RPC, { op: 'remove', id: 'n2', deadline: 7 }, 1_000), { index: 7 });
  assert.equal(calls, 1);
});
