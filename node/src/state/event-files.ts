// The segment files of the event store (event-store.ts) in a directory: appends with synchronous
// writes (a batch's frame is in the page cache before the engine commits the batch), fsync on
// `sync()` off the event loop, the directory (new and removed names) through the node's file
// system seam (storage/fs.ts), as the WAL's. A file stays open for appends until it is removed or
// the store closes; a removal during a sync closes its descriptor once that sync is done with it.
import { closeSync, fsync, mkdirSync, openSync, readdirSync, readFileSync, ftruncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { FileSystem } from '../storage/fs.js';
import type { SegmentFiles } from './event-store.js';

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export class DirectorySegmentFiles implements SegmentFiles {
  private readonly dir: string;
  private readonly open = new Map<string, number>();
  /** Files written since the last sync began. */
  private readonly dirty = new Set<string>();
  private directoryDirty = false;
  /** Descriptors running syncs use (how many each), and those to close when they end. */
  private readonly syncing = new Map<number, number>();
  private readonly closeAfterSync: number[] = [];

  constructor(dir: string, private readonly fs: Pick<FileSystem, 'syncDir'>) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  list(): string[] {
    return readdirSync(this.dir);
  }

  read(name: string): Buffer {
    return readFileSync(join(this.dir, name));
  }

  private fd(name: string): number {
    let fd = this.open.get(name);
    if (fd === undefined) {
      fd = openSync(join(this.dir, name), 'a');
      this.open.set(name, fd);
      this.directoryDirty = true;
    }
    return fd;
  }

  append(name: string, bytes: Uint8Array): void {
    const fd = this.fd(name);
    for (let off = 0; off < bytes.byteLength;) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    this.dirty.add(name);
  }

  truncate(name: string, size: number): void {
    ftruncateSync(this.fd(name), size);
    this.dirty.add(name);
  }

  remove(name: string): void {
    const fd = this.open.get(name);
    if (fd !== undefined) {
      this.open.delete(name);
      if (this.syncing.has(fd)) this.closeAfterSync.push(fd);
      else closeSync(fd);
    }
    this.dirty.delete(name);
    unlinkSync(join(this.dir, name));
    this.directoryDirty = true;
  }

  async sync(): Promise<void> {
    const fds = [...this.dirty].flatMap((name) => this.open.get(name) ?? []);
    const directory = this.directoryDirty;
    this.dirty.clear();
    this.directoryDirty = false;
    for (const fd of fds) this.syncing.set(fd, (this.syncing.get(fd) ?? 0) + 1);
    try {
      await Promise.all(fds.map(fsyncFd));
      if (directory) await this.fs.syncDir(this.dir);
    } finally {
      for (const fd of fds) {
        const users = (this.syncing.get(fd) as number) - 1;
        if (users === 0) this.syncing.delete(fd);
        else this.syncing.set(fd, users);
      }
      for (const fd of this.closeAfterSync.splice(0)) {
        if (this.syncing.has(fd)) this.closeAfterSync.push(fd);
        else closeSync(fd);
      }
    }
  }

  close(): void {
    for (const fd of this.open.values()) {
      if (this.syncing.has(fd)) this.closeAfterSync.push(fd);
      else closeSync(fd);
    }
    this.open.clear();
  }
}
