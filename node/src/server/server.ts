// The node's HTTP server (docs/api.md#routes). The hot routes (commands, queries, events, probes,
// metrics) are matched by hand on node:http — express's router costs more on this path (docs/measurements.md#http-router);
// the admin routes, where convenience matters more than speed, go through express.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerOptions as HttpServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { isIncarnation, MAX_INCARNATION_LENGTH } from '../raft/index.js';
import { CatgaError, asCatgaError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { commandRefusalStatus, queryRefusalStatus } from '../catga/result.js';
import type { ServerMetrics } from './metrics.js';
import { CONSISTENCIES, type CommandInput, type Consistency, type NodeApi } from './api.js';
import { ConnectionGuard } from './connection-guard.js';
import { streamBackup } from './backup-stream.js';
import type { BackupSource } from './api.js';
import { SubscriberBuffers } from './ws-buffers.js';
import { EventSubscriber, WS_CLOSE, type SubscriberHost } from './event-subscriber.js';
import { Access, forbidden, type ApiToken, type Principal, type Scope } from './auth.js';
import {
  checkJsonContentType, deadlineOf, errorBody, hasBody, okBody, readJson, sendError, sendJson,
} from './http-util.js';
import { NODE_ID_PATTERN } from '../membership/static-peers.js';

export interface ServerOptions {
  readonly api: NodeApi;
  readonly log: Logger;
  readonly metrics: ServerMetrics;
  readonly apiTokens: readonly ApiToken[];
  readonly adminToken: string | null;
  /** Client routes answer requests without a token (asked for explicitly, logged loudly). */
  readonly openAccess: boolean;
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** Most TCP connections at once (see connection-guard.ts). */
  readonly maxConnections: number;
  /** A connection must start its request (all of its headers) within this. */
  readonly headersTimeoutMs: number;
  /** A request must have arrived whole (headers and body) within this; else 408. */
  readonly bodyTimeoutMs: number;
  /** HTTPS and wss:// with this certificate and key; null: plain HTTP. */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly maxBatchCommands: number;
  /** Events sent to one subscriber but not yet written to its socket before it is closed as too slow. */
  readonly wsBacklogEvents: number;
  /** Event bytes written to all subscribers but not yet flushed, node-wide (see ws-buffers.ts). */
  readonly wsBufferBytes: number;
}

/** Longest command/query/event type name accepted in a path. */
export const MAX_TYPE_LENGTH = 128;
/** Longest Idempotency-Key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

const TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

function typeFromPath(raw: string): string {
  let t: string;
  try { t = decodeURIComponent(raw); } catch { throw new CatgaError('INVALID_TYPE', 'the type in the path is not valid percent-encoding', 400); }
  if (t.length === 0 || t.length > MAX_TYPE_LENGTH || !TYPE_RE.test(t)) {
    throw new CatgaError('INVALID_TYPE', `a type is 1-${MAX_TYPE_LENGTH} letters, digits, '.', '_', ':' or '-'`, 400);
  }
  return t;
}

function idempotencyKeyOf(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new CatgaError('INVALID_IDEMPOTENCY_KEY', `${where} must be a string of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 400);
  }
  return v;
}

/** A client's idempotency key within its token's scope (see auth.ts). */
function scopedKey(who: Principal, key: string | null): string | null {
  return key === null ? null : `${who.keyScope}:${key}`;
}

/** The consistency a request asks for; null when it names none (the query's declared default applies). */
function parseConsistency(v: string | null): Consistency | null {
  if (v === null || v === '') return null;
  if ((CONSISTENCIES as readonly string[]).includes(v)) return v as Consistency;
  throw new CatgaError('INVALID_CONSISTENCY', `consistency must be one of ${CONSISTENCIES.join(', ')}`, 400);
}

export class CatgaServer {
  private readonly o: ServerOptions;
  private readonly http: Server;
  /** The same server as `http` when the API speaks TLS. */
  private readonly tlsServer: TlsServer | null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private readonly admin: express.Express;
  private readonly sockets = new Set<WebSocket>();
  private readonly access: Access;
  private readonly guard: ConnectionGuard;

  private readonly subscriberHost: SubscriberHost;

  constructor(o: ServerOptions) {
    this.o = o;
    this.access = new Access({ apiTokens: o.apiTokens, adminToken: o.adminToken, openAccess: o.openAccess });
    if (o.openAccess) {
      o.log.warn('OPEN_ACCESS', { message: 'CATGA_OPEN_ACCESS is on: anyone who reaches this port may send commands, run queries, publish and subscribe without a token. Use it only on a trusted machine (catga dev).' });
    }
    this.subscriberHost = {
      api: o.api, metrics: o.metrics, buffers: new SubscriberBuffers(o.wsBufferBytes), wss: this.wss, sockets: this.sockets, backlogLimit: o.wsBacklogEvents,
    };
    this.admin = this.buildAdmin();
    const options: HttpServerOptions = {
      keepAliveTimeout: 65_000,
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.bodyTimeoutMs,
      // How often node:http looks for requests over those times (its default, 30 s, would let a
      // slow request run that much longer).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(o.headersTimeoutMs / 4)),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.guard.requestStarted(req);
      res.once('finish', () => this.guard.requestFinished(req));
      this.route(req, res);
    };
    // With TLS the guard counts sockets once their TLS handshake is done (the request's socket);
    // the TLS handshake itself is bounded by the headers timeout and the TCP count by the cap.
    this.tlsServer = o.tls === null ? null : createTlsServer({ ...options, cert: o.tls.cert, key: o.tls.key, handshakeTimeout: o.headersTimeoutMs }, onRequest);
    this.http = this.tlsServer ?? createServer(options, onRequest);
    if (o.tls !== null) this.http.maxConnections = o.maxConnections;
    this.guard = new ConnectionGuard({
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.headersTimeoutMs,
      onClosed: (reason) => o.metrics.httpConnectionsClosed.inc({ reason }),
    });
    this.guard.attach(this.http, o.tls === null ? 'connection' : 'secureConnection');
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return void socket.destroy();
      const [status, code, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', 'REQUEST_TIMEOUT', `the request did not arrive whole within ${o.bodyTimeoutMs} ms`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? ['431 Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers are too large']
          : ['400 Bad Request', 'BAD_REQUEST', 'malformed HTTP request'];
      const body = errorBody(code, message);
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const addr = this.http.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  /** New connections get this certificate; established ones keep theirs (a rotated certificate reloaded from disk). */
  setTls(m: { readonly cert: string; readonly key: string }): void {
    assert.ok(this.tlsServer !== null, 'setTls on a server started without TLS');
    this.tlsServer.setSecureContext({ cert: m.cert, key: m.key });
  }

  /** Stops accepting connections; closes subscribers with 1001 and idle keep-alive sockets. */
  async close(): Promise<void> {
    for (const ws of this.sockets) ws.close(WS_CLOSE.SHUTTING_DOWN, 'node shutting down');
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeIdleConnections();
    setTimeout(() => this.http.closeAllConnections(), 2_000).unref();
    await closed;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';

    if (path.startsWith('/v1/commands')) {
      if (method !== 'POST') return this.methodNotAllowed(res, 'POST');
      if (path === '/v1/commands') return void this.batch(req, res);
      if (path.startsWith('/v1/commands/')) return void this.command(req, res, path.slice(13));
    } else if (path.startsWith('/v1/queries/')) {
      if (method !== 'POST') return this.methodNotAllowed(res, 'POST');
      return void this.query(req, res, path.slice(12), q < 0 ? null : new URLSearchParams(url.slice(q + 1)));
    } else if (path.startsWith('/v1/events')) {
      if (path === '/v1/events') {
        if (method !== 'GET') return this.methodNotAllowed(res, 'GET');
        return sendJson(res, 426, errorBody('UPGRADE_REQUIRED', 'GET /v1/events is a WebSocket endpoint'), { upgrade: 'websocket' });
      }
      if (path.startsWith('/v1/events/')) {
        if (method !== 'POST') return this.methodNotAllowed(res, 'POST');
        return void this.publish(req, res, path.slice(11));
      }
    } else if (path === '/v1/openapi.json') {
      if (method !== 'GET') return this.methodNotAllowed(res, 'GET');
      return this.openapi(req, res);
    } else if (path === '/v1/cluster' || path.startsWith('/v1/cluster/') || path.startsWith('/v1/admin/')) {
      return void this.admin(req, res);
    } else if (path === '/healthz') {
      return this.healthz(res, q < 0 ? null : new URLSearchParams(url.slice(q + 1)));
    } else if (path === '/readyz') {
      return this.readyz(res, q < 0 ? null : new URLSearchParams(url.slice(q + 1)));
    } else if (path === '/metrics') {
      return void this.metricsRoute(res);
    }
    sendJson(res, 404, errorBody('NOT_FOUND', `no route ${method} ${path}`));
  }

  /** The OpenAPI document itself (not wrapped in {ok, value}: tools read it as it is), for any authenticated caller. */
  private openapi(req: IncomingMessage, res: ServerResponse): void {
    const who = this.access.authenticate(req);
    if (who instanceof CatgaError) return sendError(res, who);
    sendJson(res, 200, this.o.api.openapi());
  }

  /** Liveness: always 200 while the process answers. `?detail` adds this node's role and whether it sees a quorum. */
  private healthz(res: ServerResponse, query: URLSearchParams | null): void {
    const appliedIndex = this.o.api.readiness().appliedIndex;
    if (query?.has('detail') !== true) return sendJson(res, 200, okBody('alive', appliedIndex));
    const { role, term, leader, quorum } = this.o.api.cluster();
    sendJson(res, 200, okBody({ alive: true, role, term, leader, quorum }, appliedIndex));
  }

  private methodNotAllowed(res: ServerResponse, allow: string): void {
    sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', `use ${allow}`), { allow });
  }

  /**
   * Shared prologue of client routes: shutdown, authentication and (for a route with one type)
   * authorization, the JSON content type, deadline, body. Nothing of the body is read before the
   * request is known to be allowed.
   */
  private async begin(req: IncomingMessage, query: URLSearchParams | null, scope: Scope, type: string | null): Promise<{ body: unknown; deadline: number; who: Principal }> {
    if (this.o.api.isShuttingDown()) throw new CatgaError('SHUTTING_DOWN', 'the node is shutting down', 503);
    const who = this.access.authenticate(req);
    const denied = who instanceof CatgaError ? who : type === null ? null : forbidden(who, scope, type);
    const refused = denied ?? checkJsonContentType(req);
    if (refused !== null) { req.resume(); throw refused; }
    const deadline = deadlineOf(req, query, this.o.requestTimeoutMs, Date.now());
    const body = await readJson(req, this.o.maxBodyBytes);
    return { body, deadline, who: who as Principal };
  }

  private fail(res: ServerResponse, err: unknown): void {
    const e = asCatgaError(err);
    if (e.status >= 500 && e.code === 'INTERNAL') this.o.log.error('request_failed', { err });
    sendError(res, e);
  }

  private async command(req: IncomingMessage, res: ServerResponse, rawType: string): Promise<void> {
    const started = process.hrtime.bigint();
    let type = 'invalid';
    let outcome = 'error';
    try {
      type = typeFromPath(rawType);
      const key = idempotencyKeyOf(req.headers['idempotency-key'], 'the Idempotency-Key header');
      const { body, deadline, who } = await this.begin(req, null, 'commands', type);
      const { index, outcomes } = await this.o.api.commands([{ type, payload: body, idempotencyKey: scopedKey(who, key) }], deadline, who);
      const r = outcomes[0]!;
      if (r.ok) { outcome = 'ok'; sendJson(res, 200, okBody(r.value, r.index ?? index)); }
      else { outcome = 'refused'; sendJson(res, commandRefusalStatus(r.error.code), errorBody(r.error.code, r.error.message)); }
    } catch (err) {
      outcome = asCatgaError(err).code === 'UNKNOWN_COMMAND' ? 'unknown' : 'error';
      this.fail(res, err);
    } finally {
      this.o.metrics.commandDuration.observe({ type: this.o.metrics.typeLabels.command(type), outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async batch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const { body, deadline, who } = await this.begin(req, null, 'commands', null);
      const list = (body as { commands?: unknown } | null)?.commands;
      if (!Array.isArray(list)) throw new CatgaError('INVALID_BATCH', 'the body must be {"commands": [{"type", "payload", "idempotencyKey?"}, ...]}', 400);
      if (list.length === 0) throw new CatgaError('INVALID_BATCH', 'the batch is empty', 400);
      if (list.length > this.o.maxBatchCommands) {
        throw new CatgaError('BATCH_TOO_LARGE', `a batch holds at most ${this.o.maxBatchCommands} commands, got ${list.length}`, 413);
      }
      const inputs: CommandInput[] = list.map((c: unknown, i: number) => {
        if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new CatgaError('INVALID_BATCH', `commands[${i}] must be an object`, 400);
        const o = c as { type?: unknown; payload?: unknown; idempotencyKey?: unknown };
        if (typeof o.type !== 'string') throw new CatgaError('INVALID_BATCH', `commands[${i}].type must be a string`, 400);
        const type = typeFromPath(o.type);
        const denied = forbidden(who, 'commands', type);
        if (denied !== null) throw denied;
        return { type, payload: o.payload ?? {}, idempotencyKey: scopedKey(who, idempotencyKeyOf(o.idempotencyKey, `commands[${i}].idempotencyKey`)) };
      });
      const { index, outcomes } = await this.o.api.commands(inputs, deadline, who);
      outcome = 'ok';
      sendJson(res, 200, okBody(outcomes, index));
    } catch (err) {
      this.fail(res, err);
    } finally {
      this.o.metrics.commandDuration.observe({ type: 'batch', outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async query(req: IncomingMessage, res: ServerResponse, rawType: string, query: URLSearchParams | null): Promise<void> {
    const started = process.hrtime.bigint();
    let type = 'invalid';
    let consistency: Consistency = 'local';
    try {
      type = typeFromPath(rawType);
      const requested = parseConsistency((req.headers['consistency'] as string | undefined) ?? query?.get('consistency') ?? null);
      if (requested !== null) consistency = requested;
      const { body, deadline, who } = await this.begin(req, query, 'queries', type);
      const served = await this.o.api.query(type, body, requested, deadline, who);
      const { index, outcome } = served;
      consistency = served.consistency;
      if (outcome.ok) sendJson(res, 200, okBody(outcome.value, index));
      else sendJson(res, queryRefusalStatus(outcome.error.code), errorBody(outcome.error.code, outcome.error.message));
    } catch (err) {
      this.fail(res, err);
    } finally {
      this.o.metrics.queryDuration.observe({ type: this.o.metrics.typeLabels.query(type), consistency }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async publish(req: IncomingMessage, res: ServerResponse, rawType: string): Promise<void> {
    try {
      const type = typeFromPath(rawType);
      const { body, deadline } = await this.begin(req, null, 'events', type);
      const { index } = await this.o.api.publish(type, body, deadline);
      sendJson(res, 200, okBody(null, index));
    } catch (err) {
      this.fail(res, err);
    }
  }

  private readyz(res: ServerResponse, query: URLSearchParams | null): void {
    const r = this.o.api.readiness();
    if (query?.has('leader')) {
      if (r.isLeader) sendJson(res, 200, okBody('leader', r.appliedIndex));
      else sendJson(res, 503, errorBody('NOT_LEADER', 'this node is not the leader'));
      return;
    }
    if (r.ready) sendJson(res, 200, okBody(r.reason, r.appliedIndex));
    else sendJson(res, 503, errorBody('NOT_READY', r.reason));
  }

  private async metricsRoute(res: ServerResponse): Promise<void> {
    try {
      this.o.metrics.httpConnections.set(this.guard.open);
      const m = await this.o.api.metrics();
      res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(m.body) });
      res.end(m.body);
    } catch (err) {
      this.fail(res, err);
    }
  }

  // ---- WebSocket event stream ------------------------------------------------------------------

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.guard.upgraded(socket);
    const refuse = (e: CatgaError): void => {
      const body = errorBody(e.code, e.message);
      socket.end(`HTTP/1.1 ${e.status} ${e.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://node');
      if (url.pathname !== '/v1/events') throw new CatgaError('NOT_FOUND', `no WebSocket endpoint at ${url.pathname}`, 404);
      if (this.o.api.isShuttingDown()) throw new CatgaError('SHUTTING_DOWN', 'the node is shutting down', 503);
      const who = this.access.authenticate(req);
      if (who instanceof CatgaError) throw who;
      const fromRaw = url.searchParams.get('from');
      let from: number | null = null;
      if (fromRaw !== null) {
        from = Number(fromRaw);
        if (!Number.isSafeInteger(from) || from < 0) throw new CatgaError('INVALID_FROM', '?from must be a non-negative integer log index', 400);
      }
      const typesRaw = url.searchParams.get('types');
      const types = typesRaw === null ? null : new Set(typesRaw.split(',').map((t) => t.trim()).filter((t) => t.length > 0));
      if (types !== null && types.size === 0) throw new CatgaError('INVALID_TYPES', '?types must list at least one event type', 400);
      for (const type of types ?? [null]) {
        const denied = forbidden(who, 'events', type);
        if (denied !== null) throw denied;
      }

      const subscriber = new EventSubscriber(this.subscriberHost, socket);
      subscriber.subscribe(from, types);
      subscriber.accept(req, head);
    } catch (err) {
      refuse(asCatgaError(err));
    }
  }

  // ---- admin routes (express) ------------------------------------------------------------------

  /**
   * `GET /v1/cluster?watch=1&since=<version>`: a long poll. Answers the view with its `version` once
   * it passes `since` (at once without `since`, or when it already has), or at the request's
   * deadline (Request-Timeout or ?timeout=) with the version unchanged.
   */
  private async watchCluster(req: express.Request, res: express.Response): Promise<void> {
    const params = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
    if (params.get('watch') !== '1') throw new CatgaError('INVALID_WATCH', 'watch must be 1', 400);
    const sinceText = params.get('since');
    const since = sinceText === null ? -1 : Number(sinceText);
    if (!Number.isSafeInteger(since) || since < -1) throw new CatgaError('INVALID_WATCH', 'since must be a version: an integer from 0', 400);
    const deadline = deadlineOf(req, params, this.o.requestTimeoutMs, Date.now());
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const { version, changed } = await this.o.api.watchCluster(since, deadline, gone.signal);
    if (gone.signal.aborted) return;
    const view = this.o.api.cluster();
    sendJson(res, 200, okBody({ ...view, version, changed }, view.commitIndex));
  }

  private buildAdmin(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    const api = this.o.api;
    const guard: express.RequestHandler = (req, _res, next) => {
      const denied = this.access.check(req, 'admin', null) ?? (hasBody(req) ? checkJsonContentType(req) : null);
      next(denied ?? undefined);
    };
    const deadline = (req: express.Request) => deadlineOf(req, null, this.o.requestTimeoutMs, Date.now());
    app.get('/v1/cluster', (req, res, next) => {
      const who = this.access.authenticate(req);
      if (who instanceof CatgaError) return next(who);
      if (req.query['watch'] === undefined) return sendJson(res, 200, okBody(api.cluster(), api.cluster().commitIndex));
      void this.watchCluster(req, res).catch(next);
    });
    app.get('/v1/cluster/state', guard, async (_req, res, next) => {
      try {
        const view = await api.state();
        sendJson(res, 200, okBody(view, view.appliedIndex));
      } catch (e) { next(e); }
    });
    app.post('/v1/cluster/members', guard, express.json({ limit: 16 * 1024, strict: true }), async (req, res, next) => {
      try {
        const b = (req.body ?? {}) as { id?: unknown; address?: unknown; voter?: unknown; incarnation?: unknown };
        if (typeof b.id !== 'string' || !NODE_ID_PATTERN.test(b.id)) throw new CatgaError('INVALID_MEMBER', 'id must be 1-63 letters, digits, ".", "_" or "-"', 400);
        if (typeof b.address !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(b.address)) throw new CatgaError('INVALID_MEMBER', 'address must be host:port (the peer port)', 400);
        if (b.voter !== undefined && typeof b.voter !== 'boolean') throw new CatgaError('INVALID_MEMBER', 'voter must be a boolean', 400);
        if (b.incarnation !== undefined && !isIncarnation(b.incarnation)) throw new CatgaError('INVALID_MEMBER', `incarnation must be a string of 1 to ${MAX_INCARNATION_LENGTH} characters`, 400);
        const r = await api.addMember(b.id, b.address, b.voter === true, deadline(req), b.incarnation);
        sendJson(res, 200, okBody(api.cluster().members, r.index));
      } catch (e) { next(e); }
    });
    app.delete('/v1/cluster/members/:id', guard, async (req, res, next) => {
      try {
        const r = await api.removeMember(String(req.params['id']), deadline(req));
        sendJson(res, 200, okBody(api.cluster().members, r.index));
      } catch (e) { next(e); }
    });
    app.post('/v1/cluster/transfer-leadership', guard, express.json({ limit: 16 * 1024, strict: true }), async (req, res, next) => {
      try {
        const to = (req.body as { to?: unknown } | undefined)?.to;
        if (to !== undefined && to !== null && typeof to !== 'string') throw new CatgaError('INVALID_MEMBER', 'to must be a member id', 400);
        const r = await api.transferLeadership(typeof to === 'string' ? to : null, deadline(req));
        sendJson(res, 200, okBody(r, api.cluster().commitIndex));
      } catch (e) { next(e); }
    });
    app.get('/v1/admin/backup', guard, async (_req, res, next) => {
      let source: BackupSource;
      try { source = api.backup(); } catch (e) { return next(e); }
      try {
        await streamBackup(source, res);
      } catch (err) {
        // Headers are out: the client sees a body without its end frame and discards it.
        this.o.log.warn('backup_stream_failed', { index: source.header.index, err });
        res.destroy();
      } finally {
        source.close();
      }
    });
    app.use((req, res) => sendJson(res, 404, errorBody('NOT_FOUND', `no route ${req.method} ${req.path}`)));
    const onError: express.ErrorRequestHandler = (err, _req, res, _next) => {
      const e = err as { type?: string; status?: number; message?: string };
      if (e.type === 'entity.parse.failed') return sendError(res, new CatgaError('INVALID_JSON', `request body is not valid JSON: ${e.message}`, 400));
      if (e.type === 'entity.too.large') return sendError(res, new CatgaError('BODY_TOO_LARGE', 'request body too large', 413));
      this.fail(res, err);
    };
    app.use(onError);
    return app;
  }
}
