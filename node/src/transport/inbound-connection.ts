// One connection a peer dialed to us: the handshake as the listener, then delivery of the Raft
// messages and requests it carries. Answers to requests go back on this same connection, those
// ready in one event-loop turn coalesced into one message; nothing else is ever sent on it. A
// malformed frame closes this connection only.
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocket, type RawData } from 'ws';
import type { Message, NodeId } from '../raft/types.js';
import type { ByteReader } from './bytes.js';
import { ByteWriter } from './bytes.js';
import { decodeMessageFrom, MAX_MESSAGE_TAG } from './codec.js';
import type { TransportContext } from './context.js';
import { CodecError, errorCodeOf } from './errors.js';
import { receivePeerMessage, type PeerConnectionEnd } from './peer-messages.js';
import {
  beginRecord,
  endRecord,
  nextBatch,
  readRequest,
  type RequestRecord,
  singleRecord,
  TAG_REQUEST,
  writeErrorResponse,
  writeOkResponse,
} from './frames.js';
import {
  CLOSE_CODES,
  computeProof,
  newNonce,
  PROTOCOL_VERSION,
  proofMatches,
  readAuth,
  readHelloBody,
  readHelloVersion,
  writeChallenge,
  writeWelcome,
  type HandshakeRejectReason,
} from './handshake.js';
import { Liveness } from './liveness.js';
import { watchPreAuthBytes, type PreAuthBudget } from './pre-auth-budget.js';
import { certificateNames } from './tls.js';
import { closeWithin } from './socket-close.js';

export type RequestHandler = (from: NodeId, payload: Uint8Array) => Promise<Uint8Array>;

/** What an inbound connection needs from the transport that accepted it. */
export interface InboundHost {
  readonly ctx: TransportContext;
  /** The handshake succeeded: `conn.peer` is authenticated. */
  authenticated(conn: InboundConnection): void;
  /** The socket is gone (after a refusal, a bad frame, the peer leaving, or close()). */
  closed(conn: InboundConnection): void;
  deliver(msg: Message): void;
  requestHandler(kind: string): RequestHandler | undefined;
}

/** The answer queue's buffer starts at this size, and is given back when it grew beyond the other. */
const ANSWERS_INITIAL_BYTES = 4 * 1024;
const ANSWERS_RETAINED_BYTES = 1024 * 1024;

/** Room for a response record's prefix, tag, id and status within maxFrameBytes. */
const RESPONSE_OVERHEAD_BYTES = 32;

type InboundState = 'hello' | 'auth' | 'open' | 'closed';

export class InboundConnection implements PeerConnectionEnd {
  private state: InboundState = 'hello';
  /** The authenticated peer id; '' until the handshake completes. */
  peer: NodeId = '';
  private claimedId: NodeId = '';
  private expectedProof: Buffer | null = null;
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly preAuthBudget: PreAuthBudget;
  private liveness: Liveness | null = null;
  private serving = 0;
  /** Answers not yet handed to the socket, back to back as they go on the wire. */
  private readonly answers = new ByteWriter(ANSWERS_INITIAL_BYTES);
  private flushHandle: NodeJS.Immediate | null = null;

  constructor(
    private readonly host: InboundHost,
    readonly ws: WebSocket,
    private readonly socket: Duplex,
    readonly remoteAddress: string,
  ) {
    const ctx = host.ctx;
    this.handshakeTimer = setTimeout(() => this.refuse('handshake_timeout', 'no handshake in time'), ctx.limits.handshakeTimeoutMs);
    this.preAuthBudget = watchPreAuthBytes(socket, ctx.limits.maxPreAuthBytes, (read) =>
      this.refuse('handshake_too_large', `${read} bytes before the handshake completed`),
    );
    ws.on('message', (data: RawData, isBinary: boolean) => receivePeerMessage(ctx, 'inbound', this, data as Buffer, isBinary));
    ws.on('close', () => this.onSocketClose());
    ws.on('error', (err: Error) => ctx.log('inbound_socket_error', { peer: this.peer, remoteAddress, error: err.message }));
  }

