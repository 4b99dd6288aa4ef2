// The simulator's seam to a node's durable store: what each Ready persists and what a restart
// recovers. The in-memory store makes every save durable at once; the storage package's
// SimulatedDiskStore runs the real storage code over a crashing in-memory disk behind the same
// interface (its methods return promises; the simulator awaits them only when they do).
import type { Entry, HardState, Index, NodeId, Snapshot } from '../raft/types.js';
import { SimulatedDiskStore } from '../storage/index.js';
import type { Recovered } from '../storage/types.js';
import { SimLog } from './log.js';

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

export interface DurableStore {
  /** Persists one Ready's durable part in order: snapshot (replaces the log), entries, hard state. */
  save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): void | Promise<void>;
  /** Persists a snapshot the node took itself and drops entries at or below `compactTo`. */
  saveSnapshot(snapshot: Snapshot, compactTo: Index): void | Promise<void>;
  /** The node crashed: everything not yet durable is gone. */
  crash(): void;
  /** What a restarting node finds. */
  recover(): Recovered | Promise<Recovered>;
}

/** Makes one node's store; `random` is a seeded source the store may use for its own faults. */
export type StoreFactory = (id: NodeId, random: () => number) => DurableStore;

export const memoryStore: StoreFactory = () => new MemoryDurableStore();

/**
 * The real storage code (WAL, hard state and snapshot files) on the storage package's crashing
 * in-memory disk: a crash loses what was not fsynced and may tear the last write.
 */
export const simulatedDiskStore: StoreFactory = (_id, random) => new SimulatedDiskStore(random);

export class MemoryDurableStore implements DurableStore {
  private hardState: HardState = EMPTY_HARD_STATE;
  private readonly log = new SimLog();

  save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): void {
    if (snapshot !== null) this.log.installSnapshot(snapshot);
    if (entries.length > 0) this.log.append(entries);
    if (hardState !== null) this.hardState = hardState;
  }

  saveSnapshot(snapshot: Snapshot, compactTo: Index): void {
    this.log.compact(snapshot, compactTo);
  }

  crash(): void {
    // Every save completed synchronously, so nothing is pending: a crash loses nothing here.
  }

  recover(): Recovered {
    return {
      hardState: this.hardState,
      snapshot: this.log.snapshot,
      entries: this.log.entriesAfterSnapshot(),
      tornRecordsDropped: 0,
      incarnation: 'sim',
    };
  }
}
