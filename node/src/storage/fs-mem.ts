// A fault-injecting in-memory file system for tests and the simulator. It keeps, per file, which
// bytes are durable (synced) and, per directory, which entries are durable (synced with syncDir).
// `crash()` throws away everything not durable, keeps a seeded random prefix of the unsynced
// directory operations (a journaling file system commits them in order), and can tear the last
// unsynced write at a random byte. It can also fail fsync with EIO, or "crash" at the n-th
// mutating operation so that a test can stop a workload at any point.
import { posix } from 'node:path';
import type { FileHandle, FileSystem, OpenMode, OpenOptions } from './fs.js';
import { invariant } from './errors.js';

/** How the last unsynced write survives a crash: not at all, a random prefix, or a random prefix then zeros. */
export type TearMode = 'none' | 'prefix' | 'zeros';

export interface MemFsOptions {
  /** Seeded uniform source in [0, 1) for tears and directory-operation loss. */
  readonly random: () => number;
}

class FsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** A file's bytes: `buf[0, len)` now; durable content is `durableCopy`, or `buf[0, durableLen)` when null. */
class Inode {
  buf = Buffer.alloc(256);
  len = 0;
  durableLen = 0;
  durableCopy: Buffer | null = null;

  /** Saves the durable bytes aside before a change below `durableLen` would overwrite them. */
  private preserveDurable(from: number): void {
    if (from < this.durableLen && this.durableCopy === null) this.durableCopy = Buffer.from(this.buf.subarray(0, this.durableLen));
  }

