// The node's side of a backup: a read view of the state engine pinned at the applied index (a
// committed index: only committed entries are applied), read in chunks on demand. Pinning costs
// one read transaction, never a copy; the driver loop goes on applying while the chunks are read.
// Each chunk is one bounded synchronous read (about 512 KiB or 2,048 records), so the caller that
// streams them yields to the event loop between chunks. At most MAX_BACKUPS run at once on a node.
import { createRequire } from 'node:module';
import type { PinnedView } from '../state/engine.js';
import { DEFAULT_CHUNK_BYTES, readChunk, SNAPSHOT_FORMAT, type Cursor } from '../state/snapshot-stream.js';
import type { BackupHeader } from '../backup/format.js';
import type { ConfState } from '../raft/types.js';
import type { TransferStateMachine } from './snapshot-transfer.js';
import { CatgaError } from '../common/errors.js';
import type { BackupSource } from '../server/api.js';

/** Backups streaming from one node at once: each holds a read view, which keeps LMDB from reusing pages. */
export const MAX_BACKUPS = 1;

export const NODE_VERSION: string = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;


export interface BackupSourceOptions {
  /** A backup carries the state, not the events (a restored cluster is a new cluster: nobody resumes on it). */
  readonly sm: Omit<TransferStateMachine, 'eventRows'>;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly raft: () => { readonly term: number; readonly conf: ConfState };
  readonly chunkBytes?: number;
}

export class BackupSources {
  private open = 0;

  constructor(private readonly o: BackupSourceOptions) {}

  /** Pins the state at the applied index now; throws 429 BACKUP_IN_PROGRESS past MAX_BACKUPS. */
  start(): BackupSource {
    if (this.open >= MAX_BACKUPS) throw new CatgaError('BACKUP_IN_PROGRESS', `a backup is already streaming from this node (at most ${MAX_BACKUPS} at once)`, 429);
    const { sm } = this.o;
    // Synchronous from here to the pin: no entry is applied in between, so the view, the index and
    // the totals describe the same state.
    const view: PinnedView = sm.engine.pin();
    const raft = this.o.raft();
    const header: BackupHeader = {
      clusterId: this.o.clusterId, sourceNode: this.o.nodeId, index: sm.appliedIndex, term: raft.term, configuration: raft.conf,
      snapshotFormat: SNAPSHOT_FORMAT, nodeVersion: NODE_VERSION, stateBytes: sm.stateBytes, idemRows: sm.idempotencyKeys,
    };
    this.open++;
    let cursor: Cursor | null = null;
    let done = false;
    let closed = false;
    const chunkBytes = this.o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    return {
      header,
      next: () => {
        if (done || closed) return null;
        const r = readChunk(view, cursor, chunkBytes);
        cursor = r.next;
        done = r.next === null;
        return r.chunk;
      },
      close: () => {
        if (closed) return;
        closed = true;
        view.close();
        this.open--;
      },
    };
  }
}
