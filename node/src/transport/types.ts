// The peer-transport seam: how the node runtime sends Raft messages and small request/response
// calls (command forwarding, follower ReadIndex) to other members.
import type { Message, NodeId } from '../raft/types.js';

export interface PeerTransport {
  /** Starts listening on the peer port. */
  start(): Promise<void>;
  /** Who the peers are and where they listen (`host:port`); connections follow this map. */
  setPeers(addresses: Readonly<Record<NodeId, string>>): void;
  /**
   * Queues a Raft message for `msg.to`. Never blocks and never throws: a full per-peer queue drops
   * the message (Raft retransmits) and counts the drop.
   */
  send(msg: Message): void;
  onMessage(handler: (msg: Message) => void): void;
  /** A request/response call on the same connection; rejects with a coded error on timeout or loss. */
  request(to: NodeId, kind: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  onRequest(kind: string, handler: (from: NodeId, payload: Uint8Array) => Promise<Uint8Array>): void;
  close(): Promise<void>;
}
