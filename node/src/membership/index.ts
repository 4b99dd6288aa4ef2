// Membership's public surface: the first configuration (from DNS or a static list), waiting for
// DNS, and the resolver the transport uses on every reconnect.
export { MembershipError, type MembershipErrorCode } from './errors.js';
export { parsePodName, type PodName } from './ordinal.js';
export { initialConfiguration } from './initial-config.js';
export { parseStaticPeers } from './static-peers.js';
export { createPeerDns, hostResolver, type PeerDns, type SrvTarget } from './dns.js';
export {
  waitForInitialMembers,
  DEFAULT_DISCOVERY_RETRY,
  type DiscoveryOptions,
  type DiscoveryResult,
  type DiscoverySnapshot,
} from './discovery.js';
