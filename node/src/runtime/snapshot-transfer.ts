// Snapshots over the peer link, both ends. The Raft core's snapshot message carries only a
// descriptor (state/snapshot-stream.ts); the data travels here, as chunk requests the receiver
// makes to the sender: one chunk in flight (the flow control), each checksummed, resumable from the
// last chunk received after a broken link.
//  - Sender (whoever took the snapshot, normally the leader): chunks are served from a read view
//    of the engine pinned at the snapshot's index. Pinning costs one read transaction, never a copy
//    of the state, but while a view is open the engine cannot reuse the pages that writes since
//    then replaced: its file grows with every write (13 MB/s under a put load here). So a view is
//    held only for a receiver: a snapshot taken on schedule is pinned when a receiver asks for it
//    while the state is still at its index; otherwise the receiver is told it is gone, a new
//    snapshot is taken at once, and from then on every snapshot taken is pinned until a receiver
//    asks for one of them. Not only the first: the core sends its newest snapshot, and under load
//    more are taken on schedule before it sends again. Of the views no receiver has asked for, the
//    two newest are kept (one may be on its way to a receiver while the next is taken). A view no
//    receiver asked for in PIN_IDLE_MS is closed.
//  - Receiver: a snapshot message whose state this node does not hold is held back from the core;
//    its data is staged into the engine's second slot (never in memory as a whole), verified
//    against the descriptor, swapped in durably, and only then is the message handed to the core,
//    which persists it and acknowledges. A crash at any point leaves either the old state or the
//    new one, each with its own applied index.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { InstallSnapshot, Index, NodeId, SnapshotMeta } from '../raft/types.js';
import type { KeyValue, PinnedView, Staging, StateEngine } from '../state/engine.js';
import {
  DEFAULT_CHUNK_BYTES, decodeChunk, decodeCursor, decodeDescriptor, emptyTotals, encodeCursor, encodeDescriptor, readChunk, SNAPSHOT_META_KEY, SnapshotFormatError,
  stageRecords, tallyRecords, totalsMismatch, withMetaRows, type ChunkRecord, type Cursor, type SnapshotDescriptor, type StreamTotals,
} from '../state/snapshot-stream.js';
import type { PeerTransport } from '../transport/types.js';
import type { Logger } from '../common/logger.js';
import { CatgaError } from '../common/errors.js';
import { sleep } from './deadline.js';
import { callRpc, encodeChunkError, serveRpc, SNAPSHOT_CHUNK_RPC, type ChunkReply, type ChunkRequest } from './peer-rpc.js';

const CHUNK_TIMEOUT_MS = 10_000;
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 5_000;
/** A pinned view no receiver asked for in this long is closed: longer than a receiver's longest wait between two requests. */
const PIN_IDLE_MS = 20_000;
assert.ok(PIN_IDLE_MS > CHUNK_TIMEOUT_MS + RETRY_MAX_MS, 'a retrying receiver must find its view still pinned');
/** Chunk requests failing in a row (link down, damaged chunks) before a transfer is given up; the leader sends the snapshot again later. */
const MAX_CONSECUTIVE_FAILURES = 20;
/** Progress is logged every this many bytes received. */
const PROGRESS_LOG_BYTES = 16 * 1024 * 1024;

/** The state machine the transfer feeds: its engine, and what must follow a swap. */
export interface TransferStateMachine {
  readonly engine: StateEngine;
  readonly appliedIndex: Index;
  readonly stateBytes: number;
  readonly idempotencyKeys: number;
  /** The recent events a snapshot of the current state carries, as `meta` rows (catga/persisted-events.ts). */
  eventRows(): KeyValue[];
  /** Re-read the engine after a swap. */
  reload(): void;
}

export interface TransferMetrics {
  bytesSent(n: number): void;
  bytesReceived(n: number): void;
  /** A snapshot was received, verified and swapped in, this long after its transfer began. */
  installed(seconds: number): void;
  /** A chunk request failed and is retried, or a transfer was given up. */
  failed(kind: 'retry' | 'abandoned'): void;
}

