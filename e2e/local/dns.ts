// Owns the cluster DNS: a dnsmasq on the bridge address that answers, as Kubernetes' DNS would
// for a headless Service with publishNotReadyAddresses, `X-i.X-hl.NS.svc.cluster.local` (one A
// record per pod) and `X-hl.NS.svc.cluster.local` (every pod's A record), from an addn-hosts file
// that is rewritten and reloaded (SIGHUP) when a pod is added, removed or moved.
import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { killPid, registerCleanup } from './cleanup.js';
import type { TestNetwork } from './netns.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const DNS_READY_TIMEOUT_MS = 10_000;
const CLUSTER_DOMAIN = 'svc.cluster.local';

export function headlessName(cluster: string, namespace: string): string {
  return `${cluster}-hl.${namespace}.${CLUSTER_DOMAIN}`;
}

export function podName(cluster: string, namespace: string, ordinal: number): string {
  return `${cluster}-${ordinal}.${headlessName(cluster, namespace)}`;
}

export class ClusterDns {
  /** ordinal -> address of pod `cluster-ordinal` */
  private readonly pods = new Map<number, string>();
  private readonly resolver = new Resolver({ timeout: 500, tries: 1 });
  private readonly unregister: () => void;

  private constructor(
    private readonly child: ChildProcess,
    private readonly hostsFile: string,
    readonly listenAddress: string,
    readonly port: number,
    readonly cluster: string,
    readonly namespace: string,
  ) {
    const pid = child.pid ?? 0;
    this.unregister = registerCleanup(`dnsmasq ${pid}`, () => killPid(pid));
    this.resolver.setServers([`${listenAddress}:${port}`]);
  }

  /** `host:port` for CATGA_DNS_SERVER. */
  get server(): string {
    return `${this.listenAddress}:${this.port}`;
  }

  static async start(network: TestNetwork, runDir: string, cluster: string, namespace: string): Promise<ClusterDns> {
    const hostsFile = `${runDir}/dns-hosts`;
    writeFileSync(hostsFile, '');
    for (let attempt = 0; attempt < 5; attempt++) {
      // Port 53 makes the namespaces' resolv.conf work too; a random port if 53 is taken.
      const port = attempt === 0 ? 53 : 20_000 + Math.floor(Math.random() * 40_000);
      const child = spawn(DNSMASQ, [
        '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
        `--listen-address=${network.gateway}`, `--port=${port}`, `--addn-hosts=${hostsFile}`,
        '--local=/cluster.local/', '--cache-size=0', '--local-ttl=0', '--user=root', '--pid-file=',
        `--log-facility=${runDir}/dnsmasq.log`,
      ], { stdio: 'ignore' });
      if (child.pid === undefined) continue;
      network.recordDaemon(child.pid);
      const dns = new ClusterDns(child, hostsFile, network.gateway, port, cluster, namespace);
      if (await dns.waitAnswering()) return dns;
      dns.stop();
    }
    throw Object.assign(new Error('dnsmasq did not start'), { code: 'DNS_START_FAILED' });
  }

  private async waitAnswering(): Promise<boolean> {
    const deadline = Date.now() + DNS_READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) return false;
      try {
        await this.resolver.resolve4(`probe.${CLUSTER_DOMAIN}`);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOTFOUND') return true; // NXDOMAIN: it answers
      }
      await sleep(50);
    }
    return false;
  }

  /** Sets (or moves) pod `ordinal`'s address and waits until dnsmasq serves it. */
  async setPod(ordinal: number, address: string): Promise<void> {
    this.pods.set(ordinal, address);
    await this.reload(ordinal, address);
  }

  /** Removes pod `ordinal` (scale-down / member removal). */
  async removePod(ordinal: number): Promise<void> {
    this.pods.delete(ordinal);
    await this.reload(ordinal, null);
  }

  private async reload(ordinal: number, expected: string | null): Promise<void> {
    const headless = headlessName(this.cluster, this.namespace);
    const lines = [...this.pods].sort((a, b) => a[0] - b[0])
      .map(([i, ip]) => `${ip} ${podName(this.cluster, this.namespace, i)} ${headless}`);
    writeFileSync(this.hostsFile, lines.join('\n') + '\n');
    this.child.kill('SIGHUP');
    const deadline = Date.now() + DNS_READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const got = await this.lookup(podName(this.cluster, this.namespace, ordinal));
      if (expected === null ? got.length === 0 : got.includes(expected)) return;
      await sleep(20);
    }
    throw Object.assign(new Error(`dnsmasq did not pick up pod ${ordinal}`), { code: 'DNS_RELOAD_FAILED' });
  }

  /** A records for `name` as served now ([] for NXDOMAIN). */
  async lookup(name: string): Promise<string[]> {
    try {
      return await this.resolver.resolve4(name);
    } catch {
      return [];
    }
  }

  stop(): void {
    this.resolver.cancel();
    this.unregister();
  }
}
