// Shape and range checks for every message handed to `step`, done once at the edge so the state
// machine can trust its input. A message that fails here is refused before any state is touched.

import { isIncarnation, isNodeId, parseConfChange } from './confchange.js';
import type { ConfState, Entry, NodeId, Snapshot } from './types.js';

/** Longest ReadIndex context a message may carry. */
export const MAX_READ_CONTEXT_LENGTH = 1024;
/** Most entries one append message may carry (a sender's batch limit is far below it). */
export const MAX_ENTRIES_PER_APPEND = 65_536;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isContext(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_READ_CONTEXT_LENGTH;
}

/** Why `value` is not a valid message addressed to `self`, or null when it is. */
export function messageProblem(value: unknown, self: NodeId): string | null {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const m = value as Record<string, unknown>;
  if (!isNodeId(m['from']) || !isNodeId(m['to'])) return 'bad from/to';
  if (m['to'] !== self) return `addressed to ${String(m['to'])}, not ${self}`;
  if (m['from'] === self) return 'message from myself';
  if (!isCount(m['term'])) return 'bad term';
  if (m['inc'] !== undefined && !isIncarnation(m['inc'])) return 'bad incarnation';
  const term = m['term'];
  switch (m['type']) {
    case 'vote':
    case 'preVote':
      if (term < 1 || !isCount(m['lastLogIndex']) || !isCount(m['lastLogTerm'])) return 'bad vote request';
      if (m['lastLogTerm'] >= term) return 'last log term not below the campaign term';
      if ((m['lastLogIndex'] === 0) !== (m['lastLogTerm'] === 0)) return 'last log index/term mismatch';
      return typeof m['transfer'] === 'boolean' ? null : 'bad transfer flag';
    case 'voteResp':
    case 'preVoteResp':
      return typeof m['reject'] === 'boolean' ? null : 'bad reject flag';
    case 'append':
      return appendProblem(m, term);
    case 'appendResp':
      if (!isCount(m['index']) || typeof m['reject'] !== 'boolean') return 'bad append response';
      if (!isCount(m['hintIndex']) || !isCount(m['hintTerm'])) return 'bad hint';
      if (m['hintTerm'] > term) return 'hint term above message term';
      if (m['reject'] && m['hintIndex'] > m['index']) return 'hint index above rejected index';
      return null;
    case 'heartbeat':
      if (term < 1 || !isCount(m['commit'])) return 'bad heartbeat';
      return isContext(m['context']) ? null : 'bad context';
    case 'heartbeatResp':
      return isContext(m['context']) ? null : 'bad context';
    case 'snapshot':
      if (term < 1) return 'bad term';
      return snapshotProblem(m['snapshot'], term);
    case 'timeoutNow':
      return term < 1 ? 'bad term' : null;
    case 'readIndex':
      return isContext(m['context']) ? null : 'bad context';
    case 'readIndexResp':
      if (!isContext(m['context']) || !isCount(m['index']) || typeof m['reject'] !== 'boolean') return 'bad read index response';
      return m['reject'] && m['index'] !== 0 ? 'rejected read index response with an index' : null;
    default:
      return 'unknown message type';
  }
}

function appendProblem(m: Record<string, unknown>, term: number): string | null {
  const { prevIndex, prevTerm, commit, entries } = m;
  if (term < 1 || !isCount(prevIndex) || !isCount(prevTerm) || !isCount(commit)) return 'bad append header';
  if (prevTerm > term) return 'prev term above message term';
  if ((prevIndex === 0) !== (prevTerm === 0)) return 'prev index/term mismatch';
  if (!Array.isArray(entries) || entries.length > MAX_ENTRIES_PER_APPEND) return 'bad entries';
  let lastTerm = prevTerm;
  for (let i = 0; i < entries.length; i++) {
    const problem = entryProblem(entries[i], prevIndex + 1 + i, lastTerm, term);
    if (problem !== null) return `entry ${i}: ${problem}`;
    lastTerm = (entries[i] as Entry).term;
  }
  return null;
}

function entryProblem(value: unknown, index: number, minTerm: number, maxTerm: number): string | null {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const e = value as Record<string, unknown>;
  if (e['index'] !== index) return `index is not ${index} (entries must follow prevIndex contiguously)`;
  if (!isCount(e['term']) || e['term'] < 1) return 'bad term';
  if (e['term'] < minTerm) return 'term below the previous entry';
  if (e['term'] > maxTerm) return 'term above message term';
  if (!(e['data'] instanceof Uint8Array)) return 'data is not bytes';
  if (e['type'] === 'normal') return null;
  if (e['type'] === 'conf') return parseConfChange(e['data']) === null ? 'conf change does not decode' : null;
  return 'bad entry type';
}

function snapshotProblem(value: unknown, term: number): string | null {
  if (typeof value !== 'object' || value === null) return 'bad snapshot';
  const s = value as Partial<Snapshot>;
  if (!(s.data instanceof Uint8Array)) return 'snapshot data is not bytes';
  const meta = s.meta as unknown;
  if (typeof meta !== 'object' || meta === null) return 'bad snapshot meta';
  const { index, term: snapTerm, conf } = meta as Record<string, unknown>;
  if (!isCount(index) || index < 1 || !isCount(snapTerm) || snapTerm < 1) return 'bad snapshot index/term';
  if (snapTerm > term) return 'snapshot term above message term';
  return confStateProblem(conf);
}

export function confStateProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'bad conf state';
  const { voters, learners, addresses } = value as Partial<ConfState>;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return 'bad conf members';
  if (typeof addresses !== 'object' || addresses === null) return 'bad conf addresses';
  const seen = new Set<string>();
  for (const id of [...voters, ...learners] as unknown[]) {
    if (!isNodeId(id) || seen.has(id)) return 'bad or duplicate conf member';
    if (typeof addresses[id] !== 'string') return `no address for ${id}`;
    seen.add(id);
  }
  const { incarnations } = value as Partial<ConfState>;
  if (incarnations !== undefined) {
    if (typeof incarnations !== 'object' || incarnations === null) return 'bad conf incarnations';
    for (const [id, incarnation] of Object.entries(incarnations)) {
      if (!seen.has(id) || !isIncarnation(incarnation)) return `bad incarnation for ${id}`;
    }
  }
  return voters.length === 0 ? 'conf state without voters' : null;
}
