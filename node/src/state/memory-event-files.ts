// The event store's segment files in memory, with the same crash model as the in-memory state
// engine (memory-engine.ts): what `sync()` covered survives a crash; of what came after, a crash
// keeps a prefix of each file's appended bytes (`crashImage(keepBytes)`: 0 for a machine crash
// that kept nothing unsynced, Infinity for a process crash, anything between tears a frame), and
// removals, truncations and creations since the last sync are undone. Used by unit and crash tests.
import type { SegmentFiles } from './event-store.js';

type Files = Map<string, Buffer>;

export class MemorySegmentFiles implements SegmentFiles {
  private files: Files;
  private durable: Files;

  constructor(image: ReadonlyMap<string, Buffer> = new Map()) {
    this.files = new Map(image);
    this.durable = new Map(image);
  }

  list(): string[] {
    return [...this.files.keys()];
  }

  read(name: string): Buffer {
    const bytes = this.files.get(name);
    if (bytes === undefined) throw new Error(`ENOENT: no segment ${name}`);
    return bytes;
  }

  append(name: string, bytes: Uint8Array): void {
    this.files.set(name, Buffer.concat([this.files.get(name) ?? Buffer.alloc(0), bytes]));
  }

  truncate(name: string, size: number): void {
    this.files.set(name, this.read(name).subarray(0, size));
  }

  remove(name: string): void {
    this.files.delete(name);
  }

  sync(): Promise<void> {
    this.durable = new Map(this.files);
    return Promise.resolve();
  }

  close(): void {}

  /** The files a crash leaves now (see the top of the file). */
  crashImage(keepBytes: number): Map<string, Buffer> {
    if (keepBytes === Infinity) return new Map(this.files);
    const image = new Map(this.durable);
    for (const [name, bytes] of this.files) {
      const synced = this.durable.get(name);
      // Bytes appended since the sync (a file truncated since then keeps its synced bytes).
      if (synced !== undefined && !bytes.subarray(0, synced.length).equals(synced)) continue;
      const kept = Math.min(bytes.length, (synced?.length ?? 0) + keepBytes);
      if (synced !== undefined || kept > 0) image.set(name, bytes.subarray(0, kept));
    }
    return image;
  }
}