export interface SnapshotTransferOptions {
  readonly sm: TransferStateMachine;
  readonly transport: PeerTransport;
  readonly log: Logger;
  readonly metrics: TransferMetrics;
  /** Hands a snapshot message whose state is now in the engine to the Raft driver. */
  readonly deliver: (m: InstallSnapshot) => void;
  /** A receiver asked for a snapshot this node no longer holds: take a new one. */
  readonly onStale: () => void;
  readonly chunkBytes?: number;
}

interface Pin {
  readonly view: PinnedView;
  lastUsed: number;
  /** A receiver has asked for it. */
  asked: boolean;
}

/** Views pinned for a waiting receiver that no receiver has asked for yet, newest first, beyond which the older are closed. */
const MAX_UNASKED_PINS = 2;

interface Fetch {
  readonly message: InstallSnapshot;
  readonly descriptor: SnapshotDescriptor;
  cancelled: boolean;
}


export class SnapshotTransfer {
  private readonly o: SnapshotTransferOptions;
  private readonly chunkBytes: number;
  private readonly pins = new Map<Index, Pin>();
  private newest: Index = 0;
  /**
   * Since when a receiver waits, having asked for a snapshot no longer held: every snapshot taken is
   * pinned until a receiver asks for a pinned one, or none has asked for anything in PIN_IDLE_MS.
   */
  private receiverWaitingSince: number | null = null;
  private readonly idleTimer: NodeJS.Timeout;
  private fetch: Fetch | null = null;
  /** The transfer running or last run; never rejects. */
  private running: Promise<void> = Promise.resolve();

  constructor(o: SnapshotTransferOptions) {
    this.o = o;
    this.chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    serveRpc(o.transport, SNAPSHOT_CHUNK_RPC, (from, req) => this.serve(from, req), encodeChunkError);
    this.idleTimer = setInterval(() => this.closeIdle(), PIN_IDLE_MS / 4).unref();
  }

  // ---- Sender ---------------------------------------------------------------------------------

  /** The descriptor of the state at the applied index (the caller's snapshot index); pinned if a receiver waits for one. */
  take(): Uint8Array {
    const sm = this.o.sm;
    const index = sm.appliedIndex;
    if (this.receiverWaitingSince !== null) {
      this.pin(index);
      this.closeUnasked((_index, rank) => rank >= MAX_UNASKED_PINS);
    }
    this.newest = index;
    return encodeDescriptor({ format: 2, index, stateBytes: sm.stateBytes, idemRows: sm.idempotencyKeys });
  }

  private pin(index: Index): Pin {
    let pin = this.pins.get(index);
    if (pin === undefined) {
      // Pinned while the state is at `index`: the events held now are those of the snapshot.
      assert.equal(this.o.sm.appliedIndex, index, `pinning snapshot ${index} at applied ${this.o.sm.appliedIndex}`);
      pin = { view: withMetaRows(this.o.sm.engine.pin(), this.o.sm.eventRows()), lastUsed: Date.now(), asked: false };
      this.pins.set(index, pin);
    }
    return pin;
  }

  /** Closes the views no receiver has asked for that `drop` picks, given their index and rank (0 = newest). */
  private closeUnasked(drop: (index: Index, rank: number) => boolean): void {
    const unasked = [...this.pins].filter(([, pin]) => !pin.asked).sort(([a], [b]) => b - a);
    unasked.forEach(([index, pin], rank) => {
      if (!drop(index, rank)) return;
      pin.view.close();
      this.pins.delete(index);
    });
  }

  private closeIdle(): void {
    const now = Date.now();
    // The receiver went away (or was removed); if it comes back, its request makes it wait again.
    if (this.receiverWaitingSince !== null && now - this.receiverWaitingSince > PIN_IDLE_MS) this.receiverWaitingSince = null;
    for (const [index, pin] of this.pins) {
      if (now - pin.lastUsed > PIN_IDLE_MS) {
        pin.view.close();
        this.pins.delete(index);
      }
    }
  }

