// StatefulSet pod names: `<name>-<ordinal>`. The ordinal decides who belongs to the first
// configuration: ordinals 0..expect-1 bootstrap it, every other pod joins later as a learner.
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

export function ordinalOf(id: NodeId): number {
  return parsePodName(id).ordinal;
}

/**
 * Whether a brand-new pod may bootstrap the cluster: only the first `expect` ordinals do. Any other
 * pod must join as a learner through the leader. (A pod with Raft state never bootstraps at all.)
 */
export function mayBootstrap(id: NodeId, expect: number): boolean {
  return ordinalOf(id) < expect;
}
