// The peer handshake: mutual authentication with the cluster secret, never sent on the wire.
//
//   dialer → listener  HELLO     [0x30][version u8][clusterId str][dialerId str][listenerId str][nonceD 32]
//   listener → dialer  CHALLENGE [0x31][listenerId str][nonceL 32][proofL 32]
//   dialer → listener  AUTH      [0x32][proofD 32]
//   listener → dialer  WELCOME   [0x33]
//
// proofL = HMAC-SHA256(secret, "catga-peer/2 listener" ‖ clusterId ‖ listenerId ‖ dialerId ‖ nonceD ‖ nonceL)
// proofD = HMAC-SHA256(secret, "catga-peer/2 dialer"   ‖ clusterId ‖ listenerId ‖ dialerId ‖ nonceD ‖ nonceL)
// (strings length-prefixed). Both proofs bind both fresh nonces, both ids and the cluster id, and
// the role labels differ, so nothing can be replayed or reflected. Each handshake record travels
// alone in one record of one WebSocket message (frames.ts). A refusal closes the socket with one
// of the close codes below, which the other side maps back to the same reason.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type ByteReader, ByteWriter } from './bytes.js';
import { MAX_STRING_BYTES } from './codec.js';
import { CodecError } from './errors.js';

/** 2: every Raft message carries its sender's storage incarnation. */
export const PROTOCOL_VERSION = 2;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

export const TAG_HELLO = 0x30;
export const TAG_CHALLENGE = 0x31;
export const TAG_AUTH = 0x32;
export const TAG_WELCOME = 0x33;

/** Why a peer connection is refused at the handshake (the `reason` label of its metric). */
export const HANDSHAKE_REJECT_REASONS = [
  'bad_frame', 'cluster_mismatch', 'auth_failed', 'node_id_mismatch', 'version_mismatch',
  'handshake_timeout', 'too_many_handshakes', 'handshake_too_large',
] as const;
export type HandshakeRejectReason = (typeof HANDSHAKE_REJECT_REASONS)[number];

/** WebSocket close codes (application range) sent by the side that refuses. */
export const CLOSE_CODES = {
  bad_frame: 4000,
  cluster_mismatch: 4001,
  auth_failed: 4002,
  node_id_mismatch: 4003,
  version_mismatch: 4004,
  handshake_timeout: 4005,
  too_many_handshakes: 4006,
  /** More than maxPreAuthBytes before the handshake completed; the socket is cut, so this code
   *  names the reason in metrics and logs rather than on the wire. */
  handshake_too_large: 4007,
  /** Not a refusal: a newer connection from the same peer replaced this one. */
  replaced: 4010,
  /** Not a refusal: the peer stopped answering pings. */
  dead: 4011,
} as const;

/** Normal shutdown of a connection (transport closed, or the peer left the configuration). */
export const CLOSE_GOING_AWAY = 1001;

const REASON_OF_CODE = new Map<number, HandshakeRejectReason>(
  (Object.entries(CLOSE_CODES) as [string, number][])
    .filter(([reason]) => reason !== 'replaced' && reason !== 'dead')
    .map(([reason, code]) => [code, reason as HandshakeRejectReason]),
);

/** The refusal a close code stands for, or null for any other close. */
export function rejectReasonOfCloseCode(code: number): HandshakeRejectReason | null {
  return REASON_OF_CODE.get(code) ?? null;
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export interface HandshakeBinding {
  readonly clusterId: string;
  readonly listenerId: string;
  readonly dialerId: string;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

export function computeProof(secret: string, role: 'listener' | 'dialer', b: HandshakeBinding): Buffer {
  const w = new ByteWriter(256);
  w.string(`catga-peer/${PROTOCOL_VERSION} ${role}`);
  w.string(b.clusterId);
  w.string(b.listenerId);
  w.string(b.dialerId);
  w.raw(b.dialerNonce);
  w.raw(b.listenerNonce);
  return createHmac('sha256', secret).update(w.view()).digest();
}

export function proofMatches(expected: Buffer, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

/**
 * The fields of a handshake message after its tag, in wire order: `'string'` is a length-prefixed
 * string (at most MAX_STRING_BYTES), a number is that many raw bytes. Writer and reader both
 * follow it, so the two cannot disagree on a layout.
 */
type Layout = Readonly<Record<string, 'string' | number>>;
type Fields<L extends Layout> = { readonly [K in keyof L]: L[K] extends 'string' ? string : Uint8Array };

/** HELLO after its tag and version byte (the version comes first: the rest is known only for ours). */
const HELLO_BODY = { clusterId: 'string', dialerId: 'string', listenerId: 'string', nonce: NONCE_BYTES } as const;
const CHALLENGE = { listenerId: 'string', nonce: NONCE_BYTES, proof: PROOF_BYTES } as const;
const AUTH = { proof: PROOF_BYTES } as const;
const WELCOME = {} as const;

export interface Hello extends Fields<typeof HELLO_BODY> {
  readonly version: number;
}
export type Challenge = Fields<typeof CHALLENGE>;

function writeFields<L extends Layout>(w: ByteWriter, layout: L, values: Fields<L>): void {
  for (const name in layout) {
    const value = values[name];
    if (typeof value === 'string') w.string(value);
    else w.raw(value);
  }
}

/** The fields of `layout`, which must end the record. */
function readFields<L extends Layout>(r: ByteReader, layout: L): Fields<L> {
  const fields: Record<string, string | Uint8Array> = {};
  for (const [name, kind] of Object.entries(layout)) fields[name] = kind === 'string' ? r.string(MAX_STRING_BYTES) : r.rawView(kind);
  r.expectEnd();
  return fields as Fields<L>;
}

export function writeHello(w: ByteWriter, h: Hello): void {
  w.u8(TAG_HELLO);
  w.u8(h.version);
  writeFields(w, HELLO_BODY, h);
}

export function writeChallenge(w: ByteWriter, c: Challenge): void {
  w.u8(TAG_CHALLENGE);
  writeFields(w, CHALLENGE, c);
}

export function writeAuth(w: ByteWriter, proof: Uint8Array): void {
  w.u8(TAG_AUTH);
  writeFields(w, AUTH, { proof });
}

export function writeWelcome(w: ByteWriter): void {
  w.u8(TAG_WELCOME);
  writeFields(w, WELCOME, {});
}

function expectTag(r: ByteReader, tag: number, name: string): void {
  const got = r.u8();
  if (got !== tag) throw new CodecError(`expected ${name}, got tag ${got}`);
}

/** Reads HELLO's tag and version; the rest of the layout is only known for our own version. */
export function readHelloVersion(r: ByteReader): number {
  expectTag(r, TAG_HELLO, 'HELLO');
  return r.u8();
}

/** Reads the rest of a HELLO of PROTOCOL_VERSION, after `readHelloVersion`. */
export function readHelloBody(r: ByteReader): Hello {
  return { version: PROTOCOL_VERSION, ...readFields(r, HELLO_BODY) };
}

export function readChallenge(r: ByteReader): Challenge {
  expectTag(r, TAG_CHALLENGE, 'CHALLENGE');
  return readFields(r, CHALLENGE);
}

export function readAuth(r: ByteReader): Uint8Array {
  expectTag(r, TAG_AUTH, 'AUTH');
  return readFields(r, AUTH).proof;
}

export function readWelcome(r: ByteReader): void {
  expectTag(r, TAG_WELCOME, 'WELCOME');
  readFields(r, WELCOME);
}
