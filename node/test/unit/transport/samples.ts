// Test fixtures for the transport tests: one or more messages of every Raft message type with
// edge values, and a seeded PRNG so that fuzz cases are reproducible from their seed.
import type { Message } from '../../../src/raft/types.js';
export { seededRandom } from '../../../src/sim/prng.js';

export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}


const MAX = Number.MAX_SAFE_INTEGER;

export function sampleMessages(): Message[] {
  const env = { from: 'n1', to: 'n2', term: 7 };
  return [
    { ...env, type: 'vote', lastLogIndex: 10, lastLogTerm: 6, transfer: false },
    { ...env, type: 'preVote', term: MAX, lastLogIndex: MAX, lastLogTerm: 0, transfer: true },
    { ...env, type: 'voteResp', reject: true },
    { ...env, type: 'preVoteResp', reject: false },
    { ...env, type: 'append', prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
    {
      ...env,
      from: 'catga-0',
      to: 'catga-12',
      type: 'append',
      prevIndex: 127,
      prevTerm: 128,
      commit: 16384,
      entries: [
        { term: 7, index: 128, type: 'normal', data: new Uint8Array(0) },
        { term: 7, index: 129, type: 'conf', data: bytes(1, 2, 3) },
        { term: 2 ** 40, index: 2 ** 35, type: 'normal', data: new Uint8Array(300).fill(0xab) },
      ],
    },
    { ...env, type: 'appendResp', index: 42, reject: true, hintIndex: 40, hintTerm: 5 },
    { ...env, type: 'heartbeat', commit: 99, context: '' },
    { ...env, type: 'heartbeat', commit: 0, context: 'read-ctx-ünïcödé-日本-🙂' },
    { ...env, type: 'heartbeatResp', context: 'r1' },
    {
      ...env,
      type: 'snapshot',
      snapshot: {
        meta: {
          index: 1000,
          term: 6,
          conf: {
            voters: ['n1', 'n2', 'n3'],
            learners: ['n4'],
            addresses: { n1: '127.0.0.1:7081', n2: 'x-1.x-hl.ns.svc.cluster.local:7080', n3: '[::1]:7083', n4: 'h:1' },
          },
        },
        data: new Uint8Array(5000).map((_, i) => i & 0xff),
      },
    },
    {
      ...env,
      type: 'snapshot',
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [], addresses: {} } }, data: new Uint8Array(0) },
    },
    { ...env, type: 'timeoutNow' },
    { ...env, type: 'readIndex', context: 'q-123' },
    { ...env, type: 'readIndexResp', context: 'q-123', index: 77, reject: false },
    { ...env, type: 'readIndexResp', context: '', index: 0, reject: true },
  ];
}

/** A small append as the leader sends it in steady state: one entry of `size` bytes. */
export function smallAppend(from: string, to: string, index: number, size = 64): Message {
  return {
    type: 'append',
    from,
    to,
    term: 3,
    prevIndex: index - 1,
    prevTerm: 3,
    commit: index - 1,
    entries: [{ term: 3, index, type: 'normal', data: new Uint8Array(size).fill(index & 0xff) }],
  };
}
