// Which peers the transport dials: the members of the configuration, the seeds while joining, and
// for a while each member that just left the configuration. That last group matters because a
// configuration takes effect when appended, before it commits: a leader that removed itself still
// needs its followers' acknowledgements to commit the removal, and a removed follower still needs
// the commit that tells it so. Dropping their links at once would stall both until an election.
import type { NodeId } from '../raft/types.js';

/** How long a member that left the configuration stays reachable. */
export const REMOVED_MEMBER_LINGER_MS = 10_000;

export class PeerDirectory {
  private members: Record<NodeId, string> = {};
  private seeds: Record<NodeId, string> = {};
  private readonly lingering = new Map<NodeId, { readonly address: string; readonly timer: NodeJS.Timeout }>();
  private closed = false;

  constructor(
    private readonly self: NodeId,
    private readonly apply: (peers: Record<NodeId, string>) => void,
    private readonly lingerMs = REMOVED_MEMBER_LINGER_MS,
  ) {}

  /** The configuration changed: `addresses` are its members (this node may be among them). */
  setMembers(addresses: Readonly<Record<NodeId, string>>): void {
    for (const [id, address] of Object.entries(this.members)) {
      if (id === this.self || id in addresses || this.lingering.has(id)) continue;
      const timer = setTimeout(() => { this.lingering.delete(id); this.publish(); }, this.lingerMs);
      timer.unref();
      this.lingering.set(id, { address, timer });
    }
    for (const id of Object.keys(addresses)) this.stopLingering(id);
    this.members = { ...addresses };
    this.publish();
  }

  /** Seeds asked to let this node in; empty once it has joined. */
  setSeeds(seeds: Readonly<Record<NodeId, string>>): void {
    this.seeds = { ...seeds };
    this.publish();
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.lingering.keys()]) this.stopLingering(id);
  }

  private stopLingering(id: NodeId): void {
    const l = this.lingering.get(id);
    if (l === undefined) return;
    clearTimeout(l.timer);
    this.lingering.delete(id);
  }

  private publish(): void {
    if (this.closed) return;
    const peers: Record<NodeId, string> = { ...this.seeds };
    for (const [id, l] of this.lingering) peers[id] = l.address;
    Object.assign(peers, this.members);
    delete peers[this.self];
    this.apply(peers);
  }
}
