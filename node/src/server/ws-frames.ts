// WebSocket text frames for event streams, built once per node and written as-is to every
// subscriber's socket. A server's frames are never masked (RFC 6455 §5.1), so the frame bytes of
// an event are the same for every subscriber: encoding them per subscriber, as `ws.send` does,
// would repeat the same header, copy and bookkeeping a thousand times for a thousand subscribers.
// The frames are whole, and `ws` writes its own (close, pong) whole too, so the two interleave
// on the socket only at frame boundaries.
import type { WireEvent } from './api.js';

/** FIN set, opcode 1 (text). */
const FIN_TEXT = 0x81;

/** Bytes of the header of an unmasked frame carrying `length` payload bytes. */
export function frameHeaderBytes(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes one unmasked text frame carrying `payload` into `out` at `at`; returns the end. */
function writeTextFrame(out: Buffer, at: number, payload: Uint8Array): number {
  const length = payload.length;
  out[at] = FIN_TEXT;
  if (length < 126) {
    out[at + 1] = length;
    at += 2;
  } else if (length < 0x10000) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    at += 4;
  } else {
    out[at + 1] = 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
    out.writeUInt32BE(length >>> 0, at + 6);
    at += 10;
  }
  out.set(payload, at);
  return at + length;
}

/** The frames of `events` back to back: one text message per event (docs/api.md#events). */
export function textFrames(events: readonly WireEvent[]): Buffer {
  let size = 0;
  for (const e of events) size += frameHeaderBytes(e.bytes.length) + e.bytes.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const e of events) at = writeTextFrame(out, at, e.bytes);
  return out;
}

/**
 * `textFrames`, cached per array of events: every live subscriber of a node is handed the same
 * array for an entry (EventLog passes one array to all its listeners), so the frames are built
 * once per entry per node however many subscribers there are.
 */
const framesCache = new WeakMap<readonly WireEvent[], Buffer>();
export function sharedTextFrames(events: readonly WireEvent[]): Buffer {
  let frames = framesCache.get(events);
  if (frames === undefined) {
    frames = textFrames(events);
    framesCache.set(events, frames);
  }
  return frames;
}
