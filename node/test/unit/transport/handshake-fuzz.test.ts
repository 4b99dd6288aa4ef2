// A fuzz target for the peer handshake, with a fixed budget (CATGA_FUZZ_SEED, CATGA_FUZZ_SESSIONS):
// seeded sessions of a hand-driven dialer that sends valid, mutated, reordered, repeated,
// oversized and random handshake messages to a real listener. Properties: a session is welcomed
// exactly when it sent a valid HELLO then the right AUTH; every other session is refused (a
// handshake close code, or cut for its size) and counted, within the handshake timeout; the
// listener keeps no connection of a refused session and still admits a real peer afterwards.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WebSocket, type RawData } from 'ws';
import { Prng } from '../../../src/sim/prng.js';
import { PEER_PATH } from '../../../src/transport/context.js';
import { readSingleRecord, singleRecord } from '../../../src/transport/frames.js';
import {
  CLOSE_CODES, computeProof, newNonce, PROTOCOL_VERSION, readChallenge, TAG_WELCOME, writeAuth, writeHello,
} from '../../../src/transport/handshake.js';
import { CLUSTER, closeAll, SECRET, startNode, waitFor, type TestNode } from './harness.js';
import { smallAppend } from './samples.js';

const SEED = Number(process.env['CATGA_FUZZ_SEED'] ?? 18);
const SESSIONS = Number(process.env['CATGA_FUZZ_SESSIONS'] ?? 240);
const PARALLEL = 8;
const HANDSHAKE_TIMEOUT_MS = 1_000;
const PRE_AUTH_BYTES = 8 * 1024;
/** Longest an AUTH step waits for the challenge to a valid HELLO. */
const CHALLENGE_WAIT_MS = 2_000;

const open: TestNode[] = [];
after(() => closeAll(open));

type Step = 'hello' | 'hello-mutated' | 'hello-bytes' | 'auth' | 'auth-random' | 'wrong-tag' | 'random' | 'empty' | 'text' | 'huge';
const STEPS: readonly Step[] = ['hello', 'hello-mutated', 'hello-bytes', 'auth', 'auth-random', 'wrong-tag', 'random', 'empty', 'text', 'huge'];

