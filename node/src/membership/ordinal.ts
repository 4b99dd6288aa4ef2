// StatefulSet pod names: `<name>-<ordinal>`. With DNS membership the first configuration is
// ordinals 0..expect-1 of the name (initial-config.ts); every other pod joins later as a learner.
import type { NodeId } from '../raft/types.js';
import { MembershipError } from './errors.js';

export interface PodName {
  readonly name: string;
  readonly ordinal: number;
}

const POD_NAME = /^(.+)-(0|[1-9]\d{0,8})$/;

/** Splits `X-k` into `X` and `k`; throws INVALID_NODE_ID for anything else. */
export function parsePodName(id: NodeId): PodName {
  const m = POD_NAME.exec(id);
  if (m === null) throw new MembershipError('INVALID_NODE_ID', `node id "${id}" is not <name>-<ordinal> (a StatefulSet pod name)`);
  return { name: m[1]!, ordinal: Number(m[2]) };
}
