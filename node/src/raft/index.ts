// The Raft core's public surface: create a core, encode conf changes, sane defaults, and the types.
//
// Driver contract (runtime and simulator), beyond the Ready order documented in types.ts:
//  - Brand-new cluster: every initial member gets the SAME `bootstrap` ConfState (with an address
//    for every member) and an empty restore; the core writes it as committed term-1 conf entries.
//    A member that joins later starts with `bootstrap: null` and an empty log, and is added by
//    `proposeConfChange({type:'addLearner'})` on the leader, then `promote` once caught up (watch
//    `status().progress[id].match`). Never give a joining node a bootstrap.
//  - Configuration takes effect when its entry is APPENDED (see confhistory.ts), not when applied:
//    `status().conf` is the configuration in force. Conf entries still reach `committedEntries`
//    (decode them with `decodeConfChange` to react, e.g. open or close peer connections).
//  - Call ready() and advance() in strict pairs (ready() again before advance() throws).
//    step()/tick()/propose() between them are fine.
//  - A leader counts its own entries toward commit only once advance() confirmed them durable, so
//    a LEADER may send a Ready's messages before or while persisting it, PROVIDED that Ready
//    changes neither term nor vote (nor carries a snapshot). Otherwise, and in every other role,
//    persist first: the messages (acks, votes, a new term's appends) promise what is on disk.
//  - `compact(index, data, retain)`: `index` ≤ the applied index acknowledged by advance(); persist
//    the returned Snapshot, after which storage may drop entries ≤ index (entries ≤ index that it
//    still hands back on restart are ignored). Call it on every node, leader or not.
//  - Restart: restore from what was persisted; `applied` is the snapshot index (the state machine
//    is rebuilt from the snapshot and re-applies committed entries after it).
//  - Reads: a ReadState means "once applied ≥ index, serve the read". A read may never be answered
//    (leader lost, message lost, forwarded to a dead leader): readers need their own timeout.
//  - `proposeBatch` returns the index of its LAST entry; entry i of n is at index - n + 1 + i.
//  - The core never throws for bad input from the network or callers (it returns a RaftError);
//    it throws RaftInvariantError (code RAFT_INVARIANT) only for a broken invariant or a driver
//    contract violation: treat it as fatal. encode/decodeConfChange throw ConfChangeError
//    (code INVALID_CONF_CHANGE) for malformed changes.

import { Raft } from './raft.js';
import type { NodeId, RaftConfig, RaftCore, RaftRestore } from './types.js';

export type * from './types.js';
export { ConfChangeError, decodeConfChange, encodeConfChange, isIncarnation, MAX_INCARNATION_LENGTH } from './confchange.js';
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
