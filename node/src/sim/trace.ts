// The simulator's event trace: a running hash over every event (the determinism fingerprint), a
// bounded ring of the most recent events for violation reports, and an optional live sink that
// prints every event (`--trace`). Events are small records; text is made only when printed.
import type { Message } from '../raft/types.js';

export type TraceKind =
  | 'deliver'
  | 'lost'
  | 'cut'
  | 'duplicated'
  | 'refused'
  | 'garbage'
  | 'role'
  | 'commit'
  | 'propose'
  | 'read'
  | 'readState'
  | 'crash'
  | 'restart'
  | 'links'
  | 'conf'
  | 'transfer'
  | 'compact'
  | 'snapshot'
  | 'retire'
  | 'phase'
  | 'disk'
  | 'violation';

const KIND_CODES: Record<TraceKind, number> = {
  deliver: 1, lost: 2, cut: 3, duplicated: 4, refused: 5, role: 6, commit: 7, propose: 8, read: 9,
  readState: 10, crash: 11, restart: 12, links: 13, conf: 14, transfer: 15, compact: 16,
  snapshot: 17, retire: 18, phase: 19, violation: 20, garbage: 21, disk: 22,
};

export interface TraceEvent {
  readonly time: number;
  readonly kind: TraceKind;
  readonly node: string;
  readonly msg: Message | null;
  readonly note: string;
}

const FNV_PRIME = 0x01000193;

function mixNumber(h: number, x: number): number {
  h = Math.imul(h ^ (x & 0xffff), FNV_PRIME);
  return Math.imul(h ^ (x >>> 16), FNV_PRIME);
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return Math.imul(h ^ 0xff, FNV_PRIME);
}

/** Number that distinguishes one message from another of the same type (index, commit or flag). */
function messageDetail(msg: Message): number {
  switch (msg.type) {
    case 'append':
      return msg.prevIndex * 131 + msg.entries.length * 7 + msg.commit;
    case 'appendResp':
      return msg.index * 3 + (msg.reject ? 1 : 0) + msg.hintIndex * 17;
    case 'vote':
    case 'preVote':
      return msg.lastLogIndex * 5 + msg.lastLogTerm;
    case 'voteResp':
    case 'preVoteResp':
      return msg.reject ? 1 : 0;
    case 'heartbeat':
      return msg.commit;
    case 'snapshot':
      return msg.snapshot.meta.index;
    case 'readIndexResp':
      return msg.index;
    default:
      return 0;
  }
}

export function formatMessage(msg: Message): string {
  const head = `${msg.type} ${msg.from}->${msg.to} t${msg.term}`;
  switch (msg.type) {
    case 'append': {
      const first = msg.entries[0];
      const last = msg.entries[msg.entries.length - 1];
      const ents = first === undefined || last === undefined ? '[]' : `[${first.index}/${first.term}..${last.index}/${last.term}]`;
      return `${head} prev=${msg.prevIndex}/${msg.prevTerm} ents=${ents} commit=${msg.commit}`;
    }
    case 'appendResp':
      return `${head} index=${msg.index}${msg.reject ? ` reject hint=${msg.hintIndex}/${msg.hintTerm}` : ''}`;
    case 'vote':
    case 'preVote':
      return `${head} last=${msg.lastLogIndex}/${msg.lastLogTerm}${msg.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${head}${msg.reject ? ' reject' : ' grant'}`;
    case 'heartbeat':
      return `${head} commit=${msg.commit}${msg.context === '' ? '' : ` ctx=${msg.context}`}`;
    case 'heartbeatResp':
      return `${head}${msg.context === '' ? '' : ` ctx=${msg.context}`}`;
    case 'snapshot':
      return `${head} snap=${msg.snapshot.meta.index}/${msg.snapshot.meta.term}`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} ctx=${msg.context}`;
    case 'readIndexResp':
      return `${head} ctx=${msg.context} index=${msg.index}${msg.reject ? ' reject' : ''}`;
  }
}

export function formatEvent(event: TraceEvent): string {
  const body = event.msg === null ? event.note : `${formatMessage(event.msg)}${event.note === '' ? '' : ` ${event.note}`}`;
  return `t=${event.time} ${event.node} ${event.kind} ${body}`;
}

export class Trace {
  private readonly ring: (TraceEvent | undefined)[];
  private next = 0;
  private hash = 0x811c9dc5;
  count = 0;

  constructor(
    private readonly capacity: number,
    private readonly sink: ((line: string) => void) | null,
  ) {
    this.ring = new Array<TraceEvent | undefined>(capacity);
  }

  record(time: number, kind: TraceKind, node: string, msg: Message | null, note: string): void {
    const event: TraceEvent = { time, kind, node, msg, note };
    let h = mixNumber(this.hash, time);
    h = mixNumber(h, KIND_CODES[kind]);
    h = mixString(h, node);
    if (msg !== null) {
      h = mixString(h, msg.type);
      h = mixString(h, msg.from);
      h = mixString(h, msg.to);
      h = mixNumber(h, msg.term);
      h = mixNumber(h, messageDetail(msg));
    }
    if (note !== '') h = mixString(h, note);
    this.hash = h;
    this.count++;
    if (this.capacity > 0) {
      this.ring[this.next] = event;
      this.next = (this.next + 1) % this.capacity;
    }
    if (this.sink !== null) this.sink(formatEvent(event));
  }

  /** Fingerprint of every event so far (same seed and options → same value). */
  fingerprint(): string {
    return `${(this.hash >>> 0).toString(16).padStart(8, '0')}:${this.count}`;
  }

  /** The most recent events, oldest first, formatted. */
  recent(): string[] {
    const lines: string[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const event = this.ring[(this.next + i) % this.capacity];
      if (event !== undefined) lines.push(formatEvent(event));
    }
    return lines;
  }
}
