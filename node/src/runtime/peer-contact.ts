// Whether this node sees a quorum, for people and probes (GET /v1/cluster, /healthz?detail): when
// it last heard from each peer (any Raft message, by the wall clock of this node), and the
// judgement drawn from it. A leader sees a quorum when a majority of the voters, itself included,
// was heard from within the election timeout; any other node when it heard its leader within it.
// The Raft core's own check-quorum flags are reset every election timeout, so they would flicker.
import { strict as assert } from 'node:assert';
import type { NodeId, RaftStatus } from '../raft/types.js';
import type { QuorumView } from '../server/api.js';

export class PeerContact {
  private readonly lastHeard = new Map<NodeId, number>();

  constructor(private readonly windowMs: number) {
    assert.ok(windowMs > 0, 'the contact window must be positive');
  }

  heard(from: NodeId, now: number): void {
    this.lastHeard.set(from, now);
  }

  view(status: RaftStatus, now: number): QuorumView {
    // Only members are remembered: a removed peer's entry goes at the next look.
    for (const id of this.lastHeard.keys()) if (!(id in status.conf.addresses)) this.lastHeard.delete(id);
    const recent = (id: NodeId): boolean => id === status.id || now - (this.lastHeard.get(id) ?? -Infinity) <= this.windowMs;
    const voters = status.conf.voters.filter(recent);
    const majority = Math.floor(status.conf.voters.length / 2) + 1;
    if (status.role === 'leader') {
      const visible = voters.length >= majority;
      return { visible, voters, reason: `leader; ${voters.length} of ${status.conf.voters.length} voters heard within ${this.windowMs} ms, ${majority} needed` };
    }
    if (status.leader === null) return { visible: false, voters, reason: `${status.role} without a known leader` };
    const visible = recent(status.leader);
    return { visible, voters, reason: visible ? `following ${status.leader}, heard within ${this.windowMs} ms` : `following ${status.leader}, not heard for over ${this.windowMs} ms` };
  }
}
