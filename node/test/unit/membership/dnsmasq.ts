// A real DNS server for membership tests: dnsmasq on 127.0.0.1 and a random port, authoritative
// for cluster.local (unknown names get NXDOMAIN, nothing is forwarded anywhere). A records come
// from a hosts file that `setHosts` rewrites and reloads with SIGHUP; SRV records and
// --host-record lines are fixed per process, so changing them means `restart`.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DNSMASQ = '/usr/sbin/dnsmasq';
const START_TIMEOUT_MS = 5000;

/** name → IPv4 addresses (several lines of the hosts file for several A records). */
export type HostRecords = Readonly<Record<string, readonly string[]>>;

export interface DnsmasqOptions {
  readonly hosts: HostRecords;
  /** `--srv-host` values: `_service._proto.name,target,port`. */
  readonly srv?: readonly string[];
  /** `--host-record` values: `name,ip`. */
  readonly hostRecords?: readonly string[];
}

export class Dnsmasq {
  private child: ChildProcess | null = null;
  private readonly dir: string;
  private readonly hostsFile: string;
  /** How many times dnsmasq has (re)read the hosts file, from its log. */
  private reads = 0;
  private readWaiters: Array<() => void> = [];
  private log = '';
  port = 0;

  private constructor(private options: DnsmasqOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'catga-dns-'));
    chmodSync(this.dir, 0o755); // dnsmasq may read files after dropping privileges
    this.hostsFile = join(this.dir, 'hosts');
    this.writeHosts(options.hosts);
  }

  static async start(options: DnsmasqOptions): Promise<Dnsmasq> {
    const server = new Dnsmasq(options);
    try {
      await server.launch();
    } catch (err) {
      server.stop();
      throw err;
    }
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Rewrites the hosts file and waits until dnsmasq has re-read it. */
  async setHosts(hosts: HostRecords): Promise<void> {
    this.writeHosts(hosts);
    const target = this.reads + 1;
    this.child!.kill('SIGHUP');
    await this.untilReads(target);
  }

  /** Stops and starts again on the same port with new options (for SRV / host-record changes). */
  async restart(options: Partial<DnsmasqOptions>): Promise<void> {
    await this.kill();
    this.options = { ...this.options, ...options };
    this.writeHosts(this.options.hosts);
    await this.launch(this.port);
  }

  /** Always safe to call (test teardown): kills dnsmasq and removes its files. */
  stop(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeHosts(hosts: HostRecords): void {
    const lines = Object.entries(hosts).flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}`));
    writeFileSync(this.hostsFile, lines.join('\n') + '\n', { mode: 0o644 });
  }

  private async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  private async launch(fixedPort?: number): Promise<void> {
    for (let tries = 0; tries < 10; tries++) {
      const port = fixedPort ?? 20000 + Math.floor(Math.random() * 40000);
      if (await this.tryLaunch(port)) {
        this.port = port;
        return;
      }
      if (fixedPort !== undefined) await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`dnsmasq did not start: ${this.log}`);
  }

  private tryLaunch(port: number): Promise<boolean> {
    const o = this.options;
    const args = [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      `--pid-file=${join(this.dir, 'pid')}`,
      '--user=root',
      '--group=root',
      '--log-facility=-',
      '--local=/cluster.local/',
      '--local-ttl=0',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--addn-hosts=${this.hostsFile}`,
      ...(o.srv ?? []).map((s) => `--srv-host=${s}`),
      ...(o.hostRecords ?? []).map((h) => `--host-record=${h}`),
    ];
    const child = spawn(DNSMASQ, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.reads = 0;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(false);
      }, START_TIMEOUT_MS);
      child.stderr!.on('data', (d: Buffer) => {
        const text = d.toString();
        this.log += text;
        const reads = text.split('\n').filter((line) => line.includes(`read ${this.hostsFile}`)).length;
        if (reads > 0) {
          this.reads += reads;
          clearTimeout(timer);
          resolve(true);
          for (const wake of this.readWaiters.splice(0)) wake();
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  private async untilReads(target: number): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (this.reads < target) {
      if (Date.now() > deadline) throw new Error(`dnsmasq did not reload its hosts file: ${this.log}`);
      await new Promise<void>((resolve) => {
        this.readWaiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
}
