// A simulated node's disk as the driver meets it through its storage: writes complete in the order
// they were issued (one log on one disk), and the disk can be slow (each write takes virtual
// time), full (writes fail with STORAGE_NO_SPACE and write nothing until space returns) or fail
// one fsync (the write fails; the node must stop, as a failed fsync cannot be retried safely).

/** The code the driver treats as "no room": it retries the same save instead of stopping. */
export const NO_SPACE_CODE = 'STORAGE_NO_SPACE';
/** A failed fsync: the driver stops the node, the simulator restarts it later. */
export const FSYNC_FAILED_CODE = 'SIM_FSYNC_FAILED';

export class SimDisk {
  /** Virtual time units each write takes (0: at once). */
  latency = 0;
  full = false;
  failNextWrite = false;
  /** Writes issued and not yet finished. */
  inFlight = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Bumped by a crash: the writes of an earlier life no longer count as in flight. */
  private life = 0;

  /** `sleep` waits virtual time for the node's current life (it never ends once the node crashed). */
  constructor(private sleep: (units: number) => Promise<void>) {}

  get healthy(): boolean {
    return this.latency === 0 && !this.full && !this.failNextWrite;
  }

  heal(): void {
    this.latency = 0;
    this.full = false;
    this.failNextWrite = false;
  }

  /** A new life of the node: writes of the last one never finish, this one starts with an idle queue. */
  restart(sleep: (units: number) => Promise<void>): void {
    this.sleep = sleep;
    this.tail = Promise.resolve();
    this.inFlight = 0;
    this.life++;
  }

  /** Runs `op` (the store's write) once the writes before it are done and the disk's latency passed. */
  write(op: () => void | Promise<void>): Promise<void> {
    const sleep = this.sleep;
    const life = this.life;
    const run = async (): Promise<void> => {
      if (this.latency > 0) await sleep(this.latency);
      if (this.full) throw Object.assign(new Error('no space left on the simulated disk'), { code: NO_SPACE_CODE });
      if (this.failNextWrite) {
        this.failNextWrite = false;
        throw Object.assign(new Error('fsync failed on the simulated disk'), { code: FSYNC_FAILED_CODE });
      }
      await op();
    };
    this.inFlight++;
    const done = this.tail.then(run);
    const finished = (): void => { if (life === this.life) this.inFlight--; };
    const settled = done.then(finished, finished);
    this.tail = settled;
    return done;
  }
}
