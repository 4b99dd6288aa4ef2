// The durable-storage seam between the node runtime and the disk: what the runtime asks the
// storage to persist for each Ready, and what it gets back on start.
import type { Entry, HardState, Index, Snapshot } from '../raft/types.js';

/** What a data directory held at start (all empty on a brand-new node). */
export interface Recovered {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** Torn or partly written tail records cut off during recovery (for the metric). */
  readonly tornRecordsDropped: number;
  /** The directory's incarnation (identity.ts): new when the directory was just initialised. */
  readonly incarnation: string;
}

export interface RaftStorage {
  /** Reads the directory; refuses (throws StorageError) on corruption, a foreign format or a lock held elsewhere. */
  open(): Promise<Recovered>;
  /**
   * Persists one Ready's durable part, in this order: `snapshot` (received from a leader: replaces
   * log and state), `entries` (an entry at an index already stored replaces it and every later
   * one), `hardState`. Resolves only once all of it is fsynced. Concurrent calls are group-committed.
   */
  save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): Promise<void>;
  /** Stores a snapshot the node took itself, then drops log segments wholly at or below `compactTo`. */
  saveSnapshot(snapshot: Snapshot, compactTo: Index): Promise<void>;
  close(): Promise<void>;
}
