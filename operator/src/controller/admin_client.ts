// Client of a node's admin API (docs/api.md#cluster-and-admin-routes): the cluster view and membership/leadership
// changes. Every call is bounded by a timeout; failures carry a stable code.

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

export class HttpNodeAdmin implements NodeAdmin {
  constructor(private readonly adminToken: () => string | undefined, private readonly timeoutMs = ADMIN_CALL_TIMEOUT_MS) {}

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
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${endpoint}${path}`, {
        method, headers, signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new AdminApiError('ADMIN_UNREACHABLE', `${method} ${endpoint}${path}: ${(err as Error).message}`);
    }
    const text = await response.text();
    if (text.length > ADMIN_MAX_RESPONSE_BYTES) {
      throw new AdminApiError('ADMIN_BAD_RESPONSE', `${method} ${path}: response larger than ${ADMIN_MAX_RESPONSE_BYTES} bytes`, response.status);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new AdminApiError('ADMIN_BAD_RESPONSE', `${method} ${path}: HTTP ${response.status}, not JSON`, response.status);
    }
    if (!response.ok || !isObject(parsed) || parsed['ok'] !== true) {
      const error = isObject(parsed) && isObject(parsed['error']) ? parsed['error'] : {};
      const code = typeof error['code'] === 'string' ? error['code'] : `HTTP_${response.status}`;
      throw new AdminApiError(code, `${method} ${path}: ${code} ${String(error['message'] ?? '')}`.trim(), response.status);
    }
    return parsed['value'];
  }
}
