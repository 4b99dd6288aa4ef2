// Owns the test network: one Linux bridge `cg-br<N>` in the root namespace (address 10.77.N.1/24)
// and one network namespace `cg<run>-<i>` per host, joined to the bridge by a veth pair. All
// traffic stays on that bridge (no routes out, no forwarding needed: hosts and the harness share
// one on-link subnet, so net.ipv4.ip_forward may stay 0). The bridge is created with
// nf_call_iptables/ip6tables/arptables 0, so even with br_netfilter loaded
// (net.bridge.bridge-nf-call-iptables=1) no host firewall rule sees the bridged frames. Also owns
// leftover removal for runs whose owner process died.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { killPid, registerCleanup, runQuietly } from './cleanup.js';
import { run } from './exec.js';

export const STATE_DIR = '/run/catga-e2e';
export const SUBNET_PREFIX = '10.77';
export const MAX_HOSTS = 80;
export const MAX_BRIDGE_ADDRESSES = 80;
/** `ip netns exec NS` bind-mounts files found in /etc/netns/NS over /etc (resolv.conf here). */
const NETNS_ETC = '/etc/netns';
const HOST_OFFSET = 10;
const BRIDGE_ADDRESS_OFFSET = 100;
const NAMESPACE_PATTERN = /^cg([a-z0-9]{4})-(\d+)$/;
const BRIDGE_PATTERN = /^cg-br(\d+)$/;

export interface Host {
  readonly index: number;
  readonly ns: string;
  readonly ip: string;
}

interface RunState {
  pid: number;
  bridge: string;
  daemonPids: number[];
}

function statePath(runId: string): string {
  return `${STATE_DIR}/${runId}.json`;
}

/** Alive and not a zombie (a killed owner may wait a while for a reaper that is not us). */
function pidAlive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '';
    return !state.startsWith('Z') && !state.startsWith('X');
  } catch {
    return false;
  }
}

function listLines(cmd: string, args: string[]): string[] {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }).split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

function namespacePids(ns: string): number[] {
  return listLines('ip', ['netns', 'pids', ns]).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Kills the namespace's processes, deletes its veth pair (the namespace may outlive a dying
 * process for a moment, and its veth with it) and the namespace itself. */
function removeNamespace(ns: string, hostSideLink: string): void {
  for (const pid of namespacePids(ns)) killPid(pid);
  runQuietly('ip', ['link', 'del', hostSideLink]);
  runQuietly('ip', ['netns', 'del', ns]);
  rmSync(`${NETNS_ETC}/${ns}`, { recursive: true, force: true });
}

function hostSideLinkName(runId: string, index: number): string {
  return `cgh${runId}i${index}`;
}

function runIdsInUse(): Set<string> {
  const live = new Set<string>();
  if (!existsSync(STATE_DIR)) return live;
  for (const file of readdirSync(STATE_DIR)) {
    if (!file.endsWith('.json')) continue;
    try {
      const state = JSON.parse(readFileSync(`${STATE_DIR}/${file}`, 'utf8')) as RunState;
      if (pidAlive(state.pid)) live.add(file.slice(0, -5));
    } catch {
      // unreadable state: treated as dead
    }
  }
  return live;
}

/**
 * Removes namespaces, bridges and daemons of earlier runs whose owner process is gone (crashed or
 * killed). Runs of live processes (a concurrent `make test`) are left alone.
 */
