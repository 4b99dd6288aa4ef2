// Malformed and out-of-range messages: corrupted copies of real messages that the core must refuse
// with INVALID_MESSAGE and without any change of state (the simulator checks both).
import type { Message } from '../raft/types.js';
import type { Prng } from './prng.js';

type Mutable = Record<string, unknown>;

/** A copy of `msg` broken in one way that no valid message of its type can be; with what was broken. */
export function corruptMessage(msg: Message, p: Prng): { readonly message: Message; readonly how: string } {
  const copy: Mutable = { ...msg };
  const how = breakOne(copy, msg, p);
  return { message: copy as unknown as Message, how };
}

function breakOne(copy: Mutable, msg: Message, p: Prng): string {
  // Type-specific breakage first when the type has some, else one of the envelope breakages.
  if (p.chance(0.5)) {
    switch (msg.type) {
      case 'append':
        if (msg.entries.length > 0 && p.chance(0.5)) {
          const entries = [...msg.entries];
          const first = entries[0]!;
          entries[0] = { ...first, index: first.index + 1 };
          copy['entries'] = entries;
          return 'entries not contiguous with prevIndex';
        }
        copy['prevIndex'] = -1;
        return 'negative prevIndex';
      case 'appendResp':
        copy['index'] = 0.5;
        return 'fractional index';
      case 'vote':
      case 'preVote':
        copy['lastLogTerm'] = msg.term;
        return 'last log term not below the campaign term';
      case 'heartbeat':
      case 'heartbeatResp':
      case 'readIndex':
        copy['context'] = 7;
        return 'context is not a string';
      case 'snapshot':
        copy['snapshot'] = { ...msg.snapshot, meta: { ...msg.snapshot.meta, index: 0 } };
        return 'snapshot at index 0';
      default:
        break;
    }
  }
  switch (p.int(4)) {
    case 0:
      copy['term'] = -1;
      return 'negative term';
    case 1:
      copy['to'] = `${msg.to}-elsewhere`;
      return 'addressed to another node';
    case 2:
      copy['type'] = 'bogus';
      return 'unknown type';
    default:
      copy['from'] = msg.to;
      return 'from the receiver itself';
  }
}
