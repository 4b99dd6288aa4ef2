// How both ends of a peer connection take a WebSocket message from their socket: binary only; one
// handshake record alone while the handshake runs, records back to back once it is open; a malformed one (CodecError) refuses the peer while the handshake
// runs, and once the connection is open is a bad frame: counted, logged, and that connection closed.
import type { NodeId } from '../raft/types.js';
import type { ByteReader } from './bytes.js';
import type { TransportContext } from './context.js';
import { CodecError } from './errors.js';
import { forEachRecord, readSingleRecord } from './frames.js';
import type { HandshakeRejectReason } from './handshake.js';

/** One end of a peer connection (InboundConnection, OutboundLink), as its socket's messages see it. */
export interface PeerConnectionEnd {
  /** The peer: the one dialed, or the one that authenticated ('' before). */
  readonly peer: NodeId;
  /** The handshake is done. */
  readonly connected: boolean;
  /** One record of an open connection (messages then carry records back to back); CodecError when malformed. */
  readonly onRecord: (r: ByteReader) => void;
  /** The handshake record a message carries alone, read per the handshake's state; CodecError when malformed. */
  onHandshakeRecord(r: ByteReader): void;
  /** Refuses the peer during the handshake (counted and logged, the socket closed with the reason's code). */
  refuse(reason: HandshakeRejectReason, detail: string): void;
  /** Closes the open connection after a bad frame. */
  closeAfterBadFrame(): void;
}

/** Hands a message of `end`'s socket to it; a malformed one refuses the peer or closes the open connection. */
export function receivePeerMessage(ctx: TransportContext, direction: 'inbound' | 'outbound', end: PeerConnectionEnd, data: Buffer, isBinary: boolean): void {
  try {
    if (!isBinary) throw new CodecError('text frame');
    if (end.connected) forEachRecord(data, end.onRecord);
    else end.onHandshakeRecord(readSingleRecord(data));
  } catch (err) {
    if (!(err instanceof CodecError)) throw err;
    if (!end.connected) {
      end.refuse('bad_frame', err.message);
      return;
    }
    ctx.metrics.onBadFrame?.(end.peer);
    ctx.log('peer_bad_frame', { peer: end.peer, direction, error: err.message });
    end.closeAfterBadFrame();
  }
}
