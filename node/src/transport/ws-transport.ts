// The PeerTransport over WebSocket: listens on the peer port, keeps one outbound link per peer
// (following setPeers), accepts and authenticates inbound connections, and routes what arrives
// to the Raft message handler and the request handlers.
import assert from 'node:assert';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Message, NodeId } from '../raft/types.js';
import { parseHostPort } from './address.js';
import type { TransportContext } from './context.js';
import { PEER_PATH } from './context.js';
import { PeerError } from './errors.js';
import { CLOSE_CODES, CLOSE_GOING_AWAY } from './handshake.js';
import { InboundConnection, type InboundHost, type RequestHandler } from './inbound-connection.js';
import { OutboundLink, type LinkStats } from './outbound-link.js';
import type { PeerTransport } from './types.js';
import type { TlsMaterial } from './tls.js';

export class WsPeerTransport implements PeerTransport, InboundHost {
  private state: 'new' | 'started' | 'closed' = 'new';
  private http: Server | null = null;
  /** The same server as `http` when the peer port speaks TLS. */
  private tlsServer: TlsServer | null = null;
  private wss: WebSocketServer | null = null;
  /** Every TCP connection to the peer port, upgraded or not, so close() can end them all. */
  private readonly sockets = new Set<Socket>();
  private readonly links = new Map<NodeId, OutboundLink>();
  /** Every inbound socket until it closes; the authenticated ones also by peer (one per peer). */
  private readonly inbound = new Set<InboundConnection>();
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  private messageHandler: ((msg: Message) => void) | null = null;
  private readonly requestHandlers = new Map<string, RequestHandler>();
  /** Closes in progress of links and connections we let go, awaited by close(). */
  private readonly closing = new Set<Promise<void>>();

  constructor(
    readonly ctx: TransportContext,
    private readonly listenHost: string,
    private readonly listenPort: number,
  ) {}

