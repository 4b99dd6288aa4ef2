// Single-server membership changes: their wire encoding, and how one change turns a ConfState
// into the next. Whether a change is allowed against a configuration is decided here too, so the
// leader (at proposal) and every node (when the entry reaches its log) agree byte for byte.

import type { ConfChange, ConfState, NodeId } from './types.js';

/** Longest node id and peer address a conf change may carry. */
export const MAX_NODE_ID_LENGTH = 253;
export const MAX_ADDRESS_LENGTH = 512;
/** Longest storage incarnation id a conf change or message may carry. */
export const MAX_INCARNATION_LENGTH = 64;

export class ConfChangeError extends Error {
  readonly code = 'INVALID_CONF_CHANGE';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const checked = parseConfChangeValue(cc);
  if (checked === null) throw new ConfChangeError('malformed conf change');
  return encoder.encode(JSON.stringify(checked));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const cc = parseConfChange(data);
  if (cc === null) throw new ConfChangeError('malformed conf change entry');
  return cc;
}

/** Decodes a conf entry's data; null when it is not a well-formed ConfChange. */
export function parseConfChange(data: Uint8Array): ConfChange | null {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  return parseConfChangeValue(value);
}

function parseConfChangeValue(value: unknown): ConfChange | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!isNodeId(v['node'])) return null;
  const node = v['node'];
  const incarnation = v['incarnation'];
  if (incarnation !== undefined && !isIncarnation(incarnation)) return null;
  switch (v['type']) {
    case 'addLearner':
      if (!isAddress(v['address'])) return null;
      return incarnation === undefined ? { type: 'addLearner', node, address: v['address'] } : { type: 'addLearner', node, address: v['address'], incarnation };
    case 'updateAddress':
      if (!isAddress(v['address']) || incarnation !== undefined) return null;
      return { type: v['type'], node, address: v['address'] };
    case 'replace':
      if (!isAddress(v['address']) || incarnation === undefined) return null;
      return { type: 'replace', node, address: v['address'], incarnation };
    case 'promote':
      return incarnation === undefined ? { type: 'promote', node } : { type: 'promote', node, incarnation };
    case 'remove':
      if (incarnation !== undefined) return null;
      return { type: v['type'], node };
    default:
      return null;
  }
}

export function isIncarnation(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_INCARNATION_LENGTH;
}

export function isNodeId(v: unknown): v is NodeId {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_NODE_ID_LENGTH;
}

function isAddress(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ADDRESS_LENGTH;
}

/** Why `cc` cannot apply to `conf`, or null when it can. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | null {
  const isVoter = conf.voters.includes(cc.node);
  const isLearner = conf.learners.includes(cc.node);
  switch (cc.type) {
    case 'addLearner':
      return isVoter || isLearner ? `${cc.node} is already a member` : null;
    case 'promote': {
      if (!isLearner) return `${cc.node} is not a learner`;
      const recorded = conf.incarnations?.[cc.node];
      // Once incarnations are recorded, every voter has one: a vote or an acknowledgement counts
      // only from the incarnation recorded for its sender.
      if (conf.incarnations !== undefined && recorded === undefined && cc.incarnation === undefined) return `${cc.node} has no incarnation to record`;
      return cc.incarnation !== undefined && recorded !== undefined && recorded !== cc.incarnation
        ? `${cc.node} was added with incarnation ${recorded}, not ${cc.incarnation}`
        : null;
    }
    case 'replace':
      if (!isVoter && !isLearner) return `${cc.node} is not a member`;
      if (conf.incarnations?.[cc.node] === cc.incarnation) return `${cc.node} already has incarnation ${cc.incarnation}`;
      return isVoter && conf.voters.length === 1 ? 'cannot replace the last voter' : null;
    case 'remove':
      if (!isVoter && !isLearner) return `${cc.node} is not a member`;
      return isVoter && conf.voters.length === 1 ? 'cannot remove the last voter' : null;
    case 'updateAddress':
      return isVoter || isLearner ? null : `${cc.node} is not a member`;
  }
}

/** The configuration after `cc`; `cc` must be valid for `conf` (see confChangeProblem). */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  switch (cc.type) {
    case 'addLearner':
      return withIncarnation({
        voters: conf.voters,
        learners: [...conf.learners, cc.node],
        addresses: { ...conf.addresses, [cc.node]: cc.address },
      }, conf.incarnations, cc.node, cc.incarnation ?? null);
    case 'promote':
      return withIncarnation({
        voters: [...conf.voters, cc.node],
        learners: conf.learners.filter((id) => id !== cc.node),
        addresses: conf.addresses,
      }, conf.incarnations, cc.node, cc.incarnation ?? conf.incarnations?.[cc.node] ?? null);
    case 'replace':
      return withIncarnation({
        voters: conf.voters.filter((id) => id !== cc.node),
        learners: [...conf.learners.filter((id) => id !== cc.node), cc.node],
        addresses: { ...conf.addresses, [cc.node]: cc.address },
      }, conf.incarnations, cc.node, cc.incarnation);
    case 'remove': {
      const addresses = { ...conf.addresses };
      delete addresses[cc.node];
      return withIncarnation({
        voters: conf.voters.filter((id) => id !== cc.node),
        learners: conf.learners.filter((id) => id !== cc.node),
        addresses,
      }, conf.incarnations, cc.node, null);
    }
    case 'updateAddress':
      return withIncarnation(
        { voters: conf.voters, learners: conf.learners, addresses: { ...conf.addresses, [cc.node]: cc.address } },
        conf.incarnations, cc.node, conf.incarnations?.[cc.node] ?? null,
      );
  }
}

/** `conf` with `node`'s incarnation set to `incarnation` (null: none recorded); no empty record map. */
function withIncarnation(
  conf: ConfState,
  previous: Readonly<Record<NodeId, string>> | undefined,
  node: NodeId,
  incarnation: string | null,
): ConfState {
  const incarnations: Record<NodeId, string> = { ...previous };
  if (incarnation === null) delete incarnations[node];
  else incarnations[node] = incarnation;
  return Object.keys(incarnations).length === 0 ? conf : { ...conf, incarnations };
}

export const EMPTY_CONF: ConfState = { voters: [], learners: [], addresses: {} };

/**
 * The conf changes that build `conf` from nothing: every member is added as a learner, then the
 * voters are promoted. A brand-new cluster writes them as its first log entries (term 1), so a
 * member that joins later learns the initial configuration by ordinary replication.
 */
export function bootstrapChanges(conf: ConfState): ConfChange[] {
  const changes: ConfChange[] = [];
  for (const node of [...conf.voters, ...conf.learners]) {
    const address = conf.addresses[node];
    if (!isAddress(address)) throw new ConfChangeError(`bootstrap member ${node} has no valid address`);
    const incarnation = conf.incarnations?.[node];
    changes.push(incarnation === undefined ? { type: 'addLearner', node, address } : { type: 'addLearner', node, address, incarnation });
  }
  for (const node of conf.voters) changes.push({ type: 'promote', node });
  return changes;
}