  private grow(to: number): void {
    if (to <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(to, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  write(data: Uint8Array, pos: number): void {
    this.preserveDurable(pos);
    this.grow(pos + data.length);
    if (pos > this.len) this.buf.fill(0, this.len, pos);
    this.buf.set(data, pos);
    this.len = Math.max(this.len, pos + data.length);
  }

  truncate(n: number): void {
    this.preserveDurable(n);
    this.grow(n);
    if (n > this.len) this.buf.fill(0, this.len, n);
    this.len = n;
  }

  sync(): void {
    this.durableCopy = null;
    this.durableLen = this.len;
  }

  durable(): Buffer {
    return this.durableCopy ?? this.buf.subarray(0, this.durableLen);
  }

  /** Replaces the content by `bytes` (after a crash): all durable. */
  reset(bytes: Uint8Array): void {
    this.buf = Buffer.alloc(Math.max(256, bytes.length));
    this.buf.set(bytes, 0);
    this.len = bytes.length;
    this.sync();
  }
}

/** One directory: live entries, durable entries, and the operations in between, in order. */
class MemDir {
  current = new Map<string, Inode>();
  durable = new Map<string, Inode>();
  /** Each operation is a list of (name, inode or null for removal) applied together (a rename is two). */
  pending: Array<ReadonlyArray<readonly [string, Inode | null]>> = [];

  change(op: ReadonlyArray<readonly [string, Inode | null]>): void {
    for (const [name, inode] of op) {
      if (inode === null) this.current.delete(name);
      else this.current.set(name, inode);
    }
    this.pending.push(op);
  }

  sync(): void {
    this.durable = new Map(this.current);
    this.pending = [];
  }
}

interface LastWrite {
  readonly inode: Inode;
  readonly pos: number;
  readonly length: number;
}

/** The machine: its disk and fault plan, shared by the successive processes (views) that run on it. */
export class MemMachine {
  readonly dirs = new Map<string, MemDir>();
  generation = 1;
  crashed = false;
  mutations = 0;
  crashAt = Infinity;
  fsyncFailures = 0;
  /** Bytes the files may hold in all; a write past it writes what fits, then fails with ENOSPC. */
  capacity = Infinity;
  lastWrite: LastWrite | null = null;

  constructor(readonly random: () => number) {}
}

/**
 * One process's view of a simulated machine. After `crash()` every operation through this view
 * (and through files it opened) fails, so a dead process can never touch the disk again; `restart()`
 * gives the next process its view.
 */
export class MemFileSystem implements FileSystem {
  private readonly m: MemMachine;
  private readonly generation: number;

  constructor(opts: MemFsOptions | { readonly machine: MemMachine }) {
    this.m = 'machine' in opts ? opts.machine : new MemMachine(opts.random);
    this.generation = this.m.generation;
  }

  /** A new process on the same machine (after a crash, or to open the same disk twice). */
  restart(): MemFileSystem {
    return new MemFileSystem({ machine: this.m });
  }

  /** Mutating operations so far (writes, syncs, creates, renames, unlinks, truncates). */
  get mutationCount(): number {
    return this.m.mutations;
  }

  /** Whether a planned crash point was reached (every operation now fails until `crash()`). */
  get halted(): boolean {
    return this.m.crashed;
  }

  /** The `n`-th mutating operation from now fails with SIMULATED_CRASH, and so does everything after it. */
  crashAfter(n: number): void {
    invariant(n >= 1, 'crashAfter needs n >= 1');
    this.m.crashAt = this.m.mutations + n;
  }

  /** The disk holds at most `bytes` of file data in all (Infinity: no limit); see MemMachine.capacity. */
  setCapacity(bytes: number): void {
    this.m.capacity = bytes;
  }

  /** Bytes of file data on the disk now (every live file's length). */
  usedBytes(): number {
    const seen = new Set<Inode>();
    let used = 0;
    for (const dir of this.m.dirs.values()) {
      for (const inode of dir.current.values()) {
        if (!seen.has(inode)) used += inode.len;
        seen.add(inode);
      }
    }
    return used;
  }

  /** How many bytes a write of `length` at `pos` may add before the disk is full (ENOSPC past it). */
  private room(inode: Inode, pos: number, length: number): number {
    if (this.m.capacity === Infinity) return length;
    const growth = Math.max(0, pos + length - inode.len);
    const free = Math.max(0, this.m.capacity - this.usedBytes());
    return growth <= free ? length : Math.max(0, inode.len - pos) + free;
  }

  /** The next `count` fsyncs (file or directory) fail with EIO and make nothing durable. */
  failFsync(count = Infinity): void {
    this.m.fsyncFailures = count;
  }

  /**
   * The machine loses power: unsynced data is gone, a random prefix of the unsynced directory
   * operations survives, the last unsynced write is torn per `tear`. Processes die: their locks
   * are stale, their views and open handles dead; continue with `restart()`.
   */
  crash(tear: TearMode = 'none'): void {
    const torn = this.m.lastWrite;
    for (const dir of this.m.dirs.values()) {
      const keep = Math.floor(this.m.random() * (dir.pending.length + 1));
      const durable = new Map(dir.durable);
      for (const op of dir.pending.slice(0, keep)) {
        for (const [name, inode] of op) {
          if (inode === null) durable.delete(name);
          else durable.set(name, inode);
        }
      }
      dir.current = durable;
      dir.sync();
    }
    const tornBytes = torn !== null && tear !== 'none' ? this.tornContent(torn, tear) : null;
    for (const dir of this.m.dirs.values()) {
      for (const inode of dir.current.values()) {
        inode.reset(inode === torn?.inode && tornBytes !== null ? tornBytes : Buffer.from(inode.durable()));
      }
    }
    this.m.lastWrite = null;
    this.m.crashed = false;
    this.m.crashAt = Infinity;
    this.m.fsyncFailures = 0;
    this.m.generation++;
  }

  /** Durable bytes of the torn file plus a random prefix of its last write (then zeros, in `zeros` mode). */
  private tornContent(w: LastWrite, tear: TearMode): Buffer | null {
    const durable = w.inode.durable();
    if (w.pos > durable.length) return null; // a hole before the write: nothing contiguous survives
    const keep = Math.floor(this.m.random() * w.length);
    const end = w.pos + (tear === 'zeros' ? w.length : keep);
    const out = Buffer.alloc(Math.max(durable.length, end));
    durable.copy(out);
    out.fill(0, w.pos, end);
    w.inode.buf.copy(out, w.pos, w.pos, w.pos + keep);
    return out;
  }

  /** Counts a mutating operation and fails it if a planned crash point is reached. */
  private mutate(): void {
    this.check();
    this.m.mutations++;
    if (this.m.mutations >= this.m.crashAt) {
      this.m.crashed = true;
      throw new FsError('SIMULATED_CRASH', 'the simulated machine crashed');
    }
  }

  private check(generation = this.generation): void {
    if (this.m.crashed || generation !== this.m.generation) throw new FsError('SIMULATED_CRASH', 'the simulated machine crashed');
  }

  private fsyncFault(): void {
    if (this.m.fsyncFailures > 0) {
      this.m.fsyncFailures--;
      throw new FsError('EIO', 'injected fsync failure');
    }
  }

  private dir(path: string): MemDir {
    const d = this.m.dirs.get(posix.normalize(path));
    if (d === undefined) throw new FsError('ENOENT', `no such directory: ${path}`);
    return d;
  }

  private lookup(path: string): { dir: MemDir; name: string; inode: Inode | undefined } {
    const dir = this.dir(posix.dirname(path));
    const name = posix.basename(path);
    return { dir, name, inode: dir.current.get(name) };
  }

  async mkdirp(dir: string): Promise<void> {
    this.check();
    // Directories are created durable at once: the storage never depends on a parent's fsync.
    const norm = posix.normalize(dir);
    if (!this.m.dirs.has(norm)) this.m.dirs.set(norm, new MemDir());
  }

  async open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<FileHandle> {
    this.check();
    const durableWrites = options.durableWrites === true;
    const { dir, name, inode } = this.lookup(path);
    if (mode === 'read' || mode === 'readWrite') {
      if (inode === undefined) throw new FsError('ENOENT', `no such file: ${path}`);
      return this.handle(inode, mode === 'read', durableWrites);
    }
    if (inode !== undefined && mode === 'createExclusive') throw new FsError('EEXIST', `file exists: ${path}`);
    this.mutate();
    if (inode !== undefined) {
      inode.truncate(0);
      return this.handle(inode, false, durableWrites);
    }
    const fresh = new Inode();
    dir.change([[name, fresh]]);
    return this.handle(fresh, false, durableWrites);
  }

  /** With `durableWrites`, a write is a write then a datasync: a crash or an injected fault can fall between them. */
  private handle(inode: Inode, readOnly: boolean, durableWrites: boolean): FileHandle {
    const generation = this.generation;
    const fs = this;
    let closed = false;
    const usable = (): void => {
      fs.check(generation);
      if (closed) throw new FsError('EBADF', 'file handle closed');
    };
    const writable = (): void => {
      usable();
      if (readOnly) throw new FsError('EBADF', 'file opened read-only');
    };
    const syncFile = async (): Promise<void> => {
      writable();
      fs.mutate();
      fs.fsyncFault();
      inode.sync();
      if (fs.m.lastWrite?.inode === inode) fs.m.lastWrite = null;
    };
    return {
      async writev(chunks, position) {
        writable();
        fs.mutate();
        let length = 0;
        for (const c of chunks) length += c.length;
        // A full disk takes what fits, as a real one does, then refuses the rest.
        let left = fs.room(inode, position, length);
        const full = left < length;
        let pos = position;
        for (const c of chunks) {
          if (left <= 0) break;
          const part = c.length <= left ? c : c.subarray(0, left);
          inode.write(part, pos);
          pos += part.length;
          left -= part.length;
        }
        fs.m.lastWrite = { inode, pos: position, length: pos - position };
        if (full) throw new FsError('ENOSPC', 'no space left on device (injected)');
        if (durableWrites) await syncFile();
      },
      async size() {
        usable();
        return inode.len;
      },
      datasync: syncFile,
      sync: syncFile,
      async truncate(length) {
        writable();
        fs.mutate();
        inode.truncate(length);
        if (fs.m.lastWrite?.inode === inode) fs.m.lastWrite = null;
      },
      async close() {
        closed = true;
      },
    };
  }

  async readFile(path: string): Promise<Buffer> {
    this.check();
    const { inode } = this.lookup(path);
    if (inode === undefined) throw new FsError('ENOENT', `no such file: ${path}`);
    return Buffer.from(inode.buf.subarray(0, inode.len));
  }

  async readdir(dir: string): Promise<string[]> {
    this.check();
    return [...this.dir(dir).current.keys()].sort();
  }

  async rename(from: string, to: string): Promise<void> {
    this.check();
    invariant(posix.dirname(from) === posix.dirname(to), 'rename stays inside one directory');
    const src = this.lookup(from);
    if (src.inode === undefined) throw new FsError('ENOENT', `no such file: ${from}`);
    this.mutate();
    src.dir.change([
      [src.name, null],
      [posix.basename(to), src.inode],
    ]);
  }

  async unlink(path: string): Promise<void> {
    this.check();
    const { dir, name, inode } = this.lookup(path);
    if (inode === undefined) throw new FsError('ENOENT', `no such file: ${path}`);
    this.mutate();
    dir.change([[name, null]]);
  }

  async syncDir(dir: string): Promise<void> {
    this.check();
    const d = this.dir(dir);
    this.mutate();
    this.fsyncFault();
    d.sync();
  }

  processToken(): string {
    return `mem-${this.generation}`;
  }

  async isProcessAlive(token: string): Promise<boolean> {
    return token === `mem-${this.m.generation}`;
  }

  /** Test helper: the live bytes of a file (throws ENOENT). */
  peek(path: string): Buffer {
    const { inode } = this.lookup(path);
    if (inode === undefined) throw new FsError('ENOENT', `no such file: ${path}`);
    return Buffer.from(inode.buf.subarray(0, inode.len));
  }

  /** Test helper: overwrites bytes of a file in place, durable at once (bit rot, operator edits). */
  corrupt(path: string, offset: number, bytes: Uint8Array): void {
    const { inode } = this.lookup(path);
    if (inode === undefined) throw new FsError('ENOENT', `no such file: ${path}`);
    inode.write(bytes, offset);
    inode.sync();
  }
}
