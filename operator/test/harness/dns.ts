// A real DNS server for pod names, as cluster DNS serves them: dnsmasq on 127.0.0.1:<random port>,
// authoritative for the cluster domain, answering from a hosts file the harness rewrites (then
// SIGHUP) whenever a pod gets or loses its address.
import { writeFileSync } from 'node:fs';
import { promises as dns } from 'node:dns';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './process.js';
import { freePort, isPortClash, waitFor } from './wait.js';

export const DNSMASQ_PATH = '/usr/sbin/dnsmasq';
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;
const RELOAD_TIMEOUT_MS = 5_000;
const POLL_MS = 20;
const QUERY_TIMEOUT_MS = 200;
const STOP_GRACE_MS = 2_000;

export interface DnsRecord {
  name: string;
  ip: string;
}

export class DnsServer {
  /** host:port, e.g. for CATGA_DNS_SERVER. */
  readonly address: string;
  private readonly recordsByOwner = new Map<string, DnsRecord[]>();
  private readonly resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 1 });

  private constructor(
    private readonly process: ManagedProcess,
    private readonly hostsFile: string,
    private readonly sentinel: DnsRecord,
    readonly host: string,
    readonly port: number,
  ) {
    this.address = `${host}:${port}`;
    this.resolver.setServers([this.address]);
  }

  /** Starts dnsmasq with its files in dir; resolves once it answers. */
  static async start(dir: string, clusterDomain: string): Promise<DnsServer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await DnsServer.startOnce(dir, clusterDomain);
      } catch (error) {
        if (attempt >= START_ATTEMPTS || !isPortClash(error)) throw error; // port taken meanwhile: retry
      }
    }
  }

  private static async startOnce(dir: string, clusterDomain: string): Promise<DnsServer> {
    const host = '127.0.0.1';
    const port = await freePort(host);
    const hostsFile = join(dir, 'dns-hosts');
    const sentinel = { name: `harness-dns.${clusterDomain}`, ip: host };
    writeFileSync(hostsFile, `${sentinel.ip} ${sentinel.name}\n`);
    const process = new ManagedProcess({
      name: 'dnsmasq',
      command: DNSMASQ_PATH,
      logFile: join(dir, 'dnsmasq.log'),
      args: [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hostsFile}`,
        `--listen-address=${host}`,
        '--bind-interfaces',
        `--port=${port}`,
        `--local=/${clusterDomain}/`, // authoritative: unknown names are NXDOMAIN, never forwarded
        `--user=${userInfo().username}`, // stay able to read the hosts file in our private temp dir
        '--pid-file=',
        '--log-facility=-',
      ],
    });
    const server = new DnsServer(process, hostsFile, sentinel, host, port);
    try {
      await server.waitResolves(sentinel, START_TIMEOUT_MS);
    } catch (error) {
      await process.stop(0);
      throw error;
    }
    return server;
  }

  /** Replaces the records of one owner (a pod's uid) and waits until they are served. */
  async setRecords(owner: string, records: DnsRecord[]): Promise<void> {
    this.recordsByOwner.set(owner, records);
    this.reload();
    for (const record of records) await this.waitResolves(record, RELOAD_TIMEOUT_MS);
  }

  /** Drops one owner's records (served until dnsmasq has reloaded, a few ms). */
  removeRecords(owner: string): void {
    if (this.recordsByOwner.delete(owner)) this.reload();
  }

  async stop(): Promise<void> {
    await this.process.stop(STOP_GRACE_MS);
  }

  private reload(): void {
    const lines = [`${this.sentinel.ip} ${this.sentinel.name}`];
    for (const records of this.recordsByOwner.values()) {
      for (const { ip, name } of records) lines.push(`${ip} ${name}`);
    }
    writeFileSync(this.hostsFile, `${lines.join('\n')}\n`);
    this.process.child.kill('SIGHUP');
  }

  private waitResolves(record: DnsRecord, timeoutMs: number): Promise<void> {
    return waitFor(`DNS ${record.name} -> ${record.ip}`, async () => (await this.resolver.resolve4(record.name)).includes(record.ip), {
      timeoutMs,
      intervalMs: POLL_MS,
      abortIf: () => this.process.deathNotice(),
    });
  }
}
