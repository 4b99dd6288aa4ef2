// One peer's outbound side: the long-lived connection we dial to it, the bounded send queue that
// feeds it, the handshake as the dialer, reconnects with backoff, and the requests awaiting answers
// on it. Everything we send to that peer (Raft messages and requests) goes on this connection, in
// order; only request answers come back on it.
import type { ConnectionOptions } from 'node:tls';
import assert from 'node:assert';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import type { Message, NodeId } from '../raft/types.js';
import { backoffDelay } from './backoff.js';
import type { ByteReader } from './bytes.js';
import { ByteWriter } from './bytes.js';
import { encodeMessageInto } from './codec.js';
import type { TransportContext } from './context.js';
import { PEER_PATH } from './context.js';
import { CodecError, PeerError } from './errors.js';
import { receivePeerMessage, type PeerConnectionEnd } from './peer-messages.js';
import {
  beginRecord,
  endRecord,
  MAX_KIND_BYTES,
  nextBatch,
  readResponse,
  singleRecord,
  TAG_RESPONSE,
  writeRequest,
} from './frames.js';
import type { HandshakeRejectReason } from './handshake.js';
import { watchPreAuthBytes, type PreAuthBudget } from './pre-auth-budget.js';
import { certificateNames, PEER_NOT_NAMED, tlsRejectReason } from './tls.js';
import {
  CLOSE_CODES,
  CLOSE_GOING_AWAY,
  computeProof,
  newNonce,
  PROTOCOL_VERSION,
  proofMatches,
  readChallenge,
  readWelcome,
  rejectReasonOfCloseCode,
  writeAuth,
  writeHello,
} from './handshake.js';
import { formatHostPort, parseHostPort, type HostPort } from './address.js';
import { Liveness } from './liveness.js';
import { closeWithin } from './socket-close.js';

/** The send queue's buffer starts at this size, and is given back when it grew beyond the other. */
const QUEUE_INITIAL_BYTES = 16 * 1024;
const QUEUE_RETAINED_BYTES = 1024 * 1024;

type LinkState =
  | 'idle' // created, transport not started
  | 'resolving' // looking up the peer's host name
  | 'challenge' // socket dialed, HELLO sent when open, awaiting CHALLENGE
  | 'welcome' // AUTH sent, awaiting WELCOME
  | 'open'
  | 'backoff' // waiting to redial
  | 'closed';

interface PendingRequest {
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (err: PeerError) => void;
  readonly timer: NodeJS.Timeout;
}

export interface LinkStats {
  readonly state: LinkState;
  readonly queuedRecords: number;
  /** Bytes queued here plus bytes handed to the socket and not yet written to the kernel. */
  readonly queuedBytes: number;
  readonly outstandingRequests: number;
  readonly sentFrames: number;
}

