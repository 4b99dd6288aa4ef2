// Pre-built WebSocket text frames: a real `ws` client must read them as one message per event,
// whatever the payload size (7-bit, 16-bit and 64-bit length forms), interleaved with frames `ws`
// itself writes on the same socket.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { frameHeaderBytes, sharedTextFrames, textFrames } from '../../../src/server/ws-frames.js';

const event = (index: number, size: number) => ({ index, type: 't', bytes: Buffer.from(JSON.stringify({ index, pad: 'é'.repeat(size) })) });

test('header sizes follow RFC 6455 length forms', () => {
  assert.deepEqual([0, 125, 126, 65535, 65536].map(frameHeaderBytes), [2, 2, 4, 4, 10]);
  const frames = textFrames([event(1, 1), event(2, 100)]);
  assert.equal(frames[0], 0x81, 'FIN + text');
  assert.equal(frames[1]! & 0x80, 0, 'server frames are not masked');
});

test('a ws client reads pre-built frames as one message per event, between frames ws sends itself', async () => {
  const events = [event(1, 10), event(2, 200), event(3, 40_000)];
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer();
  http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
    socket.write(textFrames(events.slice(0, 2)));
    ws.send('from ws');
    socket.write(textFrames(events.slice(2)));
    ws.close(1000, 'done');
  }));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  const got: string[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => got.push(`${isBinary ? 'binary' : 'text'}:${data.toString('utf8')}`));
  const code = await new Promise<number>((r) => client.on('close', (c: number) => r(c)));
  http.close();
  assert.equal(code, 1000);
  assert.deepEqual(got, [
    `text:${events[0]!.bytes.toString()}`, `text:${events[1]!.bytes.toString()}`, 'text:from ws', `text:${events[2]!.bytes.toString()}`,
  ]);
});

test('frames are built once per array of events', () => {
  const events = [event(1, 5)];
  assert.equal(sharedTextFrames(events), sharedTextFrames(events));
  assert.notEqual(sharedTextFrames([...events]), sharedTextFrames(events));
});
