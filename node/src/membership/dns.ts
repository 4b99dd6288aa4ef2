// DNS look-ups for membership and for the transport's re-resolution on every reconnect: either
// the system resolver, or a given server (CATGA_DNS_SERVER, `ip[:port]`) asked directly with no
// cache in between, so that a restarted pod's new address is seen at once.
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MembershipError } from './errors.js';

/** Per-query timeout and tries of the direct resolver (a wait loop retries on top of this). */
const QUERY_TIMEOUT_MS = 1000;
const QUERY_TRIES = 2;

export interface SrvTarget {
  readonly name: string;
  readonly port: number;
}

export interface PeerDns {
  /** Addresses of `host` (A records; the system resolver also gives AAAA); [] when it does not resolve (yet). */
  addresses(host: string): Promise<string[]>;
  /** SRV targets of `name`; [] when there are none. */
  srv(name: string): Promise<SrvTarget[]>;
}

/** Errors that mean "no such record (yet)" rather than a broken setup. */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED', 'EREFUSED', 'EAI_AGAIN', 'ENONAME']);

function notFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NOT_FOUND.has(code);
}

async function orEmpty<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if (notFound(err)) return [];
    throw err;
  }
}

/** A resolver for `dnsServer` (`ip` or `ip:port`, `[v6]:port`), or the system's when null. */
export function createPeerDns(dnsServer: string | null): PeerDns {
  if (dnsServer === null) {
    const system = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
    return {
      addresses: (host) => orEmpty(lookup(host, { all: true }).then((all) => all.map((a) => a.address))),
      srv: (name) => orEmpty(system.resolveSrv(name)),
    };
  }
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  try {
    resolver.setServers([dnsServer]);
  } catch (err) {
    throw new MembershipError('INVALID_DNS_SERVER', `CATGA_DNS_SERVER "${dnsServer}" is not ip[:port]: ${(err as Error).message}`);
  }
  return {
    addresses: (host) => orEmpty(resolver.resolve4(host)),
    srv: (name) => orEmpty(resolver.resolveSrv(name)),
  };
}

/**
 * The resolver the transport calls before every (re)connect: an IP passes through; a name
 * resolves to its first A record; a name without one rejects (the transport backs off and retries).
 */
export function hostResolver(dnsServer: string | null): (host: string) => Promise<string> {
  const dns = createPeerDns(dnsServer);
  return async (host) => {
    if (isIP(host) !== 0) return host;
    const [first] = await dns.addresses(host);
    if (first === undefined) throw Object.assign(new Error(`${host} does not resolve`), { code: 'ENOTFOUND' });
    return first;
  };
}
