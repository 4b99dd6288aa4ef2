// Loopback addresses for pods, so that every pod's process can bind the same ports as in
// Kubernetes: each pool is a random 127.a.b.0/24 (concurrent harnesses rarely collide) and hands
// addresses out round-robin, so a re-created pod usually gets a new address, as in a cluster.
import { randomInt } from 'node:crypto';
import { HarnessError } from './errors.js';

const FIRST_HOST = 2;
const LAST_HOST = 254;

export class LoopbackIpPool {
  readonly prefix: string;
  private readonly inUse = new Set<number>();
  private cursor = FIRST_HOST;

  constructor() {
    this.prefix = `127.${randomInt(16, 255)}.${randomInt(0, 256)}`;
  }

  allocate(): string {
    const size = LAST_HOST - FIRST_HOST + 1;
    for (let tried = 0; tried < size; tried++) {
      const host = this.cursor;
      this.cursor = host === LAST_HOST ? FIRST_HOST : host + 1;
      if (!this.inUse.has(host)) {
        this.inUse.add(host);
        return `${this.prefix}.${host}`;
      }
    }
    throw new HarnessError('IP_POOL_EXHAUSTED', `all ${size} addresses of ${this.prefix}.0/24 are in use`);
  }

  release(ip: string): void {
    const host = Number(ip.slice(this.prefix.length + 1));
    if (ip.startsWith(`${this.prefix}.`)) this.inUse.delete(host);
  }
}
