// Static membership for `catga dev` and tests: `n1=127.0.0.1:7081,n2=127.0.0.1:7082,...`.
import type { ConfState, NodeId } from '../raft/types.js';
import { parseHostPort } from '../transport/address.js';
import { MembershipError } from './errors.js';

/** What a node id may be: the one definition every layer above checks ids against. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Every listed node is a voter, in the listed order. Throws INVALID_STATIC_PEERS on any flaw. */
export function parseStaticPeers(spec: string): ConfState {
  const voters: NodeId[] = [];
  const addresses: Record<NodeId, string> = {};
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const id = eq < 0 ? '' : item.slice(0, eq);
    const address = item.slice(eq + 1);
    if (!NODE_ID_PATTERN.test(id)) throw new MembershipError('INVALID_STATIC_PEERS', `"${item}": expected id=host:port with a plain id`);
    if (parseHostPort(address) === null) throw new MembershipError('INVALID_STATIC_PEERS', `"${item}": "${address}" is not host:port; expected id=host:port`);
    if (Object.hasOwn(addresses, id)) throw new MembershipError('INVALID_STATIC_PEERS', `node ${id} is listed twice`);
    voters.push(id);
    addresses[id] = address;
  }
  if (voters.length === 0) throw new MembershipError('INVALID_STATIC_PEERS', 'no peers listed');
  return { voters, learners: [], addresses };
}
