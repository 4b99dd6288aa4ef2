// The clock the Raft driver runs on: a tick interval, "run this after the current work", a
// sleep and the time. In a node these are Node's timers; the simulator gives the same driver a
// virtual clock on its event queue (sim/node.ts), so the Ready loop it checks is this one.

export interface DriverTimers {
  /** Milliseconds on this clock (wall time in a node, virtual units in the simulator). */
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /** Calls `fn` once the current turn's work is done (before any later timer of the same time). */
  soon(fn: () => void): void;
  sleep(ms: number): Promise<void>;
}

export const realTimers: DriverTimers = {
  now: () => Date.now(),
  every(ms, fn) {
    const handle = setInterval(fn, ms);
    return () => clearInterval(handle);
  },
  soon(fn) {
    setImmediate(fn);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
