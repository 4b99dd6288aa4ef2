// The simulator's agenda: a binary min-heap of timed events ordered by (time, insertion sequence),
// so events at the same virtual time run in the order they were scheduled: deterministic.
import type { Message } from '../raft/types.js';

export interface SimEvent {
  readonly at: number;
  readonly seq: number;
  /** A message to deliver (to `msg.to`), or null for a timer. */
  readonly msg: Message | null;
  /** A timer's callback (a node's driver clock or disk), or null for a delivery. */
  readonly timer: (() => void) | null;
  /** The node a timer belongs to. */
  readonly node: string;
  /** The life of the node a timer belongs to: a timer of a crashed life is discarded. */
  readonly incarnation: number;
}

/** Bound on scheduled events: a run that exceeds it has a message storm, which is itself a bug. */
export const MAX_QUEUED_EVENTS = 200_000;

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  deliver(at: number, msg: Message): void {
    this.push(at, msg, null, msg.to, 0);
  }

  timer(at: number, node: string, incarnation: number, run: () => void): void {
    this.push(at, null, run, node, incarnation);
  }

  private push(at: number, msg: Message | null, timer: (() => void) | null, node: string, incarnation: number): void {
    if (this.heap.length >= MAX_QUEUED_EVENTS) {
      throw Object.assign(new Error(`more than ${MAX_QUEUED_EVENTS} events queued`), { code: 'SIM_QUEUE_OVERFLOW' });
    }
    const heap = this.heap;
    const event: SimEvent = { at, seq: this.seq++, msg, timer, node, incarnation };
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as SimEvent;
      if (!before(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  /** Time of the earliest event, Infinity when empty. */
  peekTime(): number {
    const top = this.heap[0];
    return top === undefined ? Infinity : top.at;
  }

  pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right] as SimEvent, heap[left] as SimEvent)) child = right;
      const c = heap[child] as SimEvent;
      if (!before(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
