// The real file system behind the storage seam: node:fs/promises, plus process liveness for the
// data-directory lock (pid + kernel start time from /proc, so a reused pid is not taken for the
// process that wrote a lock). For tests, a delay added to every durable write and fsync makes the
// real disk a slow one (a device-mapper delay target is not available everywhere).
import { strict as assert } from 'node:assert';
import { constants, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle, FileSystem, OpenMode, OpenOptions } from './fs.js';
import { errorCode } from './fs.js';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_DSYNC } = constants;
const FLAGS: Record<OpenMode, number> = {
  read: O_RDONLY,
  readWrite: O_RDWR,
  createExclusive: O_RDWR | O_CREAT | O_EXCL,
  createOrTruncate: O_RDWR | O_CREAT | O_TRUNC,
};
const NEW_FILE_MODE = 0o644;

/** Resolves after `ms` (> 0); callers skip it when no delay is set, so a real disk pays no extra turn. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class NodeFileHandle implements FileHandle {
  constructor(
    private readonly fh: fsp.FileHandle,
    /** Opened with O_DSYNC: every write is already durable when it returns. */
    private readonly durableWrites: boolean,
    private readonly syncDelayMs: number,
  ) {}

  async writev(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let total = 0;
    for (const c of chunks) total += c.length;
    let written = (await this.fh.writev(chunks as Uint8Array[], position)).bytesWritten;
    // A short writev is legal; finish the rest chunk by chunk.
    while (written < total) {
      let skip = written;
      for (const c of chunks) {
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        const rest = c.subarray(skip);
        const r = await this.fh.write(rest, 0, rest.length, position + written);
        written += r.bytesWritten;
        break;
      }
    }
    if (this.durableWrites && this.syncDelayMs > 0) await delay(this.syncDelayMs);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  async datasync(): Promise<void> {
    if (this.durableWrites) return;
    await this.fh.datasync();
    if (this.syncDelayMs > 0) await delay(this.syncDelayMs);
  }

  async sync(): Promise<void> {
    await this.fh.sync();
    if (this.syncDelayMs > 0) await delay(this.syncDelayMs);
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Start time of a running `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat); null if
 * there is no such process, it is a zombie (killed, not yet reaped), or there is no /proc.
 */
function procStartTime(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3, the state
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export class NodeFileSystem implements FileSystem {
  private readonly token = `${process.pid}-${procStartTime('self') ?? '0'}`;

  /** `syncDelayMs` (tests only): added to every durable write and every fsync. */
  constructor(private readonly syncDelayMs = 0) {
    assert.ok(Number.isSafeInteger(syncDelayMs) && syncDelayMs >= 0, `sync delay ${syncDelayMs}`);
  }

  async mkdirp(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
  }

  async open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<FileHandle> {
    const durableWrites = options.durableWrites === true;
    return new NodeFileHandle(await fsp.open(path, FLAGS[mode] | (durableWrites ? O_DSYNC : 0), NEW_FILE_MODE), durableWrites, this.syncDelayMs);
  }

  readFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }

  readdir(dir: string): Promise<string[]> {
    return fsp.readdir(dir);
  }

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  async syncDir(dir: string): Promise<void> {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (this.syncDelayMs > 0) await delay(this.syncDelayMs);
  }

  processToken(): string {
    return this.token;
  }

  async isProcessAlive(token: string): Promise<boolean> {
    const m = /^(\d+)-(\d+)$/.exec(token);
    if (m === null) return false;
    const pid = Number(m[1]);
    const start = m[2]!;
    if (start !== '0') return procStartTime(pid) === start;
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return errorCode(err) === 'EPERM';
    }
  }
}
