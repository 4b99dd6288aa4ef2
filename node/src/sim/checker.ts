// The simulator's safety invariants, checked incrementally as nodes persist, commit, apply and
// answer reads (so "after every step" costs only the work the step did). The first violation is
// kept; the simulator stops the seed there and prints it with the trace.
import type { Entry, HardState, Index, NodeId, ReadState, Role, Snapshot, Term } from '../raft/types.js';
import type { SimLog } from './log.js';
import { describeConf, sameMembers, type ChainHash, type SimStateMachine } from './statemachine.js';

export type Invariant =
  | 'ELECTION_SAFETY'
  | 'LOG_MATCHING'
  | 'LEADER_COMPLETENESS'
  | 'STATE_MACHINE_SAFETY'
  | 'COMMITTED_ENTRY_LOST'
  | 'DUPLICATE_COMMIT'
  | 'READ_LINEARIZABILITY'
  | 'COMMIT_MONOTONIC'
  | 'HARD_STATE_MONOTONIC'
  | 'APPLY_ORDER'
  | 'APPLIED_BEYOND_COMMIT'
  | 'SNAPSHOT_INTEGRITY'
  | 'DURABLE_CONTRACT'
  | 'MESSAGE_VALIDATION'
  | 'UNEXPECTED_EXCEPTION'
  | 'LIVENESS';

export interface Violation {
  readonly invariant: Invariant;
  readonly node: NodeId;
  readonly detail: string;
}

/** Entries written by the simulator's clients carry a 4-byte big-endian proposal id first. */
export const PROPOSAL_ID_BYTES = 4;

