// Client of a node's admin API: the cluster view and membership/leadership changes, over HTTP or
// HTTPS (the endpoint's scheme). Over HTTPS the node's certificate must chain to the cluster's CA
// bundle and carry names the cluster's rule accepts. Every call is bounded by a timeout and a
// response size; failures carry a stable code.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';

/** A member as `GET /v1/cluster` reports it. */
export interface ClusterMember {
  readonly id: string;
  readonly address: string;
  readonly voter: boolean;
  readonly matchIndex: number;
  readonly healthy: boolean;
  /** The storage incarnation the configuration records for it (null: none, or an older node). */
  readonly incarnation: string | null;
}

/** One node's view of the cluster (`GET /v1/cluster` value). */
export interface ClusterView {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastLogIndex: number;
  /** The node's own storage incarnation: new when its volume was replaced (null from an older node). */
  readonly incarnation: string | null;
  readonly members: readonly ClusterMember[];
}

export interface NodeAdmin {
  getCluster(endpoint: string): Promise<ClusterView>;
  /**
   * Adds a learner (voter false) or promotes an existing learner (voter true); with `incarnation`,
   * replaces a member the configuration knows by another one (its volume was lost) by a learner.
   */
  addMember(endpoint: string, member: { id: string; address: string; voter: boolean; incarnation?: string }): Promise<void>;
  removeMember(endpoint: string, id: string): Promise<void>;
  transferLeadership(endpoint: string, to?: string): Promise<void>;
}

/** Bound of one admin call. */
export const ADMIN_CALL_TIMEOUT_MS = 3_000;
/** Bound of a response body read from a node. */
export const ADMIN_MAX_RESPONSE_BYTES = 1 << 20;

export class AdminApiError extends Error {
  constructor(readonly code: string, message: string, readonly status?: number) {
    super(message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a `GET /v1/cluster` value at the edge; inner code trusts ClusterView. */
export function parseClusterView(value: unknown): ClusterView {
  const bad = (what: string): never => {
    throw new AdminApiError('ADMIN_BAD_RESPONSE', `GET /v1/cluster: ${what}`);
  };
  if (!isObject(value)) return bad('value is not an object');
  const num = (k: string): number => (typeof value[k] === 'number' ? (value[k] as number) : bad(`${k} is not a number`));
  if (typeof value['id'] !== 'string') bad('id is not a string');
  if (typeof value['role'] !== 'string') bad('role is not a string');
  const leader = value['leader'];
  if (leader !== null && leader !== undefined && typeof leader !== 'string') bad('leader is not a string');
  if (!Array.isArray(value['members'])) bad('members is not an array');
  const members = (value['members'] as unknown[]).map((m): ClusterMember => {
    if (!isObject(m) || typeof m['id'] !== 'string') return bad('member without id');
    return {
      id: m['id'],
      address: typeof m['address'] === 'string' ? m['address'] : '',
      voter: m['voter'] === true,
      matchIndex: typeof m['matchIndex'] === 'number' ? m['matchIndex'] : 0,
      healthy: m['healthy'] !== false,
      incarnation: typeof m['incarnation'] === 'string' ? m['incarnation'] : null,
    };
  });
  return {
    id: value['id'] as string,
    role: value['role'] as string,
    term: num('term'),
    leader: typeof leader === 'string' && leader !== '' ? leader : null,
    commitIndex: num('commitIndex'),
    appliedIndex: num('appliedIndex'),
    lastLogIndex: num('lastLogIndex'),
    incarnation: typeof value['incarnation'] === 'string' ? value['incarnation'] : null,
    members,
  };
}

/** How the nodes of one cluster are trusted over HTTPS. */
export interface AdminTls {
  /** PEM bundle the nodes' certificates must chain to. */
  readonly ca: string;
  /** Whether a certificate with these DNS names may be a node of the cluster. */
  readonly acceptNames: (dnsNames: readonly string[]) => boolean;
}

function dnsNamesOf(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
}

/** Certificate verification failures (OpenSSL's codes and node's host name check). */
const TLS_VERIFY_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ADMIN_TLS/;

interface RawResponse {
  readonly status: number;
  readonly text: string;
}

export class HttpNodeAdmin implements NodeAdmin {
  constructor(
    private readonly adminToken: () => string | undefined,
    private readonly timeoutMs = ADMIN_CALL_TIMEOUT_MS,
    private readonly tls: AdminTls | null = null,
  ) {}

  async getCluster(endpoint: string): Promise<ClusterView> {
    return parseClusterView(await this.call(endpoint, 'GET', '/v1/cluster'));
  }

  async addMember(endpoint: string, member: { id: string; address: string; voter: boolean; incarnation?: string }): Promise<void> {
    await this.call(endpoint, 'POST', '/v1/cluster/members', member);
  }

  async removeMember(endpoint: string, id: string): Promise<void> {
    await this.call(endpoint, 'DELETE', `/v1/cluster/members/${encodeURIComponent(id)}`);
  }

  async transferLeadership(endpoint: string, to?: string): Promise<void> {
    await this.call(endpoint, 'POST', '/v1/cluster/transfer-leadership', to === undefined ? {} : { to });
  }

  private async call(endpoint: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.adminToken();
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let response: RawResponse;
    try {
      response = await this.send(new URL(`${endpoint}${path}`), method, headers, payload);
    } catch (err) {
      if (err instanceof AdminApiError) throw err;
      const code = String((err as { code?: unknown }).code ?? '');
      throw new AdminApiError(TLS_VERIFY_ERROR.test(code) ? 'ADMIN_TLS_UNTRUSTED' : 'ADMIN_UNREACHABLE', `${method} ${endpoint}${path}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = response.text === '' ? {} : JSON.parse(response.text);
    } catch {
      throw new AdminApiError('ADMIN_BAD_RESPONSE', `${method} ${path}: HTTP ${response.status}, not JSON`, response.status);
    }
    if (response.status < 200 || response.status > 299 || !isObject(parsed) || parsed['ok'] !== true) {
      const error = isObject(parsed) && isObject(parsed['error']) ? parsed['error'] : {};
      const code = typeof error['code'] === 'string' ? error['code'] : `HTTP_${response.status}`;
      throw new AdminApiError(code, `${method} ${path}: ${code} ${String(error['message'] ?? '')}`.trim(), response.status);
    }
    return parsed['value'];
  }

  private send(url: URL, method: string, headers: Record<string, string>, payload: string | undefined): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const common = { method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
      let req: ClientRequest;
      if (url.protocol === 'https:') {
        const tls = this.tls;
        if (tls === null) {
          reject(new AdminApiError('ADMIN_TLS_UNTRUSTED', `${method} ${url.href}: the node speaks HTTPS and no CA bundle is known for its cluster`));
          return;
        }
        req = httpsRequest(url, {
          ...common, ca: tls.ca,
          // The node is reached by pod IP; what identifies it is a name of the cluster's pods.
          checkServerIdentity: (_host, cert) => (tls.acceptNames(dnsNamesOf(cert)) ? undefined
            : Object.assign(new Error(`the certificate of ${url.host} names no member of the cluster (${dnsNamesOf(cert).join(', ')})`), { code: 'ADMIN_TLS_NAMES' })),
        });
      } else {
        req = httpRequest(url, common);
      }
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > ADMIN_MAX_RESPONSE_BYTES) {
            req.destroy();
            reject(new AdminApiError('ADMIN_BAD_RESPONSE', `${method} ${url.pathname}: response larger than ${ADMIN_MAX_RESPONSE_BYTES} bytes`, res.statusCode));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(payload);
    });
  }
}
