// The node-wide budget for event bytes handed to WebSocket subscribers but not yet flushed to
// their sockets. Each subscriber takes from it before sending and gives back when the write
// completes; when a send would exceed the budget, the subscriber holding the most (the slowest
// reader) is evicted first, so one stalled client can neither grow memory without bound nor
// starve the others.
import assert from 'node:assert';

/** What a subscriber's pump exposes to the budget. */
export interface BufferHolder {
  /** Frame bytes this subscriber's unflushed writes reference, shared ones included (maintained by the budget). */
  held: number;
  /** Close the subscriber: it held the most when the budget ran out. */
  evict(): void;
}

/**
 * Memory counted per queued socket write on top of its frame bytes: the write request and its
 * callback. Measured on Node 20 with a reader that stopped reading: about 155 bytes of RSS per
 * queued write.
 */
export const WRITE_OVERHEAD_BYTES = 160;

/**
 * Counts what unflushed writes really cost: every distinct frame buffer once, however many
 * subscribers' writes reference it (live subscribers of a node share one buffer per entry, see
 * ws-frames.ts), plus WRITE_OVERHEAD_BYTES per write. A subscriber's writes complete in order, so
 * each holder's references are a FIFO.
 */
export class SubscriberBuffers {
  private used = 0;
  private readonly refs = new Map<Buffer, number>();
  private readonly writes = new Map<BufferHolder, Buffer[]>();

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'the subscriber buffer budget must be a positive integer');
  }

  /** Bytes the budget counts as in use now. */
  get usedBytes(): number { return this.used; }

  /**
   * Takes room for `h` to write `frames`, evicting the biggest holders while the budget would be
   * exceeded. Returns false when `h` itself was evicted (it must write nothing more).
   */
  take(h: BufferHolder, frames: Buffer): boolean {
    for (;;) {
      const cost = WRITE_OVERHEAD_BYTES + (this.refs.has(frames) ? 0 : frames.length);
      if (this.used + cost <= this.capacity || this.used === 0) break;
      const victim = this.largest();
      this.release(victim);
      victim.evict();
      if (victim === h) return false;
    }
    this.ref(frames);
    this.used += WRITE_OVERHEAD_BYTES;
    h.held += frames.length;
    let queue = this.writes.get(h);
    if (queue === undefined) {
      queue = [];
      this.writes.set(h, queue);
    }
    queue.push(frames);
    return true;
  }

  /** The oldest write `h` took room for completed (nothing happens if `h` was evicted since). */
  give(h: BufferHolder, frames: Buffer): void {
    const queue = this.writes.get(h);
    if (queue === undefined) return;
    const done = queue.shift();
    assert(done === frames, 'a subscriber\'s writes complete in order');
    this.forget(h, done, queue);
  }

  /** `h` is gone: whatever its writes referenced is free again (unless others share it). */
  release(h: BufferHolder): void {
    const queue = this.writes.get(h);
    if (queue === undefined) return;
    while (queue.length > 0) this.forget(h, queue.shift()!, queue);
  }

  private forget(h: BufferHolder, frames: Buffer, queue: Buffer[]): void {
    this.unref(frames);
    this.used -= WRITE_OVERHEAD_BYTES;
    h.held -= frames.length;
    if (queue.length === 0) this.writes.delete(h);
  }

  private ref(frames: Buffer): void {
    const n = this.refs.get(frames) ?? 0;
    if (n === 0) this.used += frames.length;
    this.refs.set(frames, n + 1);
  }

  private unref(frames: Buffer): void {
    const n = this.refs.get(frames)!;
    assert(n > 0, 'a referenced frame buffer is counted');
    if (n > 1) this.refs.set(frames, n - 1);
    else {
      this.refs.delete(frames);
      this.used -= frames.length;
    }
  }

  private largest(): BufferHolder {
    let best: BufferHolder | null = null;
    for (const h of this.writes.keys()) if (best === null || h.held > best.held) best = h;
    assert(best !== null, 'bytes are in use, so someone holds them');
    return best;
  }
}
