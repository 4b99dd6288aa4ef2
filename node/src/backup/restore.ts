// Restoring a backup into a node's data directory, and the marker that tells the node, at its first
// start, that its state came from a backup. `restoreBackup` fills the state engine with the
// backup's state at its index (staged, verified, then swapped in: a failed restore leaves no
// state), drops the source cluster's snapshot metadata, and records the marker: the new cluster id,
// the node id, the index and the backup's checksum. It writes no Raft log: at start the node gets a
// fresh incarnation, agrees with the other first members (each restored from the same backup) on a
// new configuration, and starts its log after the backup's index (runtime/node.ts).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ReadView, StateEngine, WriteTx } from '../state/engine.js';
import type { SnapshotMeta } from '../raft/types.js';
import { LmdbStateEngine } from '../state/lmdb-engine.js';
import { stageRecords } from '../state/snapshot-stream.js';
import { SNAPSHOT_META_KEY } from '../state/snapshot-stream.js';
import { readBackup } from './backup.js';
import type { BackupManifest } from './format.js';
import type { BackupStore } from './location.js';

const MARKER_KEY = Buffer.from('restored-from-backup', 'latin1');
const CLUSTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** What the state engine of a restored, not yet started, data directory records. */
export interface RestoreMarker {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly index: number;
  /** The backup's total SHA-256: the first members of a restored cluster must all hold the same backup. */
  readonly backup: string;
  readonly sourceClusterId: string;
}

export class RestoreError extends Error {
  readonly code = 'RESTORE_REFUSED';
}

export function readRestoreMarker(view: Pick<ReadView, 'get'>): RestoreMarker | null {
  const v = view.get('meta', MARKER_KEY);
  return v === undefined ? null : JSON.parse(Buffer.from(v).toString('utf8')) as RestoreMarker;
}

/**
 * The marker of a restored data directory whose node has not started yet, or null. Checks that the
 * node starts under the cluster and node ids the restore named. A node that stopped after its first
 * start recorded the new cluster's snapshot in its log, but before the marker went, finishes the
 * restore here (the log holds the snapshot: the start is done) and gets null.
 */
export function pendingRestore(engine: Pick<StateEngine, 'get' | 'write'>, node: { readonly clusterId: string; readonly nodeId: string }, logEmpty: boolean, logSnapshot: SnapshotMeta | null): RestoreMarker | null {
  const marker = readRestoreMarker(engine);
  if (marker === null) return null;
  if (marker.clusterId !== node.clusterId) {
    throw new RestoreError(`this data directory was restored for cluster ${JSON.stringify(marker.clusterId)}, but the node runs with cluster id ${JSON.stringify(node.clusterId)} (CATGA_CLUSTER_ID): start it with the restore's cluster id`);
  }
  if (marker.nodeId !== node.nodeId) {
    throw new RestoreError(`this data directory was restored for node ${JSON.stringify(marker.nodeId)}, but the node runs as ${JSON.stringify(node.nodeId)} (CATGA_NODE_ID)`);
  }
  if (logEmpty) return marker;
  if (logSnapshot === null || logSnapshot.index !== marker.index) {
    throw new RestoreError(`this data directory was restored at index ${marker.index}, but its Raft log holds ${logSnapshot === null ? 'no snapshot' : `a snapshot at ${logSnapshot.index}`}: it was changed after the restore`);
  }
  engine.write((tx) => completeRestore(tx, logSnapshot));
  return null;
}

/** Removes the marker and records the snapshot metadata the new cluster starts from, in one transaction. */
export function completeRestore(tx: WriteTx, snapshotMeta: object): void {
  tx.put('meta', SNAPSHOT_META_KEY, Buffer.from(JSON.stringify(snapshotMeta), 'utf8'));
  tx.delete('meta', MARKER_KEY);
}

/** A new cluster id: `restored-` and 12 random hex digits. */
export function newClusterId(): string {
  return `restored-${randomBytes(6).toString('hex')}`;
}

export interface RestoreOptions {
  readonly dataDir: string;
  readonly nodeId: string;
  readonly clusterId: string;
}

/** Prepares an empty (or absent) data directory from the backup in `store`. */
export async function restoreBackup(store: BackupStore, o: RestoreOptions): Promise<BackupManifest> {
  if (!CLUSTER_ID.test(o.clusterId)) throw new RestoreError(`cluster id ${JSON.stringify(o.clusterId)} must be 1-63 letters, digits, ".", "_" or "-"`);
  if (!CLUSTER_ID.test(o.nodeId)) throw new RestoreError(`node id ${JSON.stringify(o.nodeId)} must be 1-63 letters, digits, ".", "_" or "-"`);
  // A volume's mount point holds lost+found (ext4): that directory alone is still empty.
  if (existsSync(o.dataDir) && readdirSync(o.dataDir).some((n) => n !== 'lost+found')) {
    throw new RestoreError(`data directory ${o.dataDir} is not empty: a restore starts a new member, it never overwrites one (remove the directory first)`);
  }
  const stateDir = join(o.dataDir, 'state');
  const engine = new LmdbStateEngine(stateDir);
  let restored = false;
  try {
    const staging = engine.stage();
    let manifest: BackupManifest;
    try {
      manifest = await readBackup(store, (records) => stageRecords(staging, records.filter((r) => !(r.table === 'meta' && SNAPSHOT_META_KEY.equals(r.key)))));
      if (manifest.clusterId === o.clusterId) {
        throw new RestoreError(`the new cluster id must differ from the backup's (${manifest.clusterId}): members of the old cluster must not take the restored one for theirs`);
      }
      const marker: RestoreMarker = { clusterId: o.clusterId, nodeId: o.nodeId, index: manifest.index, backup: manifest.sha256, sourceClusterId: manifest.clusterId };
      staging.put('meta', [{ key: MARKER_KEY, value: Buffer.from(JSON.stringify(marker), 'utf8') }]);
    } catch (err) {
      staging.abort();
      throw err;
    }
    await staging.swap();
    restored = true;
    return manifest;
  } finally {
    await engine.close();
    // A failed restore leaves the directory as it found it: empty, ready for another attempt.
    if (!restored) rmSync(stateDir, { recursive: true, force: true });
  }
}