export function removeLeftovers(): string[] {
  const live = runIdsInUse();
  const removed: string[] = [];
  if (existsSync(STATE_DIR)) {
    for (const file of readdirSync(STATE_DIR)) {
      const runId = file.replace(/\.json$/, '');
      if (!file.endsWith('.json') || live.has(runId)) continue;
      try {
        const state = JSON.parse(readFileSync(`${STATE_DIR}/${file}`, 'utf8')) as RunState;
        for (const pid of state.daemonPids) killPid(pid);
        runQuietly('ip', ['link', 'del', state.bridge]);
        removed.push(state.bridge);
      } catch {
        // corrupt state file: its namespaces are still found by name below
      }
      rmSync(`${STATE_DIR}/${file}`, { force: true });
    }
  }
  for (const line of listLines('ip', ['netns', 'list'])) {
    const ns = line.split(' ')[0] ?? '';
    const match = NAMESPACE_PATTERN.exec(ns);
    if (match === null || live.has(match[1] ?? '')) continue;
    removeNamespace(ns, hostSideLinkName(match[1] ?? '', Number(match[2])));
    removed.push(ns);
  }
  for (const line of listLines('ip', ['-o', 'link', 'show', 'type', 'veth'])) {
    const match = /^\d+: cgh([a-z0-9]{4})i\d+@/.exec(line);
    if (match === null || live.has(match[1] ?? '')) continue;
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '';
    runQuietly('ip', ['link', 'del', name]);
    removed.push(name);
  }
  for (const line of listLines('ip', ['-o', 'link', 'show', 'type', 'bridge'])) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '';
    if (!BRIDGE_PATTERN.test(name)) continue;
    const owner = /alias catga-([a-z0-9]{4})/.exec(line)?.[1];
    if (owner !== undefined && live.has(owner)) continue;
    runQuietly('ip', ['link', 'del', name]);
    removed.push(name);
  }
  return removed;
}

export class TestNetwork {
  readonly hosts: Host[] = [];
  private readonly bridgeAddresses: string[] = [];
  private readonly daemonPids: number[] = [];
  private readonly cleanups: Array<() => void> = [];
  /** Host creation is serialized: a host's index is the count of hosts before it. */
  private hostCreation: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  private constructor(
    readonly runId: string,
    readonly subnet: number,
    readonly bridge: string,
  ) {}

  /** The root namespace's address on the bridge: the harness, DNS and relays live behind it. */
  get gateway(): string {
    return `${SUBNET_PREFIX}.${this.subnet}.1`;
  }

  /** Creates the bridge and `hostCount` namespaces. Removes leftovers of dead runs first. */
  static async create(hostCount: number): Promise<TestNetwork> {
    assert.ok(process.getuid?.() === 0, 'the namespace harness needs root (CAP_NET_ADMIN)');
    removeLeftovers();
    mkdirSync(STATE_DIR, { recursive: true });
    const runId = randomBytes(3).toString('hex').slice(0, 4);
    const network = await TestNetwork.claimBridge(runId);
    for (let i = 0; i < hostCount; i++) await network.addHost();
    return network;
  }

