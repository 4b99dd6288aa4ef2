// Owns a Catga cluster of real `catga node` processes, one per network namespace, configured as
// a StatefulSet pod would be (CATGA_NODE_ID=X-i, DNS membership through the test dnsmasq), and the
// process-level faults on them: SIGKILL + restart on the same data dir, SIGSTOP/SIGCONT, full
// restart, and membership changes through the admin API. With `linkDelay`, each pod's DNS name
// points at a delaying relay in front of it, so every peer link carries the delay.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterDns, headlessName } from './dns.js';
import { getValue, httpCall } from './http.js';
import { TestNetwork, type Host } from './netns.js';
import { DelayRelay, type LinkDelay } from './relay.js';
import { NetworkFaults } from './faults.js';
import { registerCleanup } from './cleanup.js';
import type { ClusterView } from 'catga/client';

export const NODE_MAIN = process.env['CATGA_NODE_MAIN'] ??
  fileURLToPath(new URL('../../../node/dist/src/cli/main.js', import.meta.url));
export const HTTP_PORT = 8080;
export const PEER_PORT = 7080;
export const STATUS_TIMEOUT_MS = 1_000;
export const ADMIN_TIMEOUT_MS = 10_000;
/** How long a membership change may take under faults before the scenario fails. */
export const MEMBERSHIP_TIMEOUT_MS = 60_000;
export const RUN_ROOT = '/tmp/catga-e2e';

export type { ClusterView } from 'catga/client';

export interface ClusterOptions {
  /** Initial voters (CATGA_BOOTSTRAP_EXPECT). */
  readonly size: number;
  readonly seed: number;
  readonly linkDelay?: LinkDelay;
  /** Extra environment for every node (e.g. CATGA_UNSAFE_LOCAL_LINEARIZABLE=1). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CatgaNode {
  readonly ordinal: number;
  readonly id: string;
  /** The namespace it runs in; a pod restarted elsewhere (moveAndRestart) gets a new one. */
  host: Host;
  url: string;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | null;
  paused: boolean;
  removed: boolean;
}

export function nodeMainExists(): boolean {
  return existsSync(NODE_MAIN);
}