export function proposalId(entry: Entry): number | undefined {
  if (entry.type !== 'normal' || entry.data.length < PROPOSAL_ID_BYTES) return undefined;
  const d = entry.data;
  return (((d[0] as number) << 24) | ((d[1] as number) << 16) | ((d[2] as number) << 8) | (d[3] as number)) >>> 0;
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameEntry(x: Entry, y: Entry): boolean {
  return x.index === y.index && x.term === y.term && x.type === y.type && sameBytes(x.data, y.data);
}

function show(entry: Entry): string {
  const id = proposalId(entry);
  const what = entry.type === 'conf' ? 'conf' : id === undefined ? `${entry.data.length}B` : `p${id}`;
  return `${entry.index}/${entry.term}(${what})`;
}

interface SeenEntry {
  readonly entry: Entry;
  readonly prevTerm: Term;
}

interface LeaderView {
  readonly term: Term;
  readonly log: SimLog;
}

export class SafetyChecker {
  violation: Violation | null = null;
  /** Highest commit index any node ever reported. */
  maxCommit: Index = 0;
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  private readonly leaders = new Map<NodeId, LeaderView>();
  /** seen[i]: every distinct (term, prevTerm, entry) any node persisted at index i. */
  private readonly seen: (SeenEntry[] | undefined)[] = [];
  private readonly committed: (Entry | undefined)[] = [];
  /**
   * commitTerm[i]: the lowest term of any node reporting index i committed. The leader that
   * commits reports first, in the term it committed in; leader completeness binds the leaders of
   * later terms only (a deposed leader of an earlier term may well lack an entry committed after it).
   */
  private readonly commitTerm: (Term | undefined)[] = [];
  private readonly chain: (ChainHash | undefined)[] = [];
  private readonly committedProposals = new Map<number, Index>();
  /** Read context → the highest commit known anywhere when the read was issued. */
  private readonly reads = new Map<string, Index>();

  get failed(): boolean {
    return this.violation !== null;
  }

  fail(invariant: Invariant, node: NodeId, detail: string): void {
    if (this.violation === null) this.violation = { invariant, node, detail };
  }

  committedEntry(index: Index): Entry | undefined {
    return this.committed[index];
  }

  get electedTerms(): number {
    return this.leaderOfTerm.size;
  }

  onRole(node: NodeId, role: Role, term: Term, log: SimLog): void {
    if (role !== 'leader') {
      this.leaders.delete(node);
      return;
    }
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node) {
      this.fail('ELECTION_SAFETY', node, `${node} became leader of term ${term}, which ${other} already led`);
      return;
    }
    this.leaderOfTerm.set(term, node);
    this.leaders.set(node, { term, log });
    this.checkLeaderHoldsCommitted(node, term, log);
  }

  onDown(node: NodeId): void {
    this.leaders.delete(node);
  }

  /** A new leader's log must hold every entry committed in an earlier term. */
  private checkLeaderHoldsCommitted(node: NodeId, term: Term, log: SimLog): void {
    const snapIndex = log.snapshotIndex;
    for (let i = this.maxCommit; i >= snapIndex && i > 0; i--) {
      const c = this.committed[i];
      const committedIn = this.commitTerm[i];
      if (c === undefined || committedIn === undefined || committedIn >= term) continue;
      // Log matching makes the highest such entry enough: holding it means holding all below it.
      if (log.term(i) !== c.term) {
        this.fail('LEADER_COMPLETENESS', node, `leader of term ${term} has ${i}/${log.term(i) ?? 'nothing'}, but ${show(c)} was committed in term ${committedIn}`);
      }
      return;
    }
  }

  /** Before `batch` is written to `node`'s log: contiguity, log matching, no committed entry overwritten. */
  onPersistEntries(node: NodeId, log: SimLog, batch: readonly Entry[]): void {
    const first = batch[0];
    if (first === undefined) return;
    let prevTerm = log.term(first.index - 1);
    if (prevTerm === undefined) {
      this.fail('DURABLE_CONTRACT', node, `entries from ${first.index} do not follow the log (last ${log.lastIndex}, snapshot ${log.snapshotIndex})`);
      return;
    }
    for (let k = 0; k < batch.length; k++) {
      const entry = batch[k] as Entry;
      if (entry.index !== first.index + k) {
        this.fail('DURABLE_CONTRACT', node, `Ready entries not contiguous: ${show(entry)} at position ${k} after ${first.index}`);
        return;
      }
      if (!this.matchSeen(node, entry, prevTerm)) return;
      // A stale leader may append where others committed; replacing a held committed entry is the bug.
      const c = this.committed[entry.index];
      if (c !== undefined && c.term !== entry.term && log.term(entry.index) === c.term) {
        this.fail('COMMITTED_ENTRY_LOST', node, `${node} overwrites committed ${show(c)} with ${show(entry)}`);
        return;
      }
      prevTerm = entry.term;
    }
  }

  /** Log matching: one (index, term) names one entry, and the same predecessor term everywhere. */
  private matchSeen(node: NodeId, entry: Entry, prevTerm: Term): boolean {
    let list = this.seen[entry.index];
    if (list === undefined) {
      list = [];
      this.seen[entry.index] = list;
    }
    for (const s of list) {
      if (s.entry.term !== entry.term) continue;
      if (s.prevTerm !== prevTerm || !sameEntry(s.entry, entry)) {
        this.fail('LOG_MATCHING', node, `${node} persists ${show(entry)} after term ${prevTerm}; another log has ${show(s.entry)} after term ${s.prevTerm}`);
        return false;
      }
      return true;
    }
    list.push({ entry, prevTerm });
    return true;
  }

  /** Term and vote never go back; commit never decreases (within an incarnation, and on disk). */
  onHardState(node: NodeId, prev: HardState, next: HardState): void {
    if (next.term < prev.term) {
      this.fail('HARD_STATE_MONOTONIC', node, `term went from ${prev.term} to ${next.term}`);
    } else if (next.term === prev.term && prev.vote !== null && next.vote !== prev.vote) {
      this.fail('HARD_STATE_MONOTONIC', node, `vote in term ${next.term} changed from ${prev.vote} to ${next.vote}`);
    } else if (next.commit < prev.commit) {
      this.fail('COMMIT_MONOTONIC', node, `commit went from ${prev.commit} to ${next.commit}`);
    }
  }

  /** `node`, in `term`, reports commit up to `to`: those entries are now committed, everywhere and forever. */
  onCommit(node: NodeId, term: Term, from: Index, to: Index, log: SimLog): void {
    if (to > log.lastIndex) {
      this.fail('DURABLE_CONTRACT', node, `commit ${to} beyond the persisted log (last ${log.lastIndex})`);
      return;
    }
    for (let i = Math.max(from, log.snapshotIndex) + 1; i <= to; i++) {
      const entry = log.entry(i);
      if (entry === undefined) {
        this.fail('DURABLE_CONTRACT', node, `commit ${to} covers ${i}, which is not in the log`);
        return;
      }
      this.recordCommitted(node, term, entry);
      if (this.failed) return;
    }
    if (to > this.maxCommit) this.maxCommit = to;
  }

  private recordCommitted(node: NodeId, term: Term, entry: Entry): void {
    const known = this.committed[entry.index];
    if (known !== undefined) {
      if (!sameEntry(known, entry)) {
        this.fail('STATE_MACHINE_SAFETY', node, `${node} commits ${show(entry)}; ${show(known)} was committed there before`);
      } else if (term < (this.commitTerm[entry.index] as Term)) {
        this.commitTerm[entry.index] = term;
      }
      return;
    }
    this.committed[entry.index] = entry;
    this.commitTerm[entry.index] = term;
    const id = proposalId(entry);
    if (id !== undefined) {
      const at = this.committedProposals.get(id);
      if (at !== undefined) {
        this.fail('DUPLICATE_COMMIT', node, `proposal p${id} committed at ${at} and again at ${entry.index}`);
        return;
      }
      this.committedProposals.set(id, entry.index);
    }
    for (const [leader, view] of this.leaders) {
      if (view.term <= term || entry.index <= view.log.snapshotIndex) continue;
      if (view.log.term(entry.index) !== entry.term) {
        this.fail('LEADER_COMPLETENESS', leader, `${show(entry)} was committed in term ${term} but leader ${leader} of term ${view.term} has ${entry.index}/${view.log.term(entry.index) ?? 'nothing'}`);
        return;
      }
    }
  }

  /** Before applying: strictly the next index, within the node's commit, the committed entry. */
  onApply(node: NodeId, entry: Entry, applied: Index, commit: Index): void {
    if (entry.index !== applied + 1) {
      this.fail('APPLY_ORDER', node, `applies ${show(entry)} after ${applied}`);
    } else if (entry.index > commit) {
      this.fail('APPLIED_BEYOND_COMMIT', node, `applies ${show(entry)} with commit ${commit}`);
    } else {
      const c = this.committed[entry.index];
      if (c !== undefined && !sameEntry(c, entry)) {
        this.fail('STATE_MACHINE_SAFETY', node, `applies ${show(entry)}; committed there is ${show(c)}`);
      }
    }
  }

  /** After applying through `sm.index`: the state machine image equals everyone else's at that index. */
  onApplied(node: NodeId, sm: SimStateMachine): void {
    const known = this.chain[sm.index];
    if (known === undefined) {
      this.chain[sm.index] = sm.hash;
    } else if (known.a !== sm.hash.a || known.b !== sm.hash.b) {
      this.fail('STATE_MACHINE_SAFETY', node, `state after applying ${sm.index} differs from another node's`);
    }
  }

  /** A snapshot's metadata must describe its image; the image must be a committed state. */
  onSnapshot(node: NodeId, snapshot: Snapshot, sm: SimStateMachine, appliedBefore: Index): void {
    const meta = snapshot.meta;
    if (sm.index !== meta.index || sm.term !== meta.term) {
      this.fail('SNAPSHOT_INTEGRITY', node, `snapshot meta ${meta.index}/${meta.term} but image at ${sm.index}/${sm.term}`);
    } else if (!sameMembers(sm.conf, meta.conf)) {
      this.fail('SNAPSHOT_INTEGRITY', node, `snapshot ${meta.index} meta conf ${describeConf(meta.conf)} but image conf ${describeConf(sm.conf)}`);
    } else if (meta.index > this.maxCommit) {
      this.fail('SNAPSHOT_INTEGRITY', node, `snapshot at ${meta.index} beyond the highest commit ${this.maxCommit}`);
    } else if (meta.index < appliedBefore) {
      this.fail('APPLY_ORDER', node, `installs snapshot ${meta.index} after applying ${appliedBefore}`);
    } else {
      this.onApplied(node, sm);
    }
  }

  onReadIssued(context: string): void {
    this.reads.set(context, this.maxCommit);
  }

  onReadState(node: NodeId, rs: ReadState): void {
    const floor = this.reads.get(rs.context);
    if (floor === undefined) {
      this.fail('READ_LINEARIZABILITY', node, `read state for unknown context ${rs.context}`);
    } else if (rs.index < floor) {
      this.fail('READ_LINEARIZABILITY', node, `read ${rs.context} answered at index ${rs.index}, but ${floor} was committed when it was issued`);
    }
  }
}
