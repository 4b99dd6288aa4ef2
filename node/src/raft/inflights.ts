// The bounded window of append messages in flight to one follower: a ring buffer of the last
// index each unacknowledged append carried. A full window pauses replication to that follower.

import { invariant } from './invariant.js';
import type { Index } from './types.js';

export class Inflights {
  private readonly ring: Index[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    invariant(Number.isInteger(capacity) && capacity > 0, 'inflight capacity must be a positive integer');
    this.ring = new Array<Index>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records an append whose last entry is `last`; indexes must increase. */
  add(last: Index): void {
    invariant(!this.full(), 'inflight window overflow');
    if (this.count > 0) invariant(last > this.ring[(this.start + this.count - 1) % this.capacity]!, 'inflight indexes must increase');
    this.ring[(this.start + this.count) % this.capacity] = last;
    this.count++;
  }

  /** Frees every append whose last index is ≤ `index` (they are acknowledged). */
  freeUpTo(index: Index): void {
    while (this.count > 0 && this.ring[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  /** Frees the oldest append (a heartbeat answer shows the follower alive but says nothing else). */
  freeFirst(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
