// The Raft core's public surface: create a core, encode conf changes, sane defaults, and the types.

import { Raft } from './raft.js';
import type { NodeId, RaftConfig, RaftCore, RaftRestore } from './types.js';

export type * from './types.js';
export { decodeConfChange, encodeConfChange } from './confchange.js';
export { RaftInvariantError } from './invariant.js';
export { MAX_COMMITTED_ENTRIES_PER_READY, MAX_ENTRIES_PER_PROPOSAL } from './raft.js';
export { MAX_PENDING_READS } from './readonly.js';
export { MAX_READ_CONTEXT_LENGTH } from './validate.js';

/** A core restored from `restore` (all-empty plus `bootstrap` for a brand-new cluster member). */
export function createRaft(config: RaftConfig, restore: RaftRestore): RaftCore {
  return new Raft(config, restore);
}

/** Production defaults; `random` must be a seeded source in the simulator. */
export function defaultRaftConfig(id: NodeId, random: () => number): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    random,
    preVote: true,
    checkQuorum: true,
    maxInflight: 256,
    maxEntriesPerMessage: 512,
    maxBytesPerMessage: 1024 * 1024,
    maxUncommittedBytes: 64 * 1024 * 1024,
  };
}
