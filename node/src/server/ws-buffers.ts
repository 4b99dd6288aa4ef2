// The node-wide budget for event bytes handed to WebSocket subscribers but not yet flushed to
// their sockets. Each subscriber takes from it before sending and gives back when the write
// completes; when a send would exceed the budget, the subscriber holding the most (the slowest
// reader) is evicted first, so one stalled client can neither grow memory without bound nor
// starve the others.
import assert from 'node:assert';

/** What a subscriber's pump exposes to the budget. */
export interface BufferHolder {
  /** Bytes this subscriber holds now (maintained by the budget). */
  held: number;
  /** Close the subscriber: it held the most when the budget ran out. */
  evict(): void;
}

/**
 * Per-message memory counted on top of the event bytes: the frame header, the socket's write
 * request and its callback. Measured on Node 20 with ws 8: about 390 bytes per queued message.
 */
export const MESSAGE_OVERHEAD_BYTES = 400;

export class SubscriberBuffers {
  private used = 0;
  private readonly holders = new Set<BufferHolder>();

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'the subscriber buffer budget must be a positive integer');
  }

  get usedBytes(): number { return this.used; }

  /**
   * Takes `bytes` for `h`, evicting the biggest holders while the budget would be exceeded.
   * Returns false when `h` itself was evicted (it must send nothing more).
   */
  take(h: BufferHolder, bytes: number): boolean {
    while (this.used + bytes > this.capacity && this.used > 0) {
      const victim = this.largest();
      this.release(victim);
      victim.evict();
      if (victim === h) return false;
    }
    h.held += bytes;
    this.used += bytes;
    this.holders.add(h);
    return true;
  }

  /** A write of `bytes` taken by `h` completed (nothing happens if `h` was evicted since). */
  give(h: BufferHolder, bytes: number): void {
    const b = Math.min(bytes, h.held);
    h.held -= b;
    this.used -= b;
    if (h.held === 0) this.holders.delete(h);
  }

  /** `h` is gone: whatever it held is free again. */
  release(h: BufferHolder): void {
    this.used -= h.held;
    h.held = 0;
    this.holders.delete(h);
  }

  private largest(): BufferHolder {
    let best: BufferHolder | null = null;
    for (const h of this.holders) if (best === null || h.held > best.held) best = h;
    assert(best !== null, 'bytes are in use, so someone holds them');
    return best;
  }
}
