// What a fault phase does: the rate of each kind of fault and client action, drawn per phase from
// the seed. Three kinds of phase: mild (progress under light faults), mixed (everything at random
// rates) and leader churn (leaders die right after winning or committing, between persisting and
// sending: the pattern that exposes figure-8 style commit bugs). Disk faults (slow, full, a failed
// fsync, a crash with a write in flight) are drawn like the others. The heal profile has no faults.
import { CLEAN_LINKS, type LinkFaults } from './network.js';
import type { Prng } from './prng.js';

export type PhaseKind = 'mild' | 'mixed' | 'churn';

/** Per-phase fault intensities, drawn at the start of each fault phase. */
export interface FaultProfile {
  readonly links: LinkFaults;
  readonly propose: number;
  readonly read: number;
  readonly crash: number;
  /** Leader churn: chance per tick that the current leader crashes and comes back soon after. */
  readonly churn: number;
  /** Chance a leader that just appended or committed crashes after persisting, before sending. */
  readonly crashOnProgress: number;
  /** Chance a node that just won an election crashes after persisting, before sending. */
  readonly crashOnElected: number;
  /** Chance any node crashes after persisting a Ready, before sending it. */
  readonly crashBeforeSend: number;
  readonly partition: number;
  readonly confChange: number;
  readonly transfer: number;
  readonly compact: number;
  /** Chance a node loses its disk (never leaving fewer intact voters than a quorum; see simulator.ts). */
  readonly wipe: number;
  /**
   * Chance a follower that acknowledged the leader's last commit loses its disk and the leader
   * crashes right after: the pattern in which an empty disk voting as its former self loses a write.
   */
  readonly wipeAcked: number;
  /** Chance a node's disk turns slow (each write takes virtual time), or fast again. */
  readonly slowDisk: number;
  /** Chance a node's disk fills up (writes fail, nothing is written), or gets room again. */
  readonly diskFull: number;
  /** Chance a node's next fsync fails (the driver stops the node). */
  readonly fsyncFail: number;
  /** Chance a node with a write in flight loses power before it is durable. */
  readonly crashMidWrite: number;
  readonly clockSkew: number;
  /** Chance a delivery is preceded by a corrupted copy the core must refuse untouched. */
  readonly garbage: number;
}

export const HEAL_PROFILE: FaultProfile = {
  links: CLEAN_LINKS,
  propose: 0.1,
  read: 0.03,
  crash: 0,
  churn: 0,
  crashOnProgress: 0,
  crashOnElected: 0,
  crashBeforeSend: 0,
  partition: 0,
  confChange: 0,
  transfer: 0,
  compact: 0.02,
  wipe: 0,
  wipeAcked: 0,
  slowDisk: 0,
  diskFull: 0,
  fsyncFail: 0,
  crashMidWrite: 0,
  clockSkew: 0,
  garbage: 0,
};

export function drawFaultProfile(p: Prng): { readonly kind: PhaseKind; readonly profile: FaultProfile } {
  const kind: PhaseKind = p.chance(0.2) ? 'mild' : p.chance(0.5) ? 'mixed' : 'churn';
  const harsh = kind !== 'mild';
  const churn = kind === 'churn';
  const profile: FaultProfile = {
    links: {
      loss: harsh ? p.next() * 0.15 : 0,
      duplicate: p.next() * 0.1,
      longDelay: p.next() * (harsh ? 0.1 : 0.02),
    },
    propose: churn ? 0.4 + p.next() * 0.6 : 0.1 + p.next() * 0.5,
    read: 0.02 + p.next() * 0.08,
    crash: harsh ? p.next() * 0.02 : 0,
    churn: churn ? p.next() * 0.1 : 0,
    crashOnProgress: churn ? 0.1 + p.next() * 0.4 : 0,
    crashOnElected: churn ? 0.2 + p.next() * 0.5 : 0,
    crashBeforeSend: harsh ? p.next() * 0.003 : 0,
    partition: harsh ? p.next() * 0.04 : 0,
    confChange: p.next() * 0.02,
    transfer: p.next() * 0.02,
    compact: p.next() * 0.05,
    wipe: harsh ? p.next() * 0.003 : 0,
    wipeAcked: churn ? p.next() * 0.05 : 0,
    slowDisk: p.next() * (harsh ? 0.03 : 0.01),
    diskFull: harsh ? p.next() * 0.01 : 0,
    fsyncFail: harsh ? p.next() * 0.003 : 0,
    crashMidWrite: harsh ? p.next() * 0.05 : 0,
    clockSkew: p.next() * 0.1,
    garbage: harsh ? p.next() * 0.02 : 0,
  };
  return { kind, profile };
}