  async start(): Promise<void> {
    assert(this.state === 'new', 'start() called twice');
    const limits = this.ctx.limits;
    const onRequest = (_req: unknown, res: import('node:http').ServerResponse): void => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('catga peer port: WebSocket only\n');
    };
    const tls = this.ctx.tls;
    // With TLS, only a dialer whose certificate chains to the cluster's CA gets past the TLS
    // handshake; inbound-connection.ts then checks that the certificate names the claimed id.
    this.tlsServer = tls === null
      ? null
      : createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, handshakeTimeout: limits.handshakeTimeoutMs }, onRequest);
    const http: Server = this.tlsServer ?? createServer(onRequest);
    // A connection that never finishes its HTTP upgrade is cut off like a stalled handshake.
    http.headersTimeout = limits.handshakeTimeoutMs;
    http.requestTimeout = limits.handshakeTimeoutMs;
    http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    const wss = new WebSocketServer({
      server: http,
      path: PEER_PATH,
      perMessageDeflate: false,
      maxPayload: limits.maxFrameBytes,
      clientTracking: false,
    });
    this.http = http;
    this.wss = wss;
    // ws re-emits the HTTP server's errors (EADDRINUSE too): without a listener they would throw.
    wss.on('error', (err: Error) => this.ctx.log('peer_server_error', { error: err.message }));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.listenPort, this.listenHost, () => {
        http.off('error', reject);
        resolve();
      });
    });
    wss.on('connection', (ws, req) => this.accept(ws, req.socket));
    this.state = 'started';
    this.ctx.log('peer_listening', { host: this.listenHost, port: this.port });
    for (const link of this.links.values()) link.start();
  }

  /**
   * New peer connections, both ways, use `m` (a rotated certificate or CA bundle reloaded from
   * disk); established links keep their session and stay up.
   */
  setTls(m: TlsMaterial): void {
    assert(this.ctx.tls !== null, 'setTls on a transport started without TLS');
    this.ctx.tls = m;
    this.tlsServer?.setSecureContext({ cert: m.cert, key: m.key, ca: m.ca });
  }

  /** The bound peer port (useful with listenPort 0). */
  get port(): number {
    assert(this.http !== null, 'transport not started');
    return (this.http.address() as AddressInfo).port;
  }

  setPeers(addresses: Readonly<Record<NodeId, string>>): void {
    if (this.state === 'closed') return;
    for (const [peer, link] of this.links) {
      if (addresses[peer] !== link.address) this.dropPeer(peer, link);
    }
    for (const [peer, address] of Object.entries(addresses)) {
      if (peer === this.ctx.id || this.links.has(peer)) continue;
      if (parseHostPort(address) === null) {
        this.ctx.log('peer_bad_address', { peer, address }); // messages to it are dropped and counted
        continue;
      }
      const link = new OutboundLink(this.ctx, peer, address);
      this.links.set(peer, link);
      if (this.state === 'started') link.start();
    }
  }

  send(msg: Message): void {
    const link = this.links.get(msg.to);
    if (link === undefined || !link.enqueueMessage(msg)) this.ctx.metrics.onDrop?.(msg.to, 1);
  }

  onMessage(handler: (msg: Message) => void): void {
    this.messageHandler = handler;
  }

  request(to: NodeId, kind: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const link = this.links.get(to);
    if (link === undefined) {
      return Promise.reject(new PeerError('PEER_UNAVAILABLE', `${to} is not a known peer`, to));
    }
    return link.request(kind, payload, timeoutMs);
  }

  onRequest(kind: string, handler: RequestHandler): void {
    this.requestHandlers.set(kind, handler);
  }

  /** Connection state and queue usage towards one peer; null for an unknown peer. */
  peerStats(peer: NodeId): LinkStats | null {
    return this.links.get(peer)?.stats() ?? null;
  }

  /** Peers we currently have an authenticated outbound connection to. */
  connectedPeers(): NodeId[] {
    return [...this.links.values()].filter((link) => link.connected).map((link) => link.peer);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const http = this.http;
    this.wss?.close();
    for (const link of this.links.values()) this.track(link.close());
    this.links.clear();
    for (const conn of this.inbound) this.track(conn.close(CLOSE_GOING_AWAY, 'shutting down'));
    const httpClosed = new Promise<void>((resolve) => (http === null ? resolve() : http.close(() => resolve())));
    while (this.closing.size > 0) await Promise.all([...this.closing]);
    // What is left never upgraded (or never finished closing): cut it off.
    for (const socket of this.sockets) socket.destroy();
    await httpClosed;
    this.ctx.log('peer_transport_closed', {});
  }

  // ---- InboundHost ---------------------------------------------------------------------------

  authenticated(conn: InboundConnection): void {
    const previous = this.inboundByPeer.get(conn.peer);
    this.inboundByPeer.set(conn.peer, conn);
    if (previous !== undefined) this.track(previous.close(CLOSE_CODES.replaced, 'replaced by a newer connection'));
    this.ctx.log('inbound_connected', { peer: conn.peer, remoteAddress: conn.remoteAddress });
  }

  closed(conn: InboundConnection): void {
    this.inbound.delete(conn);
    if (this.inboundByPeer.get(conn.peer) === conn) this.inboundByPeer.delete(conn.peer);
  }

  deliver(msg: Message): void {
    this.messageHandler?.(msg);
  }

  requestHandler(kind: string): RequestHandler | undefined {
    return this.requestHandlers.get(kind);
  }

  // ---- internals -----------------------------------------------------------------------------

  private accept(ws: WebSocket, socket: Socket): void {
    if (this.state !== 'started') {
      ws.terminate();
      return;
    }
    let handshaking = 0;
    for (const conn of this.inbound) if (conn.authenticatedPeer === null) handshaking++;
    const conn = new InboundConnection(this, ws, socket, socket.remoteAddress ?? '');
    this.inbound.add(conn);
    if (handshaking >= this.ctx.limits.maxPendingHandshakes) {
      this.ctx.metrics.onHandshakeRejected?.('too_many_handshakes', 'inbound');
      this.track(conn.close(CLOSE_CODES.too_many_handshakes, 'too many handshakes'));
    }
  }

  /** Forgets a peer that left the configuration (or moved): its link and its inbound connection. */
  private dropPeer(peer: NodeId, link: OutboundLink): void {
    this.links.delete(peer);
    this.track(link.close());
    const conn = this.inboundByPeer.get(peer);
    if (conn !== undefined) this.track(conn.close(CLOSE_GOING_AWAY, 'removed from the configuration'));
  }

  private track(closing: Promise<void>): void {
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
  }
}
