// Waiting for the first configuration's members to appear in DNS: every voter's host name must
// resolve before a node bootstraps, so that all of them start from the same picture. Retries with
// capped, jittered backoff while records are missing; the headless name's A records and its
// `_peer._tcp` SRV records are looked up alongside and reported (informative, never required).
import type { ConfState, NodeId } from '../raft/types.js';
import { parseHostPort } from '../transport/address.js';
import { backoffDelay, type BackoffPolicy } from '../transport/backoff.js';
import { createPeerDns, type PeerDns, type SrvTarget } from './dns.js';
import { MembershipError } from './errors.js';

export const DEFAULT_DISCOVERY_RETRY: BackoffPolicy = { baseMs: 250, maxMs: 5_000 };

export interface DiscoveryOptions {
  /** CATGA_DNS_SERVER (`ip[:port]`), or null for the system resolver. */
  readonly dnsServer: string | null;
  /** The headless service name (CATGA_DNS_NAME): its A and `_peer._tcp` SRV records are reported. */
  readonly dnsName?: string;
  readonly retry?: BackoffPolicy;
  /** Aborting stops the wait (at once, timers cancelled) with DISCOVERY_ABORTED. */
  readonly signal?: AbortSignal;
  readonly log?: (event: string, fields: object) => void;
}

export interface DiscoverySnapshot {
  /** IPv4 addresses of every member host that resolved. */
  readonly resolved: Readonly<Record<NodeId, readonly string[]>>;
  /** Members whose host did not resolve. */
  readonly missing: readonly NodeId[];
  /** A records of the headless name (every pod, ready or not, with publishNotReadyAddresses). */
  readonly headless: readonly string[];
  /** SRV targets of `_peer._tcp.<dnsName>`. */
  readonly srv: readonly SrvTarget[];
}

export interface DiscoveryResult extends DiscoverySnapshot {
  readonly attempts: number;
}

/** One round of look-ups for every member of `conf` (voters and learners). */
async function lookupMembers(conf: ConfState, dns: PeerDns, dnsName?: string): Promise<DiscoverySnapshot> {
  const members = [...conf.voters, ...conf.learners];
  const hosts = members.map((id) => {
    const target = parseHostPort(conf.addresses[id] ?? '');
    if (target === null) throw new MembershipError('INVALID_NODE_ID', `member ${id} has no host:port address`);
    return target.host;
  });
  const [found, headless, srv] = await Promise.all([
    Promise.all(hosts.map((host) => dns.addresses(host))),
    dnsName === undefined ? [] : dns.addresses(dnsName),
    dnsName === undefined ? [] : dns.srv(`_peer._tcp.${dnsName}`),
  ]);
  const resolved: Record<NodeId, string[]> = {};
  const missing: NodeId[] = [];
  members.forEach((id, i) => {
    if (found[i]!.length > 0) resolved[id] = found[i]!;
    else missing.push(id);
  });
  return { resolved, missing, headless, srv };
}

/** Resolves once every member of `conf` has an A record; retries forever until then (or abort). */
export async function waitForInitialMembers(conf: ConfState, opts: DiscoveryOptions): Promise<DiscoveryResult> {
  const dns = createPeerDns(opts.dnsServer);
  const retry = opts.retry ?? DEFAULT_DISCOVERY_RETRY;
  const log = opts.log ?? (() => {});
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw new MembershipError('DISCOVERY_ABORTED', 'stopped while waiting for DNS');
    const round = await lookupMembers(conf, dns, opts.dnsName);
    if (round.missing.length === 0) {
      log('dns_members_resolved', { attempts: attempt + 1, resolved: round.resolved, headless: round.headless, srv: round.srv });
      return { ...round, attempts: attempt + 1 };
    }
    const delay = backoffDelay(retry, attempt);
    log('dns_members_missing', { attempt: attempt + 1, missing: round.missing, retryInMs: delay });
    await sleep(delay, opts.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new MembershipError('DISCOVERY_ABORTED', 'stopped while waiting for DNS'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
