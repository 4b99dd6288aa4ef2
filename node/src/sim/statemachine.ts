// The simulated state machine: a hash chain over every applied entry plus the configuration the
// applied conf entries produce. Two nodes that applied the same entries hold the same image, so a
// snapshot is meaningful and can be checked against the global history.
import { decodeConfChange } from '../raft/index.js';
import type { ConfChange, ConfState, Entry, Index, Snapshot, Term } from '../raft/types.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MURMUR_M = 0x5bd1e995;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Two independent 32-bit lanes: a 64-bit chain, so a collision needs both to collide. */
export interface ChainHash {
  readonly a: number;
  readonly b: number;
}

export const GENESIS_HASH: ChainHash = { a: FNV_OFFSET, b: 0x9747b28c };

function laneA(h: number, x: number): number {
  return Math.imul(h ^ x, FNV_PRIME);
}

function laneB(h: number, x: number): number {
  const m = Math.imul(h ^ x, MURMUR_M);
  return m ^ (m >>> 15);
}

export function chainNext(prev: ChainHash, entry: Entry): ChainHash {
  const typeCode = entry.type === 'conf' ? 1 : 0;
  let a = laneA(laneA(laneA(prev.a, entry.term), entry.index), typeCode);
  let b = laneB(laneB(laneB(prev.b, entry.term), entry.index), typeCode);
  const data = entry.data;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i] as number;
    a = laneA(a, byte);
    b = laneB(b, byte);
  }
  return { a: a >>> 0, b: b >>> 0 };
}

/**
 * The membership a conf change leads to, written apart from the core's (raft/confchange.ts) on
 * purpose: the simulator decides which members may be wiped or removed from its own model of the
 * committed configuration, so a bug in the core's version cannot also hide itself here.
 */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.node);
  const learners = conf.learners.filter((id) => id !== cc.node);
  const addresses: Record<string, string> = { ...conf.addresses };
  const incarnations: Record<string, string> = { ...conf.incarnations };
  switch (cc.type) {
    case 'addLearner':
      if (conf.voters.includes(cc.node)) return conf;
      learners.push(cc.node);
      addresses[cc.node] = cc.address;
      if (cc.incarnation === undefined) delete incarnations[cc.node];
      else incarnations[cc.node] = cc.incarnation;
      break;
    case 'promote':
      if (!conf.learners.includes(cc.node) && !conf.voters.includes(cc.node)) return conf;
      voters.push(cc.node);
      if (cc.incarnation !== undefined) incarnations[cc.node] = cc.incarnation;
      break;
    case 'replace':
      if (!(cc.node in addresses)) return conf;
      learners.push(cc.node);
      addresses[cc.node] = cc.address;
      incarnations[cc.node] = cc.incarnation;
      break;
    case 'remove':
      delete addresses[cc.node];
      delete incarnations[cc.node];
      break;
    case 'updateAddress':
      if (!(cc.node in addresses)) return conf;
      addresses[cc.node] = cc.address;
      return { ...conf, addresses };
  }
  return Object.keys(incarnations).length === 0 ? { voters, learners, addresses } : { voters, learners, addresses, incarnations };
}

/** Same voters and same learners (order does not matter). */
export function sameMembers(x: ConfState, y: ConfState): boolean {
  return sameSet(x.voters, y.voters) && sameSet(x.learners, y.learners);
}

function sameSet(x: readonly string[], y: readonly string[]): boolean {
  if (x.length !== y.length) return false;
  for (const id of x) if (!y.includes(id)) return false;
  return true;
}

export function describeConf(conf: ConfState): string {
  return `voters=[${conf.voters.join(',')}] learners=[${conf.learners.join(',')}]`;
}

interface SnapshotImage {
  readonly index: Index;
  readonly term: Term;
  readonly a: number;
  readonly b: number;
  readonly conf: ConfState;
}

/** Configuration before any conf entry: the core writes even the bootstrap configuration as entries. */
export const EMPTY_CONF: ConfState = { voters: [], learners: [], addresses: {} };

export class SimStateMachine {
  index: Index = 0;
  term: Term = 0;
  hash: ChainHash = GENESIS_HASH;
  conf: ConfState = EMPTY_CONF;

  static fromSnapshot(snapshot: Snapshot): SimStateMachine {
    const image = JSON.parse(textDecoder.decode(snapshot.data)) as SnapshotImage;
    const sm = new SimStateMachine();
    sm.conf = image.conf;
    sm.index = image.index;
    sm.term = image.term;
    sm.hash = { a: image.a, b: image.b };
    return sm;
  }

  apply(entry: Entry): void {
    this.hash = chainNext(this.hash, entry);
    this.index = entry.index;
    this.term = entry.term;
    if (entry.type === 'conf') this.conf = applyConfChange(this.conf, decodeConfChange(entry.data));
  }

  /** The image a snapshot at `index` carries. */
  encode(): Uint8Array {
    const image: SnapshotImage = { index: this.index, term: this.term, a: this.hash.a, b: this.hash.b, conf: this.conf };
    return textEncoder.encode(JSON.stringify(image));
  }
}
