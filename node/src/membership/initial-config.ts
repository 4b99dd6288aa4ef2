// The first configuration of a DNS-discovered cluster, derived from names alone so that every pod
// computes the same one: voters X-0..X-(n-1), each at its stable DNS name (never an IP: a pod that
// restarts gets a new IP and keeps its name).
import assert from 'node:assert';
import type { ConfState, NodeId } from '../raft/types.js';

/** The stable DNS name of pod `<name>-<ordinal>` under the headless service `dnsName`. */
function podHost(name: string, ordinal: number, dnsName: string): string {
  return `${name}-${ordinal}.${dnsName}`;
}

export function initialConfiguration(name: string, expect: number, dnsName: string, peerPort: number): ConfState {
  assert(name !== '', 'name must not be empty');
  assert(Number.isSafeInteger(expect) && expect >= 1, `bootstrap expect must be >= 1, got ${expect}`);
  assert(dnsName !== '' && !dnsName.endsWith('.'), `bad DNS name "${dnsName}"`);
  assert(Number.isInteger(peerPort) && peerPort >= 1 && peerPort <= 65535, `bad peer port ${peerPort}`);
  const voters: NodeId[] = [];
  const addresses: Record<NodeId, string> = {};
  for (let i = 0; i < expect; i++) {
    const id = `${name}-${i}`;
    voters.push(id);
    addresses[id] = `${podHost(name, i, dnsName)}:${peerPort}`;
  }
  return { voters, learners: [], addresses };
}
