// Who may do what on the HTTP API. A bearer token carries scopes (commands, queries, events,
// admin), each for every type or for some types. The admin token holds every scope. Open access
// (no token needed on the client routes) exists only when the node was started with it.
//
// CATGA_API_TOKENS is a comma-separated list of `token` or `token:rule+rule...`, where a rule is
// `scope` or `scope/type-pattern` and a pattern is a type name or a prefix ending in `*`:
//   app-token                                  commands, queries and events of every type
//   reporting:queries+events/orders.*          every query; events orders.* (publish, subscribe)
//   ops:admin                                  membership and leadership changes only
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { CatgaError } from '../common/errors.js';

export const SCOPES = ['commands', 'queries', 'events', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a token without rules may do (the meaning CATGA_API_TOKENS entries always had). */
const CLIENT_SCOPES: readonly Scope[] = ['commands', 'queries', 'events'];
/** Shortest token accepted: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 8;

const TOKEN_RE = /^[\x21-\x7e]+$/;
const PATTERN_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]*\*?$|^\*$/;

export interface ApiToken {
  readonly token: string;
  /** Scope → allowed type patterns (null: every type). */
  readonly rules: ReadonlyMap<Scope, readonly string[] | null>;
}

/** Parses CATGA_API_TOKENS entries; throws RangeError naming the bad entry (never the token). */
export function parseApiTokens(entries: readonly string[]): ApiToken[] {
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const token = colon < 0 ? entry : entry.slice(0, colon);
    if (token.length < MIN_TOKEN_LENGTH || !TOKEN_RE.test(token)) {
      throw new RangeError(`entry ${i + 1}: a token is at least ${MIN_TOKEN_LENGTH} printable characters without spaces`);
    }
    const rules = new Map<Scope, string[] | null>();
    if (colon < 0) {
      for (const scope of CLIENT_SCOPES) rules.set(scope, null);
      return { token, rules };
    }
    for (const rule of entry.slice(colon + 1).split('+')) {
      const slash = rule.indexOf('/');
      const scope = (slash < 0 ? rule : rule.slice(0, slash)) as Scope;
      if (!SCOPES.includes(scope)) throw new RangeError(`entry ${i + 1}: unknown scope "${scope}" (expected ${SCOPES.join(', ')})`);
      if (slash < 0) { rules.set(scope, null); continue; }
      const pattern = rule.slice(slash + 1);
      if (scope === 'admin') throw new RangeError(`entry ${i + 1}: the admin scope has no types`);
      if (!PATTERN_RE.test(pattern)) throw new RangeError(`entry ${i + 1}: "${pattern}" is not a type or a prefix ending in *`);
      const current = rules.get(scope);
      if (current === null) continue;
      rules.set(scope, [...(current ?? []), pattern]);
    }
    return { token, rules };
  });
}

function patternMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

function tokenMatches(given: Buffer, expected: string): boolean {
  const b = Buffer.from(expected);
  return given.length === b.length && timingSafeEqual(given, b);
}

/** The token of `Authorization: Bearer <token>`; null without the header, '' when malformed. */
export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : '';
}

/** One request's rights: what its token (or open access) allows. */
export interface Principal {
  /** May this principal do `scope` on `type`? A null type means every type of the scope. */
  allows(scope: Scope, type: string | null): boolean;
  /**
   * What its idempotency keys are prefixed with, so that two tokens never share a key: a digest
   * of the token (it goes into the log, the token must not), `admin`, or `open` without a token.
   */
  readonly keyScope: string;
}

const EVERYTHING: Principal = { allows: () => true, keyScope: 'admin' };
const OPEN_CLIENT: Principal = { allows: (scope) => scope !== 'admin', keyScope: 'open' };

function principalOf(token: ApiToken): Principal {
  return {
    keyScope: createHash('sha256').update(token.token).digest('base64url').slice(0, 16),
    allows(scope, type) {
      const patterns = token.rules.get(scope);
      if (patterns === undefined) return false;
      if (patterns === null) return true;
      return type !== null && patterns.some((p) => patternMatches(p, type));
    },
  };
}

export interface AccessOptions {
  readonly apiTokens: readonly ApiToken[];
  readonly adminToken: string | null;
  /** Client routes without a token (CATGA_OPEN_ACCESS); admin routes still want a token. */
  readonly openAccess: boolean;
}

export class Access {
  constructor(private readonly o: AccessOptions) {}

  /**
   * The principal of `req`, or the 401 to answer. With open access a request without a token is
   * an anonymous client; a request that shows a token is judged by it.
   */
  authenticate(req: IncomingMessage): Principal | CatgaError {
    const given = bearer(req);
    if (given === null) {
      if (this.o.openAccess) return OPEN_CLIENT;
      return new CatgaError('UNAUTHENTICATED', 'a bearer token is required (Authorization: Bearer <token>)', 401);
    }
    const bytes = Buffer.from(given);
    // Every token is compared, whichever matches, so the time taken does not tell which one did.
    let found: Principal | null = null;
    if (this.o.adminToken !== null && tokenMatches(bytes, this.o.adminToken)) found = EVERYTHING;
    for (const t of this.o.apiTokens) if (tokenMatches(bytes, t.token) && found === null) found = principalOf(t);
    return found ?? new CatgaError('UNAUTHENTICATED', 'the bearer token is not valid', 401);
  }

  /** Authenticates and checks one action: null when allowed, else the 401/403 to answer. */
  check(req: IncomingMessage, scope: Scope, type: string | null): CatgaError | null {
    if (scope === 'admin' && bearer(req) === null) {
      return new CatgaError('UNAUTHENTICATED', 'the admin routes want a token with the admin scope (Authorization: Bearer <token>)', 401);
    }
    const who = this.authenticate(req);
    if (who instanceof CatgaError) return who;
    return forbidden(who, scope, type);
  }
}

/** The 403 for an action the principal may not take, or null. */
export function forbidden(who: Principal, scope: Scope, type: string | null): CatgaError | null {
  if (who.allows(scope, type)) return null;
  if (scope === 'admin') return new CatgaError('FORBIDDEN', 'this token may not change the cluster', 403);
  const what = { commands: 'send command', queries: 'run query', events: 'publish or subscribe to event' }[scope];
  return new CatgaError('FORBIDDEN', type === null ? `this token has no ${scope} scope` : `this token may not ${what} ${type}`, 403);
}
