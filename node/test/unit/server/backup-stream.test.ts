// The backup route's writer (server/backup-stream.ts): it gives the event loop a turn after every
// chunk, also when the socket takes each chunk at once and 'drain' comes from a nextTick (a client
// on a fast link), so the node's other requests are served while a backup streams.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { END_FRAME, FrameReader } from '../../../src/backup/format.js';
import type { BackupHeader } from '../../../src/backup/format.js';
import type { BackupSource } from '../../../src/server/api.js';
import { streamBackup } from '../../../src/server/backup-stream.js';

const CHUNKS = 50;
const CHUNK_BYTES = 64 * 1024;

/**
 * A response whose socket takes every write at once, as a loopback socket with room does: the write
 * completes in a nextTick, so write() returns false (over the high-water mark) and 'drain' follows
 * from that nextTick, before the event loop polls for anything else.
 */
class InstantSink extends Writable {
  readonly received: Buffer[] = [];
  status = 0;
  constructor() {
    super({ highWaterMark: 1024, write: (chunk: Buffer, _encoding, done) => { this.received.push(chunk); process.nextTick(done); } });
  }
  writeHead(status: number): this { this.status = status; return this; }
}

function source(): BackupSource & { readonly sent: () => number } {
  let sent = 0;
  return {
    header: { index: 42 } as BackupHeader,
    next: () => (sent < CHUNKS ? Buffer.alloc(CHUNK_BYTES, sent++) : null),
    close: () => {},
    sent: () => sent,
  };
}

test('the event loop gets a turn after every chunk even when each write drains at once', async () => {
  const sink = new InstantSink();
  const src = source();
  // Chunks the stream had read each time the event loop reached its check phase.
  const seenAtTurns: number[] = [];
  let streaming = true;
  const turn = (): void => {
    seenAtTurns.push(src.sent());
    if (streaming) setImmediate(turn);
  };
  setImmediate(turn);
  await streamBackup(src, sink as unknown as ServerResponse);
  streaming = false;

  assert.equal(sink.status, 200);
  const frames = [...new FrameReader().push(Buffer.concat(sink.received))];
  assert.equal(frames.length, 1 + CHUNKS, 'the header and every chunk');
  assert.deepEqual(sink.received.at(-1), END_FRAME);
  // Between two turns of the loop the stream read at most one chunk.
  for (let i = 1; i < seenAtTurns.length; i++) assert.ok(seenAtTurns[i]! - seenAtTurns[i - 1]! <= 1, `chunks ${seenAtTurns[i - 1]} to ${seenAtTurns[i]} were read without a turn of the event loop`);
  assert.ok(seenAtTurns.length >= CHUNKS, `${seenAtTurns.length} turns of the event loop for ${CHUNKS} chunks`);
});
