// The leader's module version gate: while this node leads, it asks every voter which module
// versions it runs (the `versions` peer RPC), and when every voter runs a module at a version above
// the active one, proposes `catga.modules.activate` raising it to the lowest of them (see
// catga/module-versions.ts). A voter that does not answer holds the gate closed: nothing is raised
// until every voter has answered in the same round.
import { ACTIVATE_COMMAND, MAX_ACTIVATIONS_PER_ENTRY, versionsToActivate, type VersionMap } from '../catga/module-versions.js';
import type { NodeId } from '../raft/types.js';
import type { Logger } from '../common/logger.js';

/** How often the leader looks. */
export const VERSION_GATE_INTERVAL_MS = 1_000;
/** How long one voter may take to answer. */
export const VERSION_REPORT_TIMEOUT_MS = 2_000;

export interface VersionGateHost {
  readonly self: NodeId;
  /** This node's running versions. */
  readonly running: VersionMap;
  isLeader(): boolean;
  voters(): readonly NodeId[];
  /** The active version of a module in this node's applied state. */
  active(module: string): number;
  /** Asks a peer for its report (VERSIONS_RPC of runtime/peer-rpc.ts, checked); rejects when it does not answer one. */
  ask(peer: NodeId, timeoutMs: number): Promise<VersionMap>;
  /** Proposes the activation as one of the node's own commands. */
  propose(type: string, payload: unknown, deadline: number): Promise<void>;
}

export class VersionGate {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly host: VersionGateHost, private readonly log: Logger) {}

  start(): void {
    this.timer = setInterval(() => void this.round(), VERSION_GATE_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look: collects every voter's report and proposes what they all run. Returns what it proposed. */
  async round(): Promise<Record<string, number>> {
    const h = this.host;
    if (this.running || !h.isLeader()) return {};
    this.running = true;
    try {
      const reports = await Promise.all(h.voters().map(async (id): Promise<VersionMap | null> => {
        if (id === h.self) return h.running;
        try {
          return await h.ask(id, VERSION_REPORT_TIMEOUT_MS);
        } catch {
          return null;
        }
      }));
      if (reports.some((r) => r === null) || !h.isLeader()) return {};
      const raise = versionsToActivate((m) => h.active(m), reports as VersionMap[]);
      const versions = Object.entries(raise).slice(0, MAX_ACTIVATIONS_PER_ENTRY).map(([module, version]) => ({ module, version }));
      if (versions.length === 0) return {};
      this.log.info('module_versions_activating', { versions: raise });
      await h.propose(ACTIVATE_COMMAND, { versions }, Date.now() + VERSION_REPORT_TIMEOUT_MS);
      return raise;
    } catch (err) {
      this.log.warn('module_versions_activation_failed', { err });
      return {};
    } finally {
      this.running = false;
    }
  }
}