/** A small seeded PRNG (mulberry32): every random choice of a run follows from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class LocalCluster {
  readonly name = 'cg';
  readonly namespace = 'e2e';
  readonly nodes: CatgaNode[] = [];
  readonly faults: NetworkFaults;
  readonly random: () => number;
  private readonly relays = new Map<number, DelayRelay[]>();
  private readonly relayAddresses = new Map<number, string>();
  private readonly adminToken = randomBytes(12).toString('hex');
  private readonly clusterSecret = randomBytes(16).toString('hex');
  private readonly unregister: () => void;

  private constructor(
    readonly network: TestNetwork,
    readonly dns: ClusterDns,
    readonly runDir: string,
    private readonly options: ClusterOptions,
  ) {
    this.random = seededRandom(options.seed);
    this.faults = new NetworkFaults(network, (host) => {
      const relay = this.relayAddresses.get(host.index);
      return relay === undefined ? [host.ip] : [host.ip, relay];
    });
    this.unregister = registerCleanup(`cluster ${runDir}`, () => this.stopAllNow());
  }

  static async start(options: ClusterOptions): Promise<LocalCluster> {
    assert.ok(options.size >= 1 && options.size <= 9, 'cluster size 1..9');
    assert.ok(nodeMainExists(), `node runtime not built: ${NODE_MAIN}`);
    const network = await TestNetwork.create(0);
    const runDir = `${RUN_ROOT}/${network.runId}`;
    try {
      mkdirSync(runDir, { recursive: true });
      const dns = await ClusterDns.start(network, runDir, 'cg', 'e2e');
      const cluster = new LocalCluster(network, dns, runDir, options);
      for (let i = 0; i < options.size; i++) await cluster.createNode();
      await Promise.all(cluster.nodes.map((n) => cluster.spawnNode(n)));
      await cluster.waitForLeader(30_000);
      return cluster;
    } catch (err) {
      network.destroy();
      throw err;
    }
  }

  private async createNode(): Promise<CatgaNode> {
    const host = await this.network.addHost();
    const ordinal = this.nodes.length;
    const node: CatgaNode = {
      ordinal,
      id: `${this.name}-${ordinal}`,
      host,
      url: `http://${host.ip}:${HTTP_PORT}`,
      dataDir: `${this.runDir}/data-${ordinal}`,
      logFile: `${this.runDir}/node-${ordinal}.log`,
      child: null,
      paused: false,
      removed: false,
    };
    mkdirSync(node.dataDir, { recursive: true });
    let dnsAddress = host.ip;
    if (this.options.linkDelay !== undefined) {
      dnsAddress = await this.network.addBridgeAddress();
      this.relayAddresses.set(host.index, dnsAddress);
      const relays = [PEER_PORT, HTTP_PORT].map((port) =>
        new DelayRelay(dnsAddress, port, host.ip, port, this.options.linkDelay!, this.random));
      await Promise.all(relays.map((r) => r.start()));
      this.relays.set(ordinal, relays);
    }
    await this.dns.setPod(ordinal, dnsAddress);
    this.nodes.push(node);
    return node;
  }

  private spawnNode(node: CatgaNode): Promise<void> {
    assert.equal(node.child, null, `${node.id} already running`);
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      CATGA_NODE_ID: node.id,
      CATGA_DNS_NAME: headlessName(this.name, this.namespace),
      CATGA_DNS_SERVER: this.dns.server,
      CATGA_BOOTSTRAP_EXPECT: String(this.options.size),
      CATGA_DATA_DIR: node.dataDir,
      CATGA_HTTP_PORT: String(HTTP_PORT),
      CATGA_PEER_PORT: String(PEER_PORT),
      CATGA_BIND_HOST: '0.0.0.0',
      CATGA_CLUSTER_ID: `e2e-${this.network.runId}`,
      CATGA_CLUSTER_SECRET: this.clusterSecret,
      CATGA_ADMIN_TOKEN: this.adminToken,
      // The recording clients send no token: the test network is private to this run.
      CATGA_OPEN_ACCESS: 'true',
      CATGA_TICK_MS: process.env['CATGA_E2E_TICK_MS'] ?? '100',
      CATGA_ELECTION_TICKS: process.env['CATGA_E2E_ELECTION_TICKS'] ?? '10',
      ...this.options.env,
    };
    const log = openSync(node.logFile, 'a');
    const child = this.network.spawnIn(node.host, process.execPath, [NODE_MAIN, 'node'], { env, stdio: ['ignore', log, log] });
    closeSync(log);
    node.child = child;
    node.paused = false;
    child.once('exit', () => {
      if (node.child === child) node.child = null;
    });
    return this.waitHealthy(node, 20_000);
  }

  private async waitHealthy(node: CatgaNode, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (node.child === null) throw Object.assign(new Error(`${node.id} exited at start; see ${node.logFile}`), { code: 'NODE_EXITED' });
      try {
        const res = await httpCall(`${node.url}/healthz`, { timeoutMs: STATUS_TIMEOUT_MS });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw Object.assign(new Error(`${node.id} not healthy in ${timeoutMs} ms; see ${node.logFile}`), { code: 'NODE_START_TIMEOUT' });
  }

  /** Nodes that are members of the cluster (running or not). */
  memberNodes(): CatgaNode[] {
    return this.nodes.filter((n) => !n.removed);
  }

  view(node: CatgaNode): Promise<ClusterView | null> {
    if (node.child === null || node.paused) return Promise.resolve(null);
    return getValue<ClusterView>(`${node.url}/v1/cluster`, STATUS_TIMEOUT_MS);
  }

  /** The leader that a majority of the answering voters agree on at the highest term, if any. */
  async currentLeader(): Promise<CatgaNode | null> {
    const views = (await Promise.all(this.memberNodes().map((n) => this.view(n)))).filter((v): v is ClusterView => v !== null);
    const self = views.find((v) => v.role === 'leader' && views.every((o) => o.term <= v.term));
    if (self === undefined) return null;
    const agreeing = views.filter((v) => v.leader === self.id && v.term === self.term).length;
    if (agreeing * 2 <= this.options.size) return null;
    return this.nodes.find((n) => n.id === self.id) ?? null;
  }

  async waitForLeader(timeoutMs: number): Promise<CatgaNode> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.currentLeader();
      if (leader !== null) return leader;
      await sleep(100);
    }
    throw Object.assign(new Error(`no leader within ${timeoutMs} ms`), { code: 'NO_LEADER' });
  }

  async kill(node: CatgaNode): Promise<void> {
    const child = node.child;
    if (child === null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (node.paused) child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** Restarts a killed node on the same data dir and address. */
  restart(node: CatgaNode): Promise<void> {
    return this.spawnNode(node);
  }

  /** Kills the node and empties its data directory, as a pod whose volume was lost comes back. */
  async wipe(node: CatgaNode): Promise<void> {
    await this.kill(node);
    rmSync(node.dataDir, { recursive: true, force: true });
    mkdirSync(node.dataDir, { recursive: true });
  }

  /** Resolves once the leader records `node` as a voter with the incarnation (disk) it runs with now. */
  async waitReadmitted(node: CatgaNode, timeoutMs: number): Promise<void> {
    const own = await this.view(node);
    if (own === null) throw Object.assign(new Error(`${node.id} does not answer`), { code: 'NODE_DOWN' });
    await this.waitMembership((m) => m.some((x) => x.id === node.id && x.voter && x.incarnation === own.incarnation), timeoutMs);
  }

  /**
   * Kills the node and starts it on a fresh host with a new address, as a rescheduled pod comes
   * back, on the same data dir; its DNS record follows. Not for pods behind delay relays.
   */
  async moveAndRestart(node: CatgaNode): Promise<void> {
    assert.equal(this.options.linkDelay, undefined, 'moving a pod behind a delay relay is not supported');
    await this.kill(node);
    const host = await this.network.addHost();
    node.host = host;
    node.url = `http://${host.ip}:${HTTP_PORT}`;
    await this.dns.setPod(node.ordinal, host.ip);
    await this.spawnNode(node);
  }

  pause(node: CatgaNode): void {
    assert.ok(node.child !== null && !node.paused, `${node.id} not running`);
    node.child.kill('SIGSTOP');
    node.paused = true;
  }

  resume(node: CatgaNode): void {
    assert.ok(node.child !== null && node.paused, `${node.id} not paused`);
    node.child.kill('SIGCONT');
    node.paused = false;
  }

  /** Kills every member at once, then starts them all again on their data dirs. */
  async fullRestart(): Promise<void> {
    const members = this.memberNodes();
    await Promise.all(members.map((n) => this.kill(n)));
    await Promise.all(members.map((n) => this.spawnNode(n)));
  }

  /**
   * Asks the leader for a membership change until the leader's view shows it done. A request
   * whose outcome is unknown (timeout under faults) may have been applied: the view decides.
   */
  private async changeMembership(method: string, path: string, body: unknown, done: (members: ClusterView['members']) => boolean): Promise<void> {
    const deadline = Date.now() + MEMBERSHIP_TIMEOUT_MS;
    let last = 'no leader';
    while (Date.now() < deadline) {
      const leader = await this.currentLeader();
      const view = leader === null ? null : await this.view(leader);
      if (view !== null && done(view.members)) return;
      if (leader !== null) {
        try {
          const res = await httpCall(`${leader.url}${path}`, {
            method,
            headers: { authorization: `Bearer ${this.adminToken}` },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            timeoutMs: ADMIN_TIMEOUT_MS,
          });
          last = `${res.status} ${res.raw}`;
          const refused = res.status >= 400 && res.status < 500 && res.status !== 409 && res.status !== 429;
          if (refused && !done((await this.view(leader))?.members ?? [])) break;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      await sleep(200);
    }
    throw Object.assign(new Error(`admin ${method} ${path} not done: ${last}`), { code: 'ADMIN_FAILED' });
  }

  /** Starts pod X-n (n >= bootstrap size): it joins as a learner by itself. Waits until listed. */
  async addLearner(): Promise<CatgaNode> {
    const node = await this.createNode();
    await this.spawnNode(node);
    await this.waitMembership((m) => m.some((x) => x.id === node.id), MEMBERSHIP_TIMEOUT_MS);
    return node;
  }

  async promote(node: CatgaNode): Promise<void> {
    const address = `${node.id}.${headlessName(this.name, this.namespace)}:${PEER_PORT}`;
    await this.changeMembership('POST', '/v1/cluster/members', { id: node.id, address, voter: true },
      (m) => m.some((x) => x.id === node.id && x.voter));
  }

  /** Asks for leadership to move to `node`, once; true when the leader says it moved. */
  async transferLeadership(node: CatgaNode): Promise<boolean> {
    const leader = await this.currentLeader();
    if (leader === null) return false;
    try {
      const res = await httpCall(`${leader.url}/v1/cluster/transfer-leadership`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.adminToken}` },
        body: JSON.stringify({ to: node.id }),
        timeoutMs: ADMIN_TIMEOUT_MS,
      });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Removes a member through Raft, then stops its process and its DNS record. */
  async removeMember(node: CatgaNode): Promise<void> {
    await this.changeMembership('DELETE', `/v1/cluster/members/${encodeURIComponent(node.id)}`, undefined,
      (m) => !m.some((x) => x.id === node.id));
    node.removed = true;
    await this.kill(node);
    await this.dns.removePod(node.ordinal);
  }

  private async waitMembership(accept: (members: ClusterView['members']) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.currentLeader();
      const view = leader === null ? null : await this.view(leader);
      if (view !== null && accept(view.members)) return;
      await sleep(200);
    }
    throw Object.assign(new Error(`membership did not change within ${timeoutMs} ms`), { code: 'MEMBERSHIP_TIMEOUT' });
  }

  private stopAllNow(): void {
    for (const node of this.nodes) {
      if (node.child !== null) {
        node.child.kill('SIGCONT');
        node.child.kill('SIGKILL');
      }
    }
  }

  /** Stops everything; removes the run directory unless `keepFiles` (kept for a failed run). */
  async destroy(keepFiles: boolean): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n)));
    await Promise.all([...this.relays.values()].flat().map((r) => r.close()));
    this.dns.stop();
    this.network.destroy();
    this.unregister();
    if (!keepFiles) rmSync(this.runDir, { recursive: true, force: true });
  }
}
