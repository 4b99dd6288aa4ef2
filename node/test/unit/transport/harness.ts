// Test harness for transport tests: transports on loopback wired to each other, a polling wait,
// a raw WebSocket peer that speaks the handshake by hand, and a TCP relay that can stop reading.
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocket, type RawData } from 'ws';
import type { Message, NodeId } from '../../../src/raft/types.js';
import { PEER_PATH } from '../../../src/transport/context.js';
import { readSingleRecord, singleRecord } from '../../../src/transport/frames.js';
import {
  computeProof,
  newNonce,
  PROTOCOL_VERSION,
  readChallenge,
  readWelcome,
  writeAuth,
  writeHello,
  type HandshakeRejectReason,
} from '../../../src/transport/handshake.js';
import { createPeerTransport, type PeerTransportOptions, type WsPeerTransport } from '../../../src/transport/index.js';

export const SECRET = 'test-cluster-secret';
export const CLUSTER = 'test-cluster';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Counts of every metrics hook call, per reason / peer. */
export class Counters {
  readonly rejected: Array<{ reason: HandshakeRejectReason; direction: 'inbound' | 'outbound' }> = [];
  readonly drops = new Map<NodeId, number>();
  readonly reconnects = new Map<NodeId, number>();
  readonly badFrames = new Map<NodeId, number>();
  readonly hooks = {
    onHandshakeRejected: (reason: HandshakeRejectReason, direction: 'inbound' | 'outbound') => this.rejected.push({ reason, direction }),
    onDrop: (peer: NodeId, count: number) => this.drops.set(peer, (this.drops.get(peer) ?? 0) + count),
    onReconnect: (peer: NodeId) => this.reconnects.set(peer, (this.reconnects.get(peer) ?? 0) + 1),
    onBadFrame: (peer: NodeId) => this.badFrames.set(peer, (this.badFrames.get(peer) ?? 0) + 1),
  };

  rejectedCount(reason: HandshakeRejectReason, direction: 'inbound' | 'outbound'): number {
    return this.rejected.filter((r) => r.reason === reason && r.direction === direction).length;
  }
}

export interface TestNode {
  readonly id: NodeId;
  readonly transport: WsPeerTransport;
  readonly received: Message[];
  readonly counters: Counters;
}

export async function startNode(id: NodeId, opts: Partial<PeerTransportOptions> = {}): Promise<TestNode> {
  const counters = new Counters();
  const transport = createPeerTransport({
    id,
    clusterId: CLUSTER,
    secret: SECRET,
    listenHost: '127.0.0.1',
    listenPort: 0,
    reconnectBaseMs: 20,
    reconnectMaxMs: 200,
    metrics: counters.hooks,
    ...opts,
  });
  await transport.start();
  const received: Message[] = [];
  transport.onMessage((msg) => received.push(msg));
  return { id, transport, received, counters };
}

/** Points every node at every other one (by their bound ports). */
export function wireAll(nodes: readonly TestNode[]): void {
  const addresses: Record<NodeId, string> = {};
  for (const n of nodes) addresses[n.id] = `127.0.0.1:${n.transport.port}`;
  for (const n of nodes) n.transport.setPeers(addresses);
}

export async function closeAll(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.close()));
}

function nextMessage(ws: WebSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => reject(Object.assign(new Error(`closed ${code}`), { closeCode: code }));
    ws.once('message', (data: RawData) => {
      ws.off('close', onClose);
      resolve(data as Buffer);
    });
    ws.once('close', onClose);
  });
}

export function closeCodeOf(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
}

/**
 * A hand-driven dialer: connects to `port`, sends HELLO as `as` for `target`, and unless told to
 * stop early, answers the challenge with a proof made from `secret` (right or wrong).
 */
export async function rawDial(
  port: number,
  o: { as: NodeId; target: NodeId; secret: string; clusterId?: string; proof?: 'computed' | 'random' },
): Promise<{ ws: WebSocket; welcomed: boolean; closeCode: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`, { perMessageDeflate: false });
  const closeCode = closeCodeOf(ws);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const clusterId = o.clusterId ?? CLUSTER;
  const dialerNonce = newNonce();
  ws.send(singleRecord((w) => writeHello(w, { version: PROTOCOL_VERSION, clusterId, dialerId: o.as, listenerId: o.target, nonce: dialerNonce })));
  try {
    const challenge = readChallenge(readSingleRecord(await nextMessage(ws)));
    const proof =
      o.proof === 'random'
        ? newNonce()
        : computeProof(o.secret, 'dialer', { clusterId, listenerId: o.target, dialerId: o.as, dialerNonce, listenerNonce: challenge.nonce });
    ws.send(singleRecord((w) => writeAuth(w, proof)));
    readWelcome(readSingleRecord(await nextMessage(ws)));
    return { ws, welcomed: true, closeCode };
  } catch (err) {
    if ((err as { closeCode?: number }).closeCode === undefined) throw err;
    return { ws, welcomed: false, closeCode };
  }
}

/** Wraps one record in a length prefix, for hand-made frames. */
export function frameOf(body: Uint8Array): Buffer {
  return singleRecord((w) => w.raw(body));
}

/**
 * A TCP relay in front of a listener: it forwards both ways until `stopReading()`, after which it
 * reads nothing more from the dialer (a peer whose process hangs: the dialer's buffers fill up).
 */
export class StallableRelay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('data', (chunk) => {
        if (this.stalled) return;
        upstream.write(chunk);
      });
      upstream.pipe(client);
      if (this.stalled) client.pause();
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  stopReading(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