  get authenticatedPeer(): NodeId | null {
    return this.state === 'open' ? this.peer : null;
  }

  /** Closes this connection (replaced by a newer one, peer removed, or transport closing). */
  close(code: number, reason: string): Promise<void> {
    this.stop();
    return closeWithin(this.ws, code, reason, this.host.ctx.limits.closeGraceMs);
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  /** PeerConnectionEnd: HELLO, then AUTH; nothing once closed. */
  onHandshakeRecord(r: ByteReader): void {
    if (this.state === 'hello') this.onHello(r);
    else if (this.state === 'auth') this.onAuth(r);
  }

  /** PeerConnectionEnd: a bad frame after the handshake closes this connection only. */
  closeAfterBadFrame(): void {
    void this.close(CLOSE_CODES.bad_frame, 'bad frame');
  }

  private onHello(r: ByteReader): void {
    const ctx = this.host.ctx;
    const version = readHelloVersion(r);
    if (version !== PROTOCOL_VERSION) {
      this.refuse('version_mismatch', `protocol version ${version}, we speak ${PROTOCOL_VERSION}`);
      return;
    }
    const hello = readHelloBody(r);
    if (hello.clusterId !== ctx.clusterId) {
      this.refuse('cluster_mismatch', `cluster ${JSON.stringify(hello.clusterId)}`);
      return;
    }
    if (hello.listenerId !== ctx.id) {
      this.refuse('node_id_mismatch', `dialer wanted ${JSON.stringify(hello.listenerId)}, we are ${ctx.id}`);
      return;
    }
    if (hello.dialerId === '' || hello.dialerId === ctx.id) {
      this.refuse('node_id_mismatch', `dialer claims id ${JSON.stringify(hello.dialerId)}`);
      return;
    }
    if (ctx.tls !== null && !certificateNames((this.socket as TLSSocket).getPeerCertificate(), hello.dialerId)) {
      this.refuse('node_id_mismatch', `dialer claims id ${JSON.stringify(hello.dialerId)}, its certificate names another node`);
      return;
    }
    this.claimedId = hello.dialerId;
    const binding = {
      clusterId: ctx.clusterId,
      listenerId: ctx.id,
      dialerId: hello.dialerId,
      dialerNonce: hello.nonce,
      listenerNonce: newNonce(),
    };
    this.expectedProof = computeProof(ctx.secret, 'dialer', binding);
    this.state = 'auth';
    this.sendRecord((w) =>
      writeChallenge(w, { listenerId: ctx.id, nonce: binding.listenerNonce, proof: computeProof(ctx.secret, 'listener', binding) }),
    );
  }

  private onAuth(r: ByteReader): void {
    const proof = readAuth(r);
    if (!proofMatches(this.expectedProof!, proof)) {
      this.refuse('auth_failed', `dialer claiming ${this.claimedId} does not know the cluster secret`);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.preAuthBudget.release();
    this.expectedProof = null;
    this.peer = this.claimedId;
    this.state = 'open';
    this.sendRecord(writeWelcome);
    this.liveness = new Liveness(this.ws, this.host.ctx.limits.pingIntervalMs, () => {
      this.host.ctx.log('inbound_dead', { peer: this.peer });
      void this.close(CLOSE_CODES.dead, 'no pong');
    });
    this.host.authenticated(this);
  }

  /** PeerConnectionEnd: a Raft message or a request from the authenticated peer. */
  readonly onRecord = (r: ByteReader): void => {
    const tag = r.buf[r.pos]!;
    if (tag >= 1 && tag <= MAX_MESSAGE_TAG) {
      const msg = decodeMessageFrom(r);
      if (msg.from !== this.peer || msg.to !== this.host.ctx.id) {
        throw new CodecError(`message ${msg.from}→${msg.to} on the connection from ${this.peer}`);
      }
      this.host.deliver(msg);
    } else if (tag === TAG_REQUEST) {
      r.pos++;
      this.serve(readRequest(r));
    } else {
      throw new CodecError(`unexpected tag ${tag} on an inbound connection`);
    }
  };

  /** Runs the handler for one request and answers on this connection (if it is still open). */
  private serve(req: RequestRecord): void {
    const { id, kind } = req;
    const handler = this.host.requestHandler(kind);
    if (handler === undefined) {
      this.answer((w) => writeErrorResponse(w, id, 'UNKNOWN_REQUEST_KIND', `no handler for ${kind}`));
      return;
    }
    if (this.serving >= this.host.ctx.limits.maxOutstandingRequests) {
      this.answer((w) => writeErrorResponse(w, id, 'PEER_OVERLOADED', `${this.serving} requests in progress`));
      return;
    }
    this.serving++;
    let answer: Promise<Uint8Array>;
    try {
      answer = handler(this.peer, req.payload);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (payload) => {
        this.serving--;
        if (payload.length > this.host.ctx.limits.maxFrameBytes - RESPONSE_OVERHEAD_BYTES) {
          this.answer((w) => writeErrorResponse(w, id, 'PAYLOAD_TOO_LARGE', `answer of ${payload.length} bytes`));
        } else {
          this.answer((w) => writeOkResponse(w, id, payload));
        }
      },
      (err: unknown) => {
        this.serving--;
        const message = err instanceof Error ? err.message : String(err);
        this.answer((w) => writeErrorResponse(w, id, errorCodeOf(err), message));
      },
    );
  }

  private onSocketClose(): void {
    this.stop();
    this.host.closed(this);
  }

  /** PeerConnectionEnd: we refuse the dialer (wrong secret, cluster or node, garbage during the handshake). */
  refuse(reason: HandshakeRejectReason, detail: string): void {
    if (this.state === 'closed') return;
    const ctx = this.host.ctx;
    ctx.metrics.onHandshakeRejected?.(reason, 'inbound');
    ctx.log('handshake_rejected', { direction: 'inbound', reason, detail, remoteAddress: this.remoteAddress, claimedId: this.claimedId });
    if (reason === 'handshake_too_large') {
      // No closing handshake: the bytes still arriving would be buffered while we waited for it.
      this.stop();
      this.ws.terminate();
    } else {
      void this.close(CLOSE_CODES[reason], reason);
    }
  }

  private stop(): void {
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    this.preAuthBudget.release();
    if (this.flushHandle !== null) clearImmediate(this.flushHandle);
    this.flushHandle = null;
    this.liveness?.stop();
    this.liveness = null;
  }

  /** A handshake record: alone in its message, sent at once. */
  private sendRecord(write: (w: ByteWriter) => void): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(singleRecord(write), { binary: true });
  }

  /** Queues an answer record; the queue goes out at the end of this event-loop turn. */
  private answer(write: (w: ByteWriter) => void): void {
    if (this.state !== 'open') return;
    const w = this.answers;
    const body = beginRecord(w);
    write(w);
    endRecord(w, body);
    this.flushHandle ??= setImmediate(this.flushAnswers);
  }

  private readonly flushAnswers = (): void => {
    this.flushHandle = null;
    const w = this.answers;
    if (this.ws.readyState === WebSocket.OPEN) {
      const { maxBatchBytes, maxBatchRecords } = this.host.ctx.limits;
      const buf = w.view();
      for (let start = 0; start < w.pos; ) {
        const { end } = nextBatch(buf, start, w.pos, maxBatchBytes, maxBatchRecords);
        this.ws.send(w.copy(start, end), { binary: true });
        start = end;
      }
    }
    w.truncate(0);
    w.shrinkTo(ANSWERS_RETAINED_BYTES);
  };
}