  /** Picks a free subnet; creating the bridge is the atomic claim (a name already taken fails). */
  private static async claimBridge(runId: string): Promise<TestNetwork> {
    const start = 1 + (randomBytes(1)[0] ?? 0) % 250;
    for (let attempt = 0; attempt < 250; attempt++) {
      const subnet = 1 + ((start + attempt) % 250);
      const bridge = `cg-br${subnet}`;
      const network = new TestNetwork(runId, subnet, bridge);
      network.writeState();
      try {
        await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge',
          'nf_call_iptables', '0', 'nf_call_ip6tables', '0', 'nf_call_arptables', '0']);
      } catch {
        continue; // taken by a concurrent run
      }
      network.cleanups.push(registerCleanup(`bridge ${bridge}`, () => {
        runQuietly('ip', ['link', 'del', bridge]);
        rmSync(statePath(runId), { force: true });
      }));
      await run('ip', ['link', 'set', 'dev', bridge, 'alias', `catga-${runId}`]);
      await run('ip', ['addr', 'add', `${network.gateway}/24`, 'dev', bridge]);
      await run('ip', ['link', 'set', 'dev', bridge, 'up']);
      return network;
    }
    throw Object.assign(new Error('no free 10.77.N.0/24 subnet for a test bridge'), { code: 'NO_FREE_SUBNET' });
  }

  private writeState(): void {
    const state: RunState = { pid: process.pid, bridge: this.bridge, daemonPids: this.daemonPids };
    writeFileSync(statePath(this.runId), JSON.stringify(state));
  }

  /** Records a root-namespace daemon (dnsmasq) so a later run can kill it if this one crashes. */
  recordDaemon(pid: number): void {
    this.daemonPids.push(pid);
    this.writeState();
  }

  /** Adds one namespace with a veth into the bridge and address 10.77.N.(10+i); calls run one at a time. */
  addHost(): Promise<Host> {
    const created = this.hostCreation.then(() => this.createHost());
    this.hostCreation = created.catch(() => undefined);
    return created;
  }

  private async createHost(): Promise<Host> {
    assert.ok(!this.destroyed, 'network destroyed');
    const index = this.hosts.length;
    assert.ok(index < MAX_HOSTS, `at most ${MAX_HOSTS} hosts`);
    const ns = `cg${this.runId}-${index}`;
    const hostSide = hostSideLinkName(this.runId, index);
    const nsSide = `cgn${this.runId}i${index}`;
    const ip = `${SUBNET_PREFIX}.${this.subnet}.${HOST_OFFSET + index}`;
    await run('ip', ['netns', 'add', ns]);
    this.cleanups.push(registerCleanup(`namespace ${ns}`, () => removeNamespace(ns, hostSide)));
    // Like a pod's: the cluster DNS (on the gateway, port 53 when free) is the system resolver.
    mkdirSync(`${NETNS_ETC}/${ns}`, { recursive: true });
    writeFileSync(`${NETNS_ETC}/${ns}/resolv.conf`, `nameserver ${this.gateway}\noptions ndots:5 timeout:1 attempts:2\n`);
    await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide]);
    await run('ip', ['link', 'set', nsSide, 'netns', ns]);
    await run('ip', ['link', 'set', hostSide, 'master', this.bridge]);
    await run('ip', ['link', 'set', hostSide, 'up']);
    await this.exec(ns, 'ip', ['link', 'set', nsSide, 'name', 'eth0']);
    await this.exec(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await this.exec(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await this.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    const host: Host = { index, ns, ip };
    this.hosts.push(host);
    return host;
  }

  /** Adds one more address to the bridge (10.77.N.(100+k)) for a relay to listen on. */
  async addBridgeAddress(): Promise<string> {
    const k = this.bridgeAddresses.length;
    assert.ok(k < MAX_BRIDGE_ADDRESSES, `at most ${MAX_BRIDGE_ADDRESSES} bridge addresses`);
    const ip = `${SUBNET_PREFIX}.${this.subnet}.${BRIDGE_ADDRESS_OFFSET + k}`;
    this.bridgeAddresses.push(ip); // reserved before the await: concurrent calls get distinct addresses
    await run('ip', ['addr', 'add', `${ip}/24`, 'dev', this.bridge]);
    return ip;
  }

  /** Runs a short command inside a namespace. */
  exec(ns: string, cmd: string, args: readonly string[], input?: string): Promise<string> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], input);
  }

  /**
   * Starts a long-running process inside a host's namespace. `ip netns exec` execs the command,
   * so the child's pid is the process itself (SIGKILL / SIGSTOP reach it directly).
   */
  spawnIn(host: Host, cmd: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    assert.ok(!this.destroyed, 'network destroyed');
    const child = spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], options);
    const pid = child.pid;
    if (pid !== undefined) {
      const unregister = registerCleanup(`process ${pid} in ${host.ns}`, () => killPid(pid));
      child.once('exit', () => unregister());
    }
    return child;
  }

  /** Kills every process in every namespace, deletes namespaces, links and the state file. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const pid of this.daemonPids) killPid(pid);
    for (const cleanup of this.cleanups.reverse()) cleanup();
  }
}