/** Frames from the client side carry a zero mask: masking protects browsers' proxies, not peers. */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export class OutboundLink implements PeerConnectionEnd {
  private state: LinkState = 'idle';
  private readonly target: HostPort;
  private ws: WebSocket | null = null;
  /** Bumped per connection attempt: callbacks of older attempts see a stale value and stop. */
  private attemptId = 0;
  private failures = 0;
  private handshakeTimer: NodeJS.Timeout | null = null;
  /** Counts what the listener sends until WELCOME; null outside a handshake. */
  private preAuthBudget: PreAuthBudget | null = null;
  private redialTimer: NodeJS.Timeout | null = null;
  private liveness: Liveness | null = null;
  private dialerNonce: Uint8Array = Buffer.alloc(0);

  /** Records not yet handed to the socket, back to back as they go on the wire. */
  private readonly queue = new ByteWriter(QUEUE_INITIAL_BYTES);
  private queuedRecords = 0;
  /** Handed to the socket, write not yet completed: still our memory. */
  private inflightBytes = 0;
  private inflightRecords = 0;
  /** Of the records queued or in flight, how many are Raft messages (what a lost connection drops). */
  private queuedRaft = 0;
  private inflightRaft = 0;
  /** Of the bytes queued or in flight, those of records larger than a batch (each alone in its frame). */
  private queuedLargeBytes = 0;
  private inflightLargeBytes = 0;
  private flushHandle: NodeJS.Immediate | null = null;
  private sentFrames = 0;

  private nextRequestId = 1;
  private readonly requests = new Map<number, PendingRequest>();

  constructor(
    private readonly ctx: TransportContext,
    readonly peer: NodeId,
    readonly address: string,
  ) {
    const target = parseHostPort(address);
    assert(target !== null, `peer ${peer}: bad address ${address}`);
    this.target = target;
  }

  start(): void {
    if (this.state === 'idle') this.dial();
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  stats(): LinkStats {
    return {
      state: this.state,
      queuedRecords: this.queuedRecords + this.inflightRecords,
      queuedBytes: this.queue.pos + this.inflightBytes,
      outstandingRequests: this.requests.size,
      sentFrames: this.sentFrames,
    };
  }

  /** Queues a Raft message; false when it was dropped (not connected or queue full). */
  enqueueMessage(msg: Message): boolean {
    if (!this.accepting() || this.queuedRecords + this.inflightRecords >= this.ctx.limits.maxQueuedMessages) return false;
    const w = this.queue;
    const start = w.pos;
    const body = beginRecord(w);
    try {
      encodeMessageInto(w, msg);
    } catch (err) {
      w.truncate(start); // an invalid message must not leave half a record in the queue
      throw err;
    }
    if (!this.admit(start, endRecord(w, body))) return false;
    this.queuedRaft++;
    return true;
  }

  request(kind: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const limits = this.ctx.limits;
    assert(Buffer.byteLength(kind) <= MAX_KIND_BYTES, `request kind longer than ${MAX_KIND_BYTES} bytes`);
    if (!this.accepting()) return this.fail('PEER_UNAVAILABLE', `not connected to ${this.peer} (${this.state})`);
    if (this.requests.size >= limits.maxOutstandingRequests || this.queuedRecords + this.inflightRecords >= limits.maxQueuedMessages) {
      return this.fail('PEER_OVERLOADED', `too many outstanding requests to ${this.peer}`);
    }
    const id = this.nextRequestId++;
    const w = this.queue;
    const start = w.pos;
    const body = beginRecord(w);
    writeRequest(w, id, kind, payload);
    const size = endRecord(w, body);
    if (!this.admit(start, size)) {
      return size > limits.maxFrameBytes
        ? this.fail('PAYLOAD_TOO_LARGE', `request of ${size} bytes exceeds maxFrameBytes`)
        : this.fail('PEER_OVERLOADED', `send queue to ${this.peer} is full`);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new PeerError('PEER_TIMEOUT', `no answer from ${this.peer} to ${kind} within ${timeoutMs} ms`, this.peer));
      }, timeoutMs);
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  /** Stops for good: cancels every timer, fails outstanding requests, closes the socket. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const ws = this.ws;
    this.disconnect('closed', 'link closed');
    if (ws !== null) await closeWithin(ws, CLOSE_GOING_AWAY, 'closing', this.ctx.limits.closeGraceMs);
  }

  // ---- send queue -------------------------------------------------------------------------------

  /** Messages are queued while a connection is up or being set up; dropped while backing off. */
  private accepting(): boolean {
    return this.state === 'resolving' || this.state === 'challenge' || this.state === 'welcome' || this.state === 'open';
  }

  /**
   * Keeps the record just written at [start, queue.pos) if it fits the bounds, else removes it.
   * Records up to a batch in size share maxQueuedBytes; larger ones (snapshots, big appends) have
   * a budget of their own, maxFrameBytes, so that neither kind can starve the other.
   */
  private admit(start: number, size: number): boolean {
    const limits = this.ctx.limits;
    const large = size > limits.maxBatchBytes;
    const largeBytes = this.queuedLargeBytes + this.inflightLargeBytes;
    const fits = large
      ? largeBytes + size <= limits.maxFrameBytes
      : start + this.inflightBytes - largeBytes + size <= limits.maxQueuedBytes;
    if (!fits) {
      this.queue.truncate(start);
      return false;
    }
    if (large) this.queuedLargeBytes += size;
    this.queuedRecords++;
    if (this.state === 'open' && this.flushHandle === null) this.flushHandle = setImmediate(this.flush);
    return true;
  }

  /** Hands every queued record to the socket, coalesced into WebSocket messages within the batch bounds. */
  private readonly flush = (): void => {
    this.flushHandle = null;
    const ws = this.ws;
    if (this.state !== 'open' || ws === null || this.queuedRecords === 0) return;
    const { maxBatchBytes, maxBatchRecords } = this.ctx.limits;
    const w = this.queue;
    const buf = w.view();
    const attempt = this.attemptId;
    let start = 0;
    while (start < w.pos) {
      const { end, records, raft } = nextBatch(buf, start, w.pos, maxBatchBytes, maxBatchRecords);
      const chunk = w.copy(start, end);
      const large = chunk.length > maxBatchBytes ? chunk.length : 0;
      this.inflightBytes += chunk.length;
      this.inflightLargeBytes += large;
      this.inflightRecords += records;
      this.inflightRaft += raft;
      this.sentFrames++;
      ws.send(chunk, { binary: true }, () => {
        if (attempt !== this.attemptId) return; // accounting was reset when that socket went away
        this.inflightBytes -= chunk.length;
        this.inflightLargeBytes -= large;
        this.inflightRecords -= records;
        this.inflightRaft -= raft;
      });
      start = end;
    }
    w.truncate(0);
    w.shrinkTo(QUEUE_RETAINED_BYTES); // after a snapshot went through, do not keep its buffer
    this.queuedRecords = 0;
    this.queuedRaft = 0;
    this.queuedLargeBytes = 0;
  };

  /** Empties the queue (counting the Raft messages in it as dropped) and fails every request. */
  private discardQueue(reason: string): void {
    if (this.flushHandle !== null) {
      clearImmediate(this.flushHandle);
      this.flushHandle = null;
    }
    const lost = this.queuedRaft + this.inflightRaft;
    if (lost > 0) this.ctx.metrics.onDrop?.(this.peer, lost);
    this.queue.truncate(0);
    this.queue.shrinkTo(QUEUE_RETAINED_BYTES);
    this.queuedRecords = 0;
    this.queuedRaft = 0;
    this.queuedLargeBytes = 0;
    this.inflightLargeBytes = 0;
    this.inflightBytes = 0;
    this.inflightRecords = 0;
    this.inflightRaft = 0;
    for (const pending of this.requests.values()) {
      clearTimeout(pending.timer);
      pending.reject(new PeerError('PEER_LOST', `connection to ${this.peer} lost with the request in flight: ${reason}`, this.peer));
    }
    this.requests.clear();
  }

  private fail(code: 'PEER_UNAVAILABLE' | 'PEER_OVERLOADED' | 'PAYLOAD_TOO_LARGE', message: string): Promise<never> {
    return Promise.reject(new PeerError(code, message, this.peer));
  }

  // ---- connection lifecycle ------------------------------------------------------------------

  private dial(): void {
    const attempt = ++this.attemptId;
    this.state = 'resolving';
    this.handshakeTimer = setTimeout(() => this.abandon(attempt, 'handshake_timeout'), this.ctx.limits.handshakeTimeoutMs);
    this.ctx.resolveHost(this.target.host).then(
      (ip) => {
        if (attempt === this.attemptId && this.state === 'resolving') this.openSocket(attempt, ip);
      },
      (err: unknown) => {
        if (attempt !== this.attemptId || this.state !== 'resolving') return;
        this.ctx.log('peer_resolve_failed', { peer: this.peer, host: this.target.host, error: String(err) });
        this.disconnect('backoff', 'resolve failed');
      },
    );
  }

  private openSocket(attempt: number, ip: string): void {
    const limits = this.ctx.limits;
    const tls = this.ctx.tls;
    const url = `${tls === null ? 'ws' : 'wss'}://${formatHostPort(ip, this.target.port)}${PEER_PATH}`;
    const peer = this.peer;
    // The listener's certificate must chain to the cluster's CA and name the peer we dialed (not
    // the address: peers are found by DNS name or IP, and identified by id). ws passes these to
    // tls.connect (its typing of checkServerIdentity is not node's, hence the cast).
    const tlsOptions: ConnectionOptions = tls === null ? {} : {
      cert: tls.cert, key: tls.key, ca: tls.ca,
      checkServerIdentity: (_host, cert) => (certificateNames(cert, peer) ? undefined
        : Object.assign(new Error(`the certificate of ${url} does not name ${peer}`), { code: PEER_NOT_NAMED })),
    };
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: limits.maxFrameBytes,
      followRedirects: false,
      generateMask: zeroMask,
      ...(tlsOptions as ClientOptions),
    });
    this.ws = ws;
    this.state = 'challenge';
    ws.once('upgrade', (res) => {
      if (attempt !== this.attemptId) return;
      this.preAuthBudget = watchPreAuthBytes(res.socket, limits.maxPreAuthBytes, (read) => {
        if (attempt === this.attemptId) this.refuse('handshake_too_large', `${read} bytes before the handshake completed`);
      });
    });
    ws.on('open', () => {
      this.dialerNonce = newNonce();
      this.sendRecord((w) =>
        writeHello(w, {
          version: PROTOCOL_VERSION,
          clusterId: this.ctx.clusterId,
          dialerId: this.ctx.id,
          listenerId: this.peer,
          nonce: this.dialerNonce,
        }),
      );
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (attempt === this.attemptId) receivePeerMessage(this.ctx, 'outbound', this, data as Buffer, isBinary);
    });
    ws.on('close', (code: number) => {
      if (attempt === this.attemptId) this.onSocketClose(code);
    });
    ws.on('error', (err: Error) => {
      if (attempt !== this.attemptId) return;
      // A refusal at the TLS layer is a handshake refusal too (counted, as the plain handshake's are).
      const reason = this.state === 'open' ? null : tlsRejectReason(err);
      if (reason === null) return void this.ctx.log('peer_socket_error', { peer: this.peer, url, error: err.message });
      this.ctx.metrics.onHandshakeRejected?.(reason, 'outbound');
      this.ctx.log('handshake_rejected', { peer: this.peer, direction: 'outbound', reason, detail: err.message });
    });
  }

  /** PeerConnectionEnd: CHALLENGE, then WELCOME. */
  onHandshakeRecord(r: ByteReader): void {
    if (this.state === 'challenge') {
      this.onChallenge(r);
    } else if (this.state === 'welcome') {
      readWelcome(r);
      this.onOpen();
    }
  }

  /** PeerConnectionEnd: a bad frame after the handshake drops this connection; the link redials. */
  closeAfterBadFrame(): void {
    this.abandonWithCode(CLOSE_CODES.bad_frame, 'bad frame');
  }

  private onChallenge(r: ByteReader): void {
    const challenge = readChallenge(r);
    if (challenge.listenerId !== this.peer) {
      this.refuse('node_id_mismatch', `dialed ${this.peer} but ${challenge.listenerId} answered`);
      return;
    }
    const binding = {
      clusterId: this.ctx.clusterId,
      listenerId: this.peer,
      dialerId: this.ctx.id,
      dialerNonce: this.dialerNonce,
      listenerNonce: challenge.nonce,
    };
    if (!proofMatches(computeProof(this.ctx.secret, 'listener', binding), challenge.proof)) {
      this.refuse('auth_failed', 'listener proof does not match our secret');
      return;
    }
    this.state = 'welcome';
    this.sendRecord((w) => writeAuth(w, computeProof(this.ctx.secret, 'dialer', binding)));
  }

  private onOpen(): void {
    this.clearHandshakeTimer();
    this.state = 'open';
    this.failures = 0;
    const attempt = this.attemptId;
    this.liveness = new Liveness(this.ws!, this.ctx.limits.pingIntervalMs, () => this.abandon(attempt, 'dead'));
    this.ctx.log('peer_connected', { peer: this.peer, address: this.address });
    this.ctx.metrics.onConnectionChange?.(this.peer, true);
    if (this.queuedRecords > 0 && this.flushHandle === null) this.flushHandle = setImmediate(this.flush);
  }

  /** PeerConnectionEnd: an answer to one of our requests. */
  readonly onRecord = (r: ByteReader): void => {
    const tag = r.u8();
    if (tag !== TAG_RESPONSE) throw new CodecError(`unexpected tag ${tag} on an outbound connection`);
    const response = readResponse(r);
    const pending = this.requests.get(response.id);
    if (pending === undefined) return; // timed out already
    this.requests.delete(response.id);
    clearTimeout(pending.timer);
    if (response.ok) pending.resolve(response.payload);
    else pending.reject(new PeerError(response.code, response.message, this.peer, true));
  };

  private onSocketClose(code: number): void {
    // Our own closes never get here: leaving an attempt bumps attemptId first.
    const remoteReason = rejectReasonOfCloseCode(code);
    if (remoteReason !== null && this.state !== 'open') {
      this.ctx.metrics.onHandshakeRejected?.(remoteReason, 'outbound');
      this.ctx.log('peer_refused_us', { peer: this.peer, reason: remoteReason, code });
    }
    this.disconnect('backoff', `socket closed (${code})`);
  }

  /** PeerConnectionEnd: we refuse the listener (wrong secret, wrong node, garbage during the handshake). */
  refuse(reason: HandshakeRejectReason, detail: string): void {
    this.ctx.metrics.onHandshakeRejected?.(reason, 'outbound');
    this.ctx.log('handshake_rejected', { peer: this.peer, direction: 'outbound', reason, detail });
    if (reason === 'handshake_too_large') {
      // No closing handshake: the bytes still arriving would be buffered while we waited for it.
      const ws = this.ws;
      this.disconnect('backoff', reason);
      ws?.terminate();
    } else {
      this.abandonWithCode(CLOSE_CODES[reason], reason);
    }
  }

  /** Timer-driven give-up (handshake timeout, dead connection) of attempt `attempt`. */
  private abandon(attempt: number, why: 'handshake_timeout' | 'dead'): void {
    if (attempt !== this.attemptId) return;
    this.ctx.log('peer_abandoned', { peer: this.peer, reason: why, state: this.state });
    if (this.ws === null) this.disconnect('backoff', why);
    else this.abandonWithCode(CLOSE_CODES[why], why);
  }

  private abandonWithCode(code: number, reason: string): void {
    const ws = this.ws;
    this.disconnect('backoff', reason);
    if (ws !== null) void closeWithin(ws, code, reason, this.ctx.limits.closeGraceMs);
  }

  /** Leaves the current attempt: to `backoff` (schedules a redial) or `closed` (for good). */
  private disconnect(next: 'backoff' | 'closed', reason: string): void {
    const wasOpen = this.state === 'open';
    this.attemptId++;
    this.clearHandshakeTimer();
    this.liveness?.stop();
    this.liveness = null;
    this.ws = null;
    if (this.redialTimer !== null) {
      clearTimeout(this.redialTimer);
      this.redialTimer = null;
    }
    this.discardQueue(reason);
    if (wasOpen) {
      this.ctx.log('peer_disconnected', { peer: this.peer, reason });
      this.ctx.metrics.onConnectionChange?.(this.peer, false);
    }
    this.state = next;
    if (next === 'closed') return;
    const delay = backoffDelay({ baseMs: this.ctx.limits.reconnectBaseMs, maxMs: this.ctx.limits.reconnectMaxMs }, this.failures++);
    this.redialTimer = setTimeout(() => {
      this.redialTimer = null;
      this.ctx.metrics.onReconnect?.(this.peer);
      this.dial();
    }, delay);
  }

  /** The handshake is over (done or abandoned): its timer and its byte budget end. */
  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) {
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
    }
    this.preAuthBudget?.release();
    this.preAuthBudget = null;
  }

  private sendRecord(write: (w: ByteWriter) => void): void {
    this.ws?.send(singleRecord(write), { binary: true });
  }
}
