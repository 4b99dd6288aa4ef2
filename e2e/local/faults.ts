// Owns network faults inside the host namespaces: per host, one nftables table `inet catga_fault`
// rendered from the host's fault state (addresses whose packets are dropped inbound/outbound, and
// a random-loss percentage towards a set of peers) and replaced atomically on every change.
// Only traffic with peer addresses is touched; the harness (bridge gateway) keeps its path.
// Behind delay relays a peer's packets arrive from the gateway, so there a cut is made on the
// sending side (towards the peer's relay address), which still stops every connection both ways.
import assert from 'node:assert/strict';
import type { Host, TestNetwork } from './netns.js';

const TABLE = 'catga_fault';

interface HostFaults {
  readonly dropFrom: Set<string>;
  readonly dropTo: Set<string>;
  lossPercent: number;
  readonly lossPeers: Set<string>;
}

function emptyFaults(): HostFaults {
  return { dropFrom: new Set(), dropTo: new Set(), lossPercent: 0, lossPeers: new Set() };
}

function ipSet(addresses: Set<string>): string {
  return `{ ${[...addresses].sort().join(', ')} }`;
}

/** The nft script that replaces the host's table with one enforcing `faults`. */
export function renderRuleset(faults: HostFaults): string {
  const input: string[] = [];
  const output: string[] = [];
  if (faults.dropFrom.size > 0) input.push(`ip saddr ${ipSet(faults.dropFrom)} drop`);
  if (faults.dropTo.size > 0) output.push(`ip daddr ${ipSet(faults.dropTo)} drop`);
  if (faults.lossPercent > 0 && faults.lossPeers.size > 0) {
    input.push(`ip saddr ${ipSet(faults.lossPeers)} numgen random mod 100 < ${faults.lossPercent} drop`);
    output.push(`ip daddr ${ipSet(faults.lossPeers)} numgen random mod 100 < ${faults.lossPercent} drop`);
  }
  const chain = (name: string, hook: string, rules: string[]): string =>
    `  chain ${name} {\n    type filter hook ${hook} priority 0; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return `table inet ${TABLE}\ndelete table inet ${TABLE}\ntable inet ${TABLE} {\n` +
    chain('input', 'input', input) + chain('output', 'output', output) + '}\n';
}

export class NetworkFaults {
  private readonly state = new Map<number, HostFaults>();

  /** `addressesOf(host)`: every address peers use to reach `host` (its own, plus a relay's). */
  constructor(
    private readonly network: TestNetwork,
    private readonly addressesOf: (host: Host) => readonly string[] = (host) => [host.ip],
  ) {}

  private addAll(target: Set<string>, host: Host): void {
    for (const address of this.addressesOf(host)) target.add(address);
  }

  private faultsOf(host: Host): HostFaults {
    let faults = this.state.get(host.index);
    if (faults === undefined) {
      faults = emptyFaults();
      this.state.set(host.index, faults);
    }
    return faults;
  }

  private async apply(host: Host): Promise<void> {
    await this.network.exec(host.ns, 'nft', ['-f', '-'], renderRuleset(this.faultsOf(host)));
  }

  /** Packets from `from` no longer reach `to` (the reverse direction still works). */
  async dropOneWay(from: Host, to: Host): Promise<void> {
    assert.notEqual(from.index, to.index, 'a host cannot be cut from itself');
    this.addAll(this.faultsOf(from).dropTo, to);
    this.faultsOf(to).dropFrom.add(from.ip);
    await Promise.all([this.apply(from), this.apply(to)]);
  }

  /** Cuts every link between the two groups in both directions. */
  async partition(groupA: readonly Host[], groupB: readonly Host[]): Promise<void> {
    for (const a of groupA) {
      for (const b of groupB) {
        assert.notEqual(a.index, b.index, 'a host cannot be on both sides of a partition');
        for (const [x, y] of [[a, b], [b, a]] as const) {
          this.addAll(this.faultsOf(x).dropTo, y);
          this.faultsOf(x).dropFrom.add(y.ip);
        }
      }
    }
    await Promise.all([...groupA, ...groupB].map((h) => this.apply(h)));
  }

  /** Drops `percent`% of packets (random, each direction) between `host` and each of `peers`. */
  async loss(hosts: readonly Host[], percent: number): Promise<void> {
    assert.ok(Number.isInteger(percent) && percent > 0 && percent < 100, 'loss percent in 1..99');
    for (const host of hosts) {
      const faults = this.faultsOf(host);
      faults.lossPercent = percent;
      for (const peer of hosts) if (peer.index !== host.index) this.addAll(faults.lossPeers, peer);
    }
    await Promise.all(hosts.map((h) => this.apply(h)));
  }

  /** Removes every network fault from every host. */
  async healAll(): Promise<void> {
    const hosts = this.network.hosts.filter((h) => this.state.has(h.index));
    this.state.clear();
    await Promise.all(hosts.map((h) => this.apply(h)));
  }

  /** The table as the kernel holds it now (for tests and diagnostics). */
  listRules(host: Host): Promise<string> {
    return this.network.exec(host.ns, 'nft', ['list', 'table', 'inet', TABLE]);
  }
}
