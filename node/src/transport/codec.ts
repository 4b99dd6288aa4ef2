// The binary encoding of Raft messages (the `Message` union of raft/types.ts).
//
// Layout: [tag u8][from str][to str][term varint][sender incarnation str, empty for none] then the
// type's fields: for the fixed-size messages, in the order of their FIELDS layout, which the
// encoder and the decoder both follow; append and snapshot are written out by hand.
// Numbers are unsigned LEB128 varints (≤ 2^53 - 1), booleans one byte (0/1), strings and byte
// strings a varint length then the bytes. Entries: [term][index][type u8: 0 normal, 1 conf][data].
// A snapshot carries meta.index, meta.term, the ConfState (voters, learners, then address
// pairs in the map's order, then incarnation pairs likewise) and its data. The encoding is canonical: whatever decodes re-encodes
// to the same bytes. Decoded `data` fields are views into the input buffer (no copy).
import type { AppendRequest, ConfState, Entry, EntryType, Envelope, InstallSnapshot, Message, MessageType } from '../raft/types.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { CodecError } from './errors.js';

/** Longest node id, address or ReadIndex context accepted on the wire. */
export const MAX_STRING_BYTES = 1024;
/** Most voters + learners a ConfState on the wire may name. */
export const MAX_CONF_MEMBERS = 1024;

const TAG_OF: Readonly<Record<MessageType, number>> = {
  vote: 1,
  preVote: 2,
  voteResp: 3,
  preVoteResp: 4,
  append: 5,
  appendResp: 6,
  heartbeat: 7,
  heartbeatResp: 8,
  snapshot: 9,
  timeoutNow: 10,
  readIndex: 11,
  readIndexResp: 12,
};
/** Every tag byte in 1..MAX_MESSAGE_TAG is a Raft message; the frame layer uses the rest. */
export const MAX_MESSAGE_TAG = 12;

const ENTRY_TYPE_CODE: Readonly<Record<EntryType, number>> = { normal: 0, conf: 1 };
/** Smallest encoded entry: term, index, type and data length of one byte each. */
const MIN_ENTRY_BYTES = 4;

/** The messages made of fixed fields only: all but append and snapshot. */
type FixedMessage = Exclude<Message, AppendRequest | InstallSnapshot>;
type FixedType = FixedMessage['type'];
type FieldKind = 'varint' | 'bool' | 'string';
/** The fixed message whose `type` may be T (vote and preVote share one interface). */
type FixedMessageOf<T extends FixedType> = FixedMessage extends infer M ? (M extends { readonly type: infer U } ? (T extends U ? M : never) : never) : never;
/** Every body field of M (all but the envelope) with the kind its value type is written as. */
type FieldLayout<M> = {
  readonly [K in Exclude<keyof M, keyof Envelope | 'type'>]-?: M[K] extends number ? 'varint' : M[K] extends boolean ? 'bool' : 'string';
};

const VOTE_FIELDS = { lastLogIndex: 'varint', lastLogTerm: 'varint', transfer: 'bool' } as const;
const VOTE_RESPONSE_FIELDS = { reject: 'bool' } as const;
const CONTEXT_FIELDS = { context: 'string' } as const;
/**
 * The body of each fixed message, in wire order (an object literal keeps its keys' order). The
 * types make a layout name every field of its message with the kind of the field's value.
 */
const FIELDS: { readonly [T in FixedType]: FieldLayout<FixedMessageOf<T>> } = {
  vote: VOTE_FIELDS,
  preVote: VOTE_FIELDS,
  voteResp: VOTE_RESPONSE_FIELDS,
  preVoteResp: VOTE_RESPONSE_FIELDS,
  appendResp: { index: 'varint', reject: 'bool', hintIndex: 'varint', hintTerm: 'varint' },
  heartbeat: { commit: 'varint', context: 'string' },
  heartbeatResp: CONTEXT_FIELDS,
  timeoutNow: {},
  readIndex: CONTEXT_FIELDS,
  readIndexResp: { context: 'string', index: 'varint', reject: 'bool' },
};
/** FIELDS as arrays, walked by index on the hot path. */
const FIELD_LISTS = Object.fromEntries(
  Object.entries(FIELDS).map(([type, layout]) => [type, Object.entries(layout) as [string, FieldKind][]]),
) as unknown as Readonly<Record<FixedType, readonly (readonly [string, FieldKind])[]>>;
/** Tag byte → message type; index 0 and the tags past MAX_MESSAGE_TAG are undefined. */
const TYPE_OF_TAG: readonly (MessageType | undefined)[] = (() => {
  const types: (MessageType | undefined)[] = new Array(MAX_MESSAGE_TAG + 1).fill(undefined);
  for (const [type, tag] of Object.entries(TAG_OF)) types[tag] = type as MessageType;
  return types;
})();

function writeFields(w: ByteWriter, msg: FixedMessage): void {
  const fields = FIELD_LISTS[msg.type];
  const values = msg as unknown as Readonly<Record<string, unknown>>;
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i]!;
    const value = values[name];
    if (kind === 'varint') w.varint(value as number);
    else if (kind === 'bool') w.bool(value as boolean);
    else w.string(value as string);
  }
}

