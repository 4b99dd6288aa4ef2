// A durable store for the Raft simulator: the real storage code on the in-memory machine, so that
// a simulated crash loses everything not fsynced and may tear the last write (seeded). It matches
// the simulator's DurableStore shape (save / saveSnapshot / crash / recover) without importing it.
//
// Differences from an ideal store the simulator must allow: a recovery may show records of saves
// that were in flight at the crash (never fewer than were acknowledged, and only a prefix of what
// was attempted); saves in flight when the process crashed never settle (the process is gone).
import type { Entry, HardState, Index, Snapshot } from '../raft/types.js';
import { FileStorage, type FileRaftStorage } from './file-storage.js';
import { MemFileSystem, type TearMode } from './fs-mem.js';
import { StorageError } from './errors.js';
import { resolveOptions, type StorageOptions } from './options.js';
import type { Recovered } from './types.js';

/** Small segments, so that simulated runs roll over and compact. */
export const SIM_DISK_OPTIONS: Partial<StorageOptions> = { maxSegmentBytes: 16 * 1024, maxRecordBytes: 8 * 1024 };
const DIR = '/data';
const TEARS: readonly TearMode[] = ['none', 'prefix', 'zeros'];

export class SimulatedDiskStore {
  private fs: MemFileSystem;
  private storage: FileRaftStorage | null = null;
  private incarnation = 0;
  private readonly opts: StorageOptions;

  constructor(
    private readonly random: () => number,
    opts: Partial<StorageOptions> = SIM_DISK_OPTIONS,
  ) {
    this.fs = new MemFileSystem({ random });
    this.opts = resolveOptions(opts);
  }

  save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): Promise<void> {
    return this.untilCrash(this.open().save(snapshot, entries, hardState));
  }

  saveSnapshot(snapshot: Snapshot, compactTo: Index): Promise<void> {
    return this.untilCrash(this.open().saveSnapshot(snapshot, compactTo));
  }

  /** Power loss: unsynced data lost, the last write torn by a seeded choice of mode. */
  crash(): void {
    this.fs.crash(TEARS[Math.floor(this.random() * TEARS.length)]!);
    this.fs = this.fs.restart();
    this.storage = null;
    this.incarnation++;
  }

  /** Opens the data directory as a (re)starting process does. */
  async recover(): Promise<Recovered> {
    if (this.storage !== null) await this.storage.close();
    const storage = new FileStorage(DIR, this.opts, this.fs);
    const recovered = await storage.open();
    this.storage = storage;
    return recovered;
  }

  private open(): FileRaftStorage {
    if (this.storage === null) throw new StorageError('STORAGE_NOT_OPEN', 'recover() must run before the first save');
    return this.storage;
  }

  /**
   * A save the crash cut off never settles, as the process that made it is gone: neither its
   * failure nor its success (its last write may have been durable just before the crash) reaches
   * anyone after the crash.
   */
  private untilCrash(p: Promise<void>): Promise<void> {
    const incarnation = this.incarnation;
    const never = (): Promise<void> => new Promise<void>(() => undefined);
    return p.then(
      () => (incarnation !== this.incarnation ? never() : undefined),
      (err: unknown) => (incarnation !== this.incarnation ? never() : Promise.reject(err)),
    );
  }
}