  private serve(from: NodeId, { index, cursor }: ChunkRequest): ChunkReply {
    // Not pinned yet (or any more, or since a restart): while the state is still at the
    // snapshot's index, the engine's state now is the snapshot.
    const pin = this.pins.get(index) ?? (index === this.o.sm.appliedIndex ? this.pin(index) : undefined);
    if (pin === undefined) {
      this.o.log.warn('snapshot_chunk_refused', { to: from, index, reason: `the state moved past snapshot ${index} (newest ${this.newest}) and no view of it is pinned: taking a new one` });
      this.receiverWaitingSince = Date.now();
      this.o.onStale();
      throw new CatgaError('SNAPSHOT_GONE', `snapshot ${index} is no longer held (the state is at ${this.o.sm.appliedIndex}); the leader takes a new one for this receiver`, 410);
    }
    pin.lastUsed = Date.now();
    if (!pin.asked) {
      // The receiver has its snapshot: the older ones pinned for it are not needed.
      pin.asked = true;
      this.receiverWaitingSince = null;
      this.closeUnasked((older) => older < index);
    }
    const start = decodeCursor(cursor);
    if (start === null) this.o.log.info('snapshot_transfer_serving', { to: from, index });
    const { chunk, records, next } = readChunk(pin.view, start, this.chunkBytes);
    this.o.metrics.bytesSent(chunk.byteLength);
    if (next === null) this.o.log.info('snapshot_transfer_served', { to: from, index });
    return { records, next: next === null ? null : encodeCursor(next), chunk };
  }

  // ---- Receiver -------------------------------------------------------------------------------

  /**
   * True when the message is held back while its data is fetched (the caller must not step it);
   * false when the engine already holds its state, so the core may take it as it is.
   */
  intercept(m: InstallSnapshot, coreApplied: Index): boolean {
    let descriptor: SnapshotDescriptor;
    try {
      descriptor = decodeDescriptor(m.snapshot.data);
    } catch (err) {
      // A sender of another format (a node not yet upgraded): its snapshot cannot be used here.
      this.o.log.warn('snapshot_refused', { from: m.from, index: m.snapshot.meta.index, reason: (err as Error).message });
      return true;
    }
    // The core ignores a snapshot it is past; one whose state the engine holds, it installs. Any
    // other is fetched, also one behind the engine: a snapshot swapped in whose message the core
    // then refused (a newer term) was never the core's state, and the engine must hold exactly
    // the state of the snapshot the core installs.
    if (descriptor.index <= coreApplied || descriptor.index === this.o.sm.appliedIndex) return false;
    const current = this.fetch;
    if (current !== null && current.descriptor.index >= descriptor.index && current.message.from === m.from) return true;
    if (current !== null) {
      current.cancelled = true;
      this.o.log.info('snapshot_transfer_superseded', { index: current.descriptor.index, by: descriptor.index });
    }
    const fetch: Fetch = { message: m, descriptor, cancelled: false };
    this.fetch = fetch;
    this.o.log.info('snapshot_needed', {
      from: m.from, index: descriptor.index, applied: this.o.sm.appliedIndex, stateBytes: descriptor.stateBytes,
      reason: 'the leader has compacted its log past what this node holds',
    });
    // One stage at a time: a superseded transfer ends (at its next chunk) before this one stages.
    const previous = this.running;
    this.running = previous.then(() => this.run(fetch));
    return true;
  }

  /** Whether a snapshot is being received (readiness detail). */
  get receiving(): Index | null {
    return this.fetch?.descriptor.index ?? null;
  }