function bytes(r: Prng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

function mutate(r: Prng, input: Buffer): Buffer {
  const out = [...input];
  for (let edits = 1 + r.int(4); edits > 0; edits--) {
    const at = r.int(out.length + 1);
    const op = r.int(4);
    if (op === 0 && out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
    else if (op === 1) out.splice(at, 0, r.int(256));
    else if (op === 2 && out.length > 0) out[Math.min(at, out.length - 1)] = r.int(256);
    else out.length = Math.min(out.length, at);
  }
  return Buffer.from(out);
}

interface Session {
  readonly steps: Step[];
  /** Welcomed iff it opens with a valid HELLO and the right AUTH. */
  readonly shouldBeWelcomed: boolean;
}

function session(r: Prng): Session {
  const steps: Step[] = [];
  if (r.chance(0.3)) steps.push('hello', r.chance(0.5) ? 'auth' : r.pick(STEPS));
  for (let n = r.int(4); n > 0; n--) steps.push(r.pick(STEPS));
  if (steps.length === 0) steps.push(r.pick(STEPS));
  return { steps, shouldBeWelcomed: steps[0] === 'hello' && steps[1] === 'auth' };
}

async function run(port: number, r: Prng, s: Session): Promise<{ welcomed: boolean; closeCode: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`, { perMessageDeflate: false });
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const dialerNonce = newNonce();
  let listenerNonce: Uint8Array | null = null;
  let welcomed = false;
  let helloSent = false;
  ws.on('message', (data: RawData) => {
    const record = readSingleRecord(data as Buffer);
    if (record.buf[record.pos] === TAG_WELCOME) welcomed = true;
    else listenerNonce = readChallenge(record).nonce;
  });
  const hello = singleRecord((w) => writeHello(w, { version: PROTOCOL_VERSION, clusterId: CLUSTER, dialerId: 'fz', listenerId: 'b', nonce: dialerNonce }));
  for (const step of s.steps) {
    if (ws.readyState !== WebSocket.OPEN) break;
    switch (step) {
      case 'hello': ws.send(hello); helloSent = true; break;
      case 'hello-mutated': ws.send(singleRecord((w) => writeHello(w, {
        version: r.chance(0.2) ? r.int(256) : PROTOCOL_VERSION,
        clusterId: r.chance(0.5) ? CLUSTER : r.pick(['', 'other', 'x'.repeat(1024)]),
        dialerId: r.pick(['', 'b', 'fz', 'y'.repeat(1024)]), listenerId: r.pick(['b', 'a', '']), nonce: newNonce(),
      }))); break;
      case 'hello-bytes': ws.send(mutate(r, hello)); break;
      case 'auth': {
        // The right proof once the challenge to a valid HELLO came (however slow the machine);
        // without one, a proof for a nonce never sent.
        const deadline = Date.now() + CHALLENGE_WAIT_MS;
        while (helloSent && listenerNonce === null && ws.readyState === WebSocket.OPEN && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        const binding = { clusterId: CLUSTER, listenerId: 'b', dialerId: 'fz', dialerNonce, listenerNonce: listenerNonce ?? newNonce() };
        ws.send(singleRecord((w) => writeAuth(w, computeProof(SECRET, 'dialer', binding))));
        break;
      }
      case 'auth-random': ws.send(singleRecord((w) => writeAuth(w, newNonce()))); break;
      case 'wrong-tag': ws.send(singleRecord((w) => w.u8(r.pick([0x31, 0x33, 0x00, 0xff, 0x01])))); break;
      case 'random': ws.send(bytes(r, 1 + r.int(600))); break;
      case 'empty': ws.send(Buffer.alloc(0)); break;
      case 'text': ws.send('HELLO'); break;
      case 'huge': ws.send(bytes(r, PRE_AUTH_BYTES + 1 + r.int(64 * 1024))); break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 30));
  if (welcomed) {
    ws.close();
    return { welcomed, closeCode: await closed };
  }
  const closeCode = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), HANDSHAKE_TIMEOUT_MS * 4))]);
  ws.terminate();
  return { welcomed, closeCode };
}

test(`handshake fuzz: ${SESSIONS} seeded sessions (seed ${SEED}) against a real listener`, { timeout: 120_000 }, async () => {
  const listener = await startNode('b', { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, maxPreAuthBytes: PRE_AUTH_BYTES, maxPendingHandshakes: 64 });
  open.push(listener);
  const root = new Prng(SEED);
  const refusalCodes = new Set<number>([...Object.values(CLOSE_CODES), 1006]);
  const plans = Array.from({ length: SESSIONS }, () => ({ r: root.fork(), s: session(root) }));
  let refused = 0;
  let welcomedCount = 0;
  for (let start = 0; start < plans.length; start += PARALLEL) {
    await Promise.all(plans.slice(start, start + PARALLEL).map(async ({ r, s }, k) => {
      const where = `session ${start + k} ${JSON.stringify(s.steps)}`;
      const { welcomed, closeCode } = await run(listener.transport.port, r, s);
      assert.equal(welcomed, s.shouldBeWelcomed, where);
      if (welcomed) { welcomedCount++; return; }
      refused++;
      assert.ok(refusalCodes.has(closeCode), `${where}: ended with ${closeCode}`);
    }));
  }
  assert.ok(welcomedCount > 0 && refused > 0, `the sessions mix both outcomes (${welcomedCount} welcomed, ${refused} refused)`);
  await waitFor('every refusal to be counted', () => listener.counters.rejected.filter((x) => x.direction === 'inbound').length === refused);

  // The listener is unharmed: a real peer connects and its messages arrive.
  const dialer = await startNode('a');
  open.push(dialer);
  dialer.transport.setPeers({ b: `127.0.0.1:${listener.transport.port}` });
  dialer.transport.send(smallAppend('a', 'b', 1));
  await waitFor('a real peer\'s message', () => listener.received.length === 1);
});
