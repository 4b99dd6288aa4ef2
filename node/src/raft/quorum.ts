// Quorum arithmetic over a list of voters: majority size, the highest index a majority has
// reached, and the outcome of a (pre-)vote. Nothing here knows about roles or messages.

import type { Index, NodeId } from './types.js';

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Size of a majority of `voters` voters (an empty set has no quorum: it needs 1 of 0). */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest index replicated on a majority, given each voter's match index in `matches`.
 * Sorts `matches` in place (callers pass a scratch array). An empty voter set commits nothing.
 */
export function quorumIndex(matches: number[]): Index {
  if (matches.length === 0) return 0;
  // Insertion sort, descending: voter sets are tiny and this runs on every acknowledgement.
  for (let i = 1; i < matches.length; i++) {
    const v = matches[i]!;
    let j = i - 1;
    while (j >= 0 && matches[j]! < v) {
      matches[j + 1] = matches[j]!;
      j--;
    }
    matches[j + 1] = v;
  }
  return matches[majority(matches.length) - 1]!;
}

/** Tallies the answers of `voters`; a node missing from `votes` has not answered yet. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (voters.length - rejected < needed) return 'lost';
  return 'pending';
}

/** True when `isActive` holds for a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return active >= majority(voters.length);
}
