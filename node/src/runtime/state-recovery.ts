// At start, reconciles what the Raft storage recovered with what the state engine holds. The
// engine holds the state of exactly one applied index A, durable up to its last sync; the log is
// the source of truth for everything after A. Three cases:
//  - A inside the log (the usual one): the core starts with applied = A and replays only the
//    committed entries after A. A's entries were committed, so the commit index is at least A;
//  - A past the log's end: the node crashed after swapping in a snapshot from the leader but
//    before the Raft storage recorded it. The engine kept that snapshot's metadata: it becomes
//    the recovered snapshot (and is persisted before anything else happens);
//  - A behind the recovered snapshot: the engine lost state the log no longer has. Never made by
//    Catga (the log is compacted only behind a synced engine); refused with an error.
// A snapshot from before the state engine (a v1 image, already imported into the engine by then)
// gets a descriptor in place of its image.
import type { Entry, HardState, Index, Snapshot, SnapshotMeta } from '../raft/types.js';
import type { Recovered } from '../storage/types.js';
import { decodeDescriptor } from '../state/snapshot-stream.js';
import { parseImageV1 } from '../catga/image-v1.js';

export class StateRecoveryError extends Error {
  readonly code = 'STATE_ENGINE_BEHIND';
}

export interface EngineRecovery {
  /** The engine's applied index. */
  readonly applied: Index;
  /** Metadata of the last snapshot swapped into the engine, if any. */
  readonly snapshotMeta: SnapshotMeta | null;
  /**
   * Descriptor data for a snapshot at `index`: of the engine's state when it is at `index`; else
   * one no sender can serve (a receiver's request makes the sender take a new snapshot).
   */
  readonly descriptor: (index: Index) => Uint8Array;
}

export interface Reconciled {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly applied: Index;
  /** The snapshot came from the engine: persist it to the Raft storage before starting. */
  readonly persistSnapshot: boolean;
}

export function reconcile(recovered: Recovered, engine: EngineRecovery): Reconciled {
  const stored = recovered.snapshot;
  const snap = stored !== null && parseImageV1(stored.data) !== null ? { meta: stored.meta, data: engine.descriptor(stored.meta.index) } : stored;
  if (snap !== null) decodeDescriptor(snap.data);
  const snapIndex = snap?.meta.index ?? 0;
  const last = recovered.entries.length > 0 ? (recovered.entries[recovered.entries.length - 1] as Entry).index : snapIndex;
  const applied = engine.applied;
  if (applied < snapIndex) {
    throw new StateRecoveryError(`the state engine holds index ${applied}, behind the Raft snapshot at ${snapIndex}: the data directory is inconsistent (was the state directory replaced?)`);
  }
  if (applied > last) {
    const meta = engine.snapshotMeta;
    if (meta === null || meta.index !== applied) {
      throw new StateRecoveryError(`the state engine holds index ${applied}, past the log's last entry ${last}, without the snapshot that brought it there`);
    }
    const snapshot: Snapshot = { meta, data: engine.descriptor(applied) };
    const hs = recovered.hardState;
    // The snapshot's message was never stepped: its term may be newer than the one on disk.
    const hardState = meta.term > hs.term ? { term: meta.term, vote: null, commit: applied } : { ...hs, commit: applied };
    return { hardState, snapshot, entries: [], applied, persistSnapshot: true };
  }
  const hardState = applied > recovered.hardState.commit ? { ...recovered.hardState, commit: applied } : recovered.hardState;
  return { hardState, snapshot: snap, entries: recovered.entries, applied, persistSnapshot: false };
}
