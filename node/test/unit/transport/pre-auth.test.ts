// The pre-authentication byte budget: a peer that has not completed the handshake may not make
// the other side buffer more than maxPreAuthBytes, in either direction, however large the
// WebSocket message it announces.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { PEER_PATH } from '../../../src/transport/context.js';
import { resolveLimits } from '../../../src/transport/limits.js';
import { closeAll, rawDial, SECRET, startNode, waitFor, type TestNode } from './harness.js';

const open: TestNode[] = [];
after(() => closeAll(open));

/** A masked client frame header announcing a binary message of `length` bytes (64-bit length form). */
function bigFrameHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  randomBytes(4).copy(header, 10);
  return header;
}

/** Upgrades a raw TCP socket to the peer path and returns it with the bytes of the 101 answer read. */
async function rawUpgrade(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET ${PEER_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
  assert.match(head, /^HTTP\/1\.1 101 /);
  return socket;
}

test('an unauthenticated dialer announcing a 16 MiB message is cut off after the pre-auth budget, long before the handshake timeout', async () => {
  const listener = await startNode('b', { handshakeTimeoutMs: 60_000, maxPreAuthBytes: 8 * 1024 });
  open.push(listener);
  const socket = await rawUpgrade(listener.transport.port);
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.write(bigFrameHeader(16 * 1024 * 1024));
  const chunk = Buffer.alloc(16 * 1024, 0x55);
  let sent = 0;
  while (!closed && sent < 1024 * 1024) {
    if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once('drain', resolve).once('close', resolve));
    sent += chunk.length;
  }
  await waitFor('the listener to cut the socket', () => closed, 3000);
  assert.equal(listener.counters.rejectedCount('handshake_too_large', 'inbound'), 1);

  // A real peer still gets in and is not subject to the budget once authenticated.
  const peer = await rawDial(listener.transport.port, { as: 'a', target: 'b', secret: SECRET });
  assert.equal(peer.welcomed, true);
  peer.ws.close();
});

test('a listener that answers the HELLO with a 1 MiB message is refused by the dialer before it is whole', async () => {
  const hostile = new WebSocketServer({ host: '127.0.0.1', port: 0, path: PEER_PATH, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve) => hostile.once('listening', resolve));
  hostile.on('connection', (ws) => ws.once('message', () => ws.send(Buffer.alloc(1024 * 1024, 1))));
  const port = (hostile.address() as net.AddressInfo).port;
  const dialer = await startNode('a', { handshakeTimeoutMs: 60_000, reconnectBaseMs: 5_000, reconnectMaxMs: 5_000 });
  open.push(dialer);
  dialer.transport.setPeers({ b: `127.0.0.1:${port}` });
  await waitFor('the dialer to refuse the listener', () => dialer.counters.rejectedCount('handshake_too_large', 'outbound') === 1, 3000);
  assert.equal(dialer.counters.rejectedCount('bad_frame', 'outbound'), 0, 'cut off before the message was whole and parsed');
  await new Promise<void>((resolve) => hostile.close(() => resolve()));
});

test('maxPreAuthBytes below the largest handshake is refused', () => {
  assert.throws(() => resolveLimits({ maxPreAuthBytes: 1024 }), /maxPreAuthBytes must be >= 4096/);
  assert.equal(resolveLimits({}).maxPreAuthBytes, 8 * 1024);
});
