// Who adds a node (runtime/membership.ts): a fresh node outside the first configuration asks the
// cluster to add it only when auto-join is on; with CATGA_AUTO_JOIN=false (the operator's pods) it
// never sends a join and waits to be added. Either way it stops joining once it is a voter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RaftDriver } from '../../../src/driver/driver.js';
import { createLogger } from '../../../src/common/logger.js';
import type { ConfState } from '../../../src/raft/types.js';
import { loadConfig } from '../../../src/runtime/config.js';
import { Membership } from '../../../src/runtime/membership.js';
import { JOIN_RPC, PROBE_RPC } from '../../../src/runtime/peer-rpc.js';
import type { PeerTransport } from '../../../src/transport/types.js';

const CREDS = { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_CLUSTER_SECRET: 'cluster-secret-0123456789' };
const PEERS = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003,n4=127.0.0.1:7004';
const log = createLogger('n4', 'error', () => 0);
const EMPTY: ConfState = { voters: [], learners: [], addresses: {} };

/** A transport that records the requests it is asked to send and answers every one with a refusal. */
function recordingTransport(): { transport: PeerTransport; sent: string[] } {
  const sent: string[] = [];
  const transport: PeerTransport = {
    start: async () => {}, setPeers: () => {}, send: () => {}, onMessage: () => {}, onRequest: () => {}, close: async () => {},
    request: async (_to, kind) => { sent.push(kind); throw Object.assign(new Error('no'), { code: 'PEER_UNAVAILABLE' }); },
  };
  return { transport, sent };
}

const driver = { softState: { leader: null }, status: () => ({ conf: EMPTY }) } as unknown as RaftDriver;

async function fourthNode(autoJoin: boolean): Promise<{ membership: Membership; sent: string[] }> {
  const cfg = loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n4', CATGA_PEERS: PEERS, CATGA_BOOTSTRAP_EXPECT: '3', CATGA_AUTO_JOIN: String(autoJoin) });
  const { transport, sent } = recordingTransport();
  const membership = new Membership({ cfg, incarnation: 'inc-4', restoredFrom: null, transport, log });
  assert.equal(await membership.firstConfiguration(true), null, 'n4 is outside the first configuration');
  assert.equal(membership.decideJoining(EMPTY, true, null), true);
  membership.running(driver, () => false);
  await new Promise((r) => setTimeout(r, 1_100));
  return { membership, sent };
}

test('auto-join on: a node outside the first configuration asks to join, and stops once it is a voter', async () => {
  const { membership, sent } = await fourthNode(true);
  assert.ok(sent.includes(JOIN_RPC.kind), `sent ${sent.join(', ')}`);
  assert.ok(sent.includes(PROBE_RPC.kind), 'it asks where the members listen');
  membership.onConf({ voters: ['n1', 'n4'], learners: [], addresses: { n1: 'h:1', n4: 'h:4' }, incarnations: { n4: 'inc-4' } });
  assert.equal(membership.isJoining, false);
  const before = sent.length;
  await new Promise((r) => setTimeout(r, 1_100));
  assert.equal(sent.length, before, 'nothing more is asked once it is a voter');
  membership.close();
});

test('auto-join off (the operator decides): the node never sends a join and waits to be added', async () => {
  const { membership, sent } = await fourthNode(false);
  assert.deepEqual(sent, []);
  assert.equal(membership.isJoining, true, 'it still waits for the configuration that admits it');
  membership.close();
});
