// Owns the operation history of a run: one record per client operation in the checker's JSONL
// schema (e2e/linearizability/README.md), times in ns on one monotonic clock from the run's
// start, plus the acknowledged writes (with their log index) that the durability and event
// checks need, and the counts for the summary table.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

export const MAX_HISTORY_RECORDS = 2_000_000;

/** One line of the history file, exactly the checker's schema. */
export interface HistoryRecord {
  readonly client: number;
  readonly op: 'put' | 'cas' | 'get';
  readonly key: string;
  readonly value?: string;
  readonly expected?: string | null;
  readonly ok: boolean | null;
  readonly result?: string | null;
  readonly call: number;
  readonly return: number | null;
}

/** A write the cluster acknowledged (2xx), with the log index it answered. */
export interface AckedWrite {
  readonly key: string;
  readonly value: string;
  readonly index: number;
}

export class History {
  private readonly origin = process.hrtime.bigint();
  readonly records: HistoryRecord[] = [];
  readonly acked: AckedWrite[] = [];
  /** Values of writes whose outcome is unknown, per key: they may legitimately be what a key holds. */
  readonly unknownWrites = new Map<string, Set<string>>();
  failures = 0;
  unknowns = 0;
  /** Every operation issued, recorded or not (a definitely failed write is not written). */
  operations = 0;
  private nextClientId = 0;

  /** Nanoseconds since the run started. */
  now(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  /** A fresh client id (a client whose operation ended unknown continues under a new one). */
  newClientId(): number {
    return this.nextClientId++;
  }

  /** Why operations failed or ended unknown: "503 NO_LEADER", "TIMEOUT", ... -> count. */
  readonly reasons = new Map<string, number>();

  private countReason(reason: string | undefined): void {
    if (reason !== undefined) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  /** `reason`: why a record is failed or unknown (counted for the report). */
  add(record: HistoryRecord, reason?: string): void {
    this.countReason(reason);
    assert.ok(this.records.length < MAX_HISTORY_RECORDS, `history over ${MAX_HISTORY_RECORDS} records`);
    assert.ok(record.return === null ? record.ok === null : record.return >= record.call, 'return before call');
    this.records.push(record);
    this.operations++;
    if (record.ok === null) {
      this.unknowns++;
      if (record.value !== undefined) {
        let values = this.unknownWrites.get(record.key);
        if (values === undefined) {
          values = new Set();
          this.unknownWrites.set(record.key, values);
        }
        values.add(record.value);
      }
    } else if (record.ok === false && record.op !== 'cas') {
      this.failures++;
    }
  }

  /** Counts an operation that definitely failed and is not written (it had no effect). */
  addFailure(reason: string): void {
    this.countReason(reason);
    this.operations++;
    this.failures++;
  }

  addAcked(write: AckedWrite): void {
    assert.ok(Number.isInteger(write.index) && write.index > 0, `acknowledged write without a log index: ${JSON.stringify(write)}`);
    this.acked.push(write);
  }

  /** Highest log index of any acknowledged write (0 if none). */
  maxAckedIndex(): number {
    let max = 0;
    for (const w of this.acked) if (w.index > max) max = w.index;
    return max;
  }

  /** First return time (ns) of a successful write that was called at or after `afterNs`. */
  firstAckedWriteAfter(afterNs: number): number | null {
    let best: number | null = null;
    for (const r of this.records) {
      if (r.ok !== true || r.op === 'get' || r.call < afterNs || r.return === null) continue;
      if (best === null || r.return < best) best = r.return;
    }
    return best;
  }

  writeJsonl(path: string): void {
    writeFileSync(path, this.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
}
