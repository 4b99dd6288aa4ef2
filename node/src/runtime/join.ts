// Joining an existing cluster: a node that is not in the first configuration (a StatefulSet pod
// whose ordinal is at or above CATGA_BOOTSTRAP_EXPECT), or whose disk was wiped, asks the members
// it knows to add it (or replace its former incarnation), first as a learner, then as a voter once
// it has caught up. Level-triggered: it repeats until it is a
// voter, surviving leader changes and restarts; the node stops it as soon as it sees itself a
// voter (startNode's onConf), so a removal that follows at once is never undone.
import type { NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/types.js';
import type { RaftDriver } from '../driver/driver.js';
import type { Logger } from '../common/logger.js';
import { asCatgaError } from '../common/errors.js';
import { JOIN_ATTEMPT_MS } from './service.js';
import { callRpc, JOIN_RPC } from './peer-rpc.js';

export const JOIN_INTERVAL_MS = 1_000;

export interface JoinOptions {
  readonly id: NodeId;
  readonly address: string;
  /** This node's storage incarnation: a member known by another one is replaced (its disk was wiped). */
  readonly incarnation: string;
  /** Members to ask (their peer addresses are already known to the transport). */
  readonly seeds: readonly NodeId[];
  readonly driver: RaftDriver;
  readonly transport: PeerTransport;
  readonly log: Logger;
}

/** Starts the join loop; returns a function that stops it. */
export function startJoining(o: JoinOptions): () => void {
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;

  const round = async (): Promise<void> => {
    timer = null;
    if (stopped) return;
    const seeds = o.seeds.filter((s) => s !== o.id);
    const leader = o.driver.softState.leader;
    const target = leader !== null && leader !== o.id ? leader : seeds[attempt++ % Math.max(1, seeds.length)];
    if (target !== undefined) {
      const request = { id: o.id, address: o.address, incarnation: o.incarnation, deadline: Date.now() + JOIN_ATTEMPT_MS };
      try {
        await callRpc(o.transport, target, JOIN_RPC, request, JOIN_ATTEMPT_MS + 500);
      } catch (err) {
        const code = asCatgaError(err).code;
        if (code !== 'NOT_CAUGHT_UP') o.log.debug('join_attempt_refused', { via: target, code, err });
      }
    }
    if (!stopped) timer = setTimeout(() => void round(), JOIN_INTERVAL_MS);
  };
  timer = setTimeout(() => void round(), 0);
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