  private async run(fetch: Fetch): Promise<void> {
    const started = performance.now();
    const { message, descriptor } = fetch;
    const totals = { ...emptyTotals(), bytes: 0, loggedAt: 0 };
    let cursor: Cursor | null = null;
    let retries = 0;
    let failures = 0;
    let staging: Staging | null = null;
    try {
      if (fetch.cancelled) throw new Abandoned('a newer snapshot arrived');
      staging = this.o.sm.engine.stage();
      for (;;) {
        if (fetch.cancelled) throw new Abandoned('a newer snapshot arrived');
        let reply: ChunkReply;
        let records: ChunkRecord[];
        try {
          reply = await callRpc(this.o.transport, message.from, SNAPSHOT_CHUNK_RPC, { index: descriptor.index, cursor: encodeCursor(cursor) }, CHUNK_TIMEOUT_MS);
          records = decodeChunk(reply.chunk);
          if (records.length !== reply.records) throw new SnapshotFormatError('chunk record count differs from its reply');
          failures = 0;
        } catch (err) {
          if (err instanceof CatgaError && err.code === 'SNAPSHOT_GONE') throw new Abandoned(`${err.code}: ${err.message}`);
          // A broken link, a slow sender or a damaged chunk: ask again from the same cursor.
          retries++;
          failures++;
          this.o.metrics.failed('retry');
          this.o.log.warn('snapshot_transfer_retry', { from: message.from, index: descriptor.index, receivedBytes: totals.bytes, retries, reason: String((err as Error)?.message ?? err) });
          if (failures > MAX_CONSECUTIVE_FAILURES) throw new Abandoned(`${failures} chunk requests in a row failed, the last: ${String((err as Error)?.message ?? err)}`);
          await sleep(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(retries, 5)));
          continue;
        }
        if (fetch.cancelled) throw new Abandoned('a newer snapshot arrived');
        this.stage(staging, records, totals);
        totals.bytes += reply.chunk.byteLength;
        this.o.metrics.bytesReceived(reply.chunk.byteLength);
        if (totals.bytes - totals.loggedAt >= PROGRESS_LOG_BYTES) {
          totals.loggedAt = totals.bytes;
          this.o.log.info('snapshot_transfer_progress', { from: message.from, index: descriptor.index, receivedBytes: totals.bytes });
        }
        if (reply.next === null) break;
        cursor = decodeCursor(reply.next);
      }
      const mismatch = totalsMismatch(totals, descriptor);
      if (mismatch !== null) throw new Abandoned(`staged state does not match its descriptor (${mismatch})`);
      if (fetch.cancelled) throw new Abandoned('a newer snapshot arrived');
      const meta: SnapshotMeta = message.snapshot.meta;
      staging.put('meta', [{ key: SNAPSHOT_META_KEY, value: Buffer.from(JSON.stringify(meta), 'utf8') }]);
      const complete = staging;
      staging = null; // swap() finishes the stage, even when it fails
      await complete.swap();
      this.o.sm.reload();
      const seconds = (performance.now() - started) / 1000;
      this.o.metrics.installed(seconds);
      this.o.log.info('snapshot_received', { from: message.from, index: descriptor.index, bytes: totals.bytes, seconds: Number(seconds.toFixed(3)), retries });
      this.fetch = null;
      this.o.deliver(message);
    } catch (err) {
      staging?.abort();
      if (this.fetch === fetch) this.fetch = null;
      this.o.metrics.failed('abandoned');
      this.o.log.warn('snapshot_transfer_abandoned', { from: message.from, index: descriptor.index, receivedBytes: totals.bytes, reason: err instanceof Error ? err.message : String(err), next: 'waiting for the leader to send a snapshot again' });
    }
  }

  private stage(staging: Staging, records: readonly ChunkRecord[], totals: StreamTotals): void {
    tallyRecords(records, totals);
    stageRecords(staging, records);
  }

  close(): void {
    clearInterval(this.idleTimer);
    if (this.fetch !== null) this.fetch.cancelled = true;
    for (const pin of this.pins.values()) pin.view.close();
    this.pins.clear();
  }
}

class Abandoned extends Error {}
