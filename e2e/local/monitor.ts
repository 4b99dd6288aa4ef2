// Owns observation of leadership during a run: polls every member's GET /v1/cluster and counts
// leader changes (distinct (term, leader) pairs seen after the first).
import type { ClusterView } from './cluster.js';
import { getValue, type Endpoint } from './http.js';

export const MONITOR_INTERVAL_MS = 250;
const VIEW_TIMEOUT_MS = 1_000;

export class LeaderMonitor {
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  /** `nodes()`: the members to ask, read at every poll. */
  constructor(private readonly nodes: () => readonly Endpoint[]) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), MONITOR_INTERVAL_MS);
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // one poll at a time: a slow node never piles requests up
    this.polling = true;
    try {
      const views = await Promise.all(this.nodes().map((n) => getValue<ClusterView>(`${n.url}/v1/cluster`, VIEW_TIMEOUT_MS, undefined, n.tls)));
      for (const v of views) if (v !== null && v.leader !== null) this.seen.add(`${v.term}/${v.leader}`);
    } finally {
      this.polling = false;
    }
  }

  get leaderChanges(): number {
    return Math.max(0, this.seen.size - 1);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