function readFields(r: ByteReader, type: FixedType, from: string, to: string, term: number): FixedMessage {
  const fields = FIELD_LISTS[type];
  const msg: Record<string, unknown> = { type, from, to, term };
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i]!;
    msg[name] = kind === 'varint' ? r.varint() : kind === 'bool' ? r.bool() : r.string(MAX_STRING_BYTES);
  }
  return msg as unknown as FixedMessage;
}

export function encodeMessageInto(w: ByteWriter, msg: Message): void {
  w.u8(TAG_OF[msg.type]);
  w.string(msg.from);
  w.string(msg.to);
  w.varint(msg.term);
  w.string(msg.inc ?? '');
  switch (msg.type) {
    case 'append': {
      w.varint(msg.prevIndex);
      w.varint(msg.prevTerm);
      w.varint(msg.commit);
      const entries = msg.entries;
      w.varint(entries.length);
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        w.varint(e.term);
        w.varint(e.index);
        w.u8(ENTRY_TYPE_CODE[e.type]);
        w.bytes(e.data);
      }
      return;
    }
    case 'snapshot': {
      const { meta, data } = msg.snapshot;
      w.varint(meta.index);
      w.varint(meta.term);
      encodeConfState(w, meta.conf);
      w.bytes(data);
      return;
    }
    default:
      writeFields(w, msg);
  }
}

function encodeConfState(w: ByteWriter, conf: ConfState): void {
  w.varint(conf.voters.length);
  for (const id of conf.voters) w.string(id);
  w.varint(conf.learners.length);
  for (const id of conf.learners) w.string(id);
  const ids = Object.keys(conf.addresses);
  w.varint(ids.length);
  for (const id of ids) {
    w.string(id);
    w.string(conf.addresses[id]!);
  }
  const incarnations = conf.incarnations ?? {};
  const recorded = Object.keys(incarnations);
  w.varint(recorded.length);
  for (const id of recorded) {
    w.string(id);
    w.string(incarnations[id]!);
  }
}

/** Reads one message that must end exactly at `r.end`. */
export function decodeMessageFrom(r: ByteReader): Message {
  const tag = r.u8();
  const from = r.string(MAX_STRING_BYTES);
  const to = r.string(MAX_STRING_BYTES);
  const term = r.varint();
  const inc = r.string(MAX_STRING_BYTES);
  const type = TYPE_OF_TAG[tag];
  let msg: Message;
  switch (type) {
    case undefined:
      throw new CodecError(`unknown message tag ${tag}`);
    case 'append': {
      const prevIndex = r.varint();
      const prevTerm = r.varint();
      const commit = r.varint();
      const count = r.boundedVarint(Math.floor(r.remaining / MIN_ENTRY_BYTES), 'entry count');
      const entries: Entry[] = new Array(count);
      for (let i = 0; i < count; i++) {
        const entryTerm = r.varint();
        const index = r.varint();
        const typeCode = r.u8();
        if (typeCode > 1) throw new CodecError(`bad entry type ${typeCode}`);
        entries[i] = { term: entryTerm, index, type: typeCode === 0 ? 'normal' : 'conf', data: r.bytes(r.remaining) };
      }
      msg = { type, from, to, term, prevIndex, prevTerm, entries, commit };
      break;
    }
    case 'snapshot': {
      const index = r.varint();
      const snapTerm = r.varint();
      const conf = decodeConfState(r);
      msg = { type, from, to, term, snapshot: { meta: { index, term: snapTerm, conf }, data: r.bytes(r.remaining) } };
      break;
    }
    default:
      msg = readFields(r, type, from, to, term);
  }
  r.expectEnd();
  return inc === '' ? msg : { ...msg, inc };
}

function decodeIdList(r: ByteReader, what: string): string[] {
  const count = r.boundedVarint(Math.min(MAX_CONF_MEMBERS, r.remaining), what);
  const ids: string[] = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = r.string(MAX_STRING_BYTES);
  return ids;
}

function decodeConfState(r: ByteReader): ConfState {
  const voters = decodeIdList(r, 'voter count');
  const learners = decodeIdList(r, 'learner count');
  const addresses = decodeStringMap(r, 'address');
  const incarnations = decodeStringMap(r, 'incarnation');
  return Object.keys(incarnations).length === 0 ? { voters, learners, addresses } : { voters, learners, addresses, incarnations };
}

/** A count, then that many (id, value) string pairs with distinct ids. */
function decodeStringMap(r: ByteReader, what: string): Record<string, string> {
  const count = r.boundedVarint(Math.min(MAX_CONF_MEMBERS, r.remaining), `${what} count`);
  const map: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const id = r.string(MAX_STRING_BYTES);
    if (Object.hasOwn(map, id)) throw new CodecError(`duplicate ${what} for ${id}`);
    // defineProperty: an id such as "__proto__" must become an own key, not a prototype.
    Object.defineProperty(map, id, {
      value: r.string(MAX_STRING_BYTES),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return map;
}

export function encodeMessage(msg: Message): Uint8Array {
  const w = new ByteWriter(64);
  encodeMessageInto(w, msg);
  return w.copy();
}

/** Decodes exactly one message filling `buf`; throws `CodecError` (code BAD_FRAME) otherwise. */
export function decodeMessage(buf: Uint8Array): Message {
  return decodeMessageFrom(new ByteReader(buf));
}
