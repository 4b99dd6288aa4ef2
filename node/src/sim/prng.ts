// Seeded pseudo-random numbers: xoshiro128** (state seeded through splitmix32). Small, fast, 32-bit
// integer arithmetic only, no allocation per draw; the same seed always gives the same sequence.
// The simulator draws every decision from it; the runtime may reuse it for seeded jitter.

const TWO_POW_32 = 4294967296;

/** splitmix32 step: a well-mixed 32-bit value from a counter-like state (used only for seeding). */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    x = (x + 0x9e3779b9) | 0;
    this.s0 = splitmix32(x);
    x = (x + 0x9e3779b9) | 0;
    this.s1 = splitmix32(x);
    x = (x + 0x9e3779b9) | 0;
    this.s2 = splitmix32(x);
    x = (x + 0x9e3779b9) | 0;
    this.s3 = splitmix32(x);
    // xoshiro must never start from the all-zero state (it would stay there).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const t = s1 << 9;
    const rotated = Math.imul(s1, 5);
    const result = Math.imul((rotated << 7) | (rotated >>> 25), 9);
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n); n ≥ 1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both included). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Prng.pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher–Yates). */
  shuffle<T>(items: T[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
  }

  /** An independent generator seeded from this one (one stream per consumer keeps traces stable). */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}

/** A seeded uniform source in [0, 1), for code that takes a plain `() => number` (the core, tests). */
export function seededRandom(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}
