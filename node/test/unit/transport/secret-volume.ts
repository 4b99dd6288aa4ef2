// Test fixture: a directory laid out the way the kubelet mounts a Secret (each file a symlink
// through `..data` to a timestamped directory) and updated the way it updates one: the new
// files go into a new directory and `..data` is swapped to it by one atomic rename.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class SecretVolume {
  private version = 0;

  constructor(readonly dir: string, files: Readonly<Record<string, string>>) {
    mkdirSync(dir, { recursive: true });
    const data = this.writeVersion(files);
    symlinkSync(data, join(dir, '..data'));
    for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Replaces every file at once (the same names as at creation). */
  update(files: Readonly<Record<string, string>>): void {
    const old = readlinkSync(join(this.dir, '..data'));
    const data = this.writeVersion(files);
    symlinkSync(data, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    rmSync(join(this.dir, old), { recursive: true, force: true });
  }

  private writeVersion(files: Readonly<Record<string, string>>): string {
    const name = `..v${++this.version}`;
    mkdirSync(join(this.dir, name));
    for (const [file, content] of Object.entries(files)) writeFileSync(join(this.dir, name, file), content);
    return name;
  }
}
