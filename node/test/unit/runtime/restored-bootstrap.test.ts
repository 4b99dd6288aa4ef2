// The bootstrap probe of a restored first member, over real peer transports: when the other first
// members already started the restored cluster, it takes their first configuration only if they
// started from the same backup with this member (and its incarnation) in it; otherwise it is told
// the cluster is established (and, restored, refuses to start).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../../src/local/local-cluster.js';
import type { ConfState } from '../../../src/raft/types.js';
import { createLogger } from '../../../src/common/logger.js';
import { freshIncarnations } from '../../../src/runtime/membership.js';
import { PROBE_RPC, serveRpc } from '../../../src/runtime/peer-rpc.js';
import { PeerDirectory } from '../../../src/runtime/peer-directory.js';
import { createPeerTransport } from '../../../src/transport/index.js';
import type { PeerTransport } from '../../../src/transport/types.js';

const SECRET = 'restored-bootstrap-test-secret-0123456789';
const log = createLogger('n2', 'error', () => 0);

describe('a restored first member probing a restored cluster that already runs', () => {
  let running: PeerTransport;
  let prober: PeerTransport;
  let seeds: Record<string, string>;
  const conf: ConfState = {
    voters: ['n1', 'n2'], learners: [], addresses: { n1: 'a1', n2: 'a2' }, incarnations: { n1: 'inc-n1', n2: 'inc-n2' },
  };

  before(async () => {
    const [runningPort, proberPort] = await Promise.all([freePort(), freePort()]);
    running = createPeerTransport({ id: 'n1', clusterId: 'restored', secret: SECRET, listenHost: '127.0.0.1', listenPort: runningPort! });
    serveRpc(running, PROBE_RPC, () => ({ established: true, incarnation: 'inc-n1', restoredFrom: 'sha-A', addresses: conf.addresses, restoredStart: { from: 'sha-A', conf } }));
    await running.start();
    prober = createPeerTransport({ id: 'n2', clusterId: 'restored', secret: SECRET, listenHost: '127.0.0.1', listenPort: proberPort! });
    await prober.start();
    seeds = { n1: `127.0.0.1:${runningPort}`, n2: `127.0.0.1:${proberPort}` };
  });
  after(async () => {
    await prober.close();
    await running.close();
  });

  const probe = (incarnation: string, restoredFrom: string | null) =>
    freshIncarnations(prober, new PeerDirectory('n2', (p) => prober.setPeers(p)), seeds, { id: 'n2', incarnation }, restoredFrom, log);

  it('takes the running cluster\'s first configuration when it came from the same backup and names this incarnation', async () => {
    assert.deepEqual(await probe('inc-n2', 'sha-A'), { kind: 'restoredCluster', conf });
  });

  it('is told the cluster is established for another backup, another incarnation, or an empty directory', async () => {
    assert.deepEqual(await probe('inc-n2', 'sha-B'), { kind: 'established' });
    assert.deepEqual(await probe('inc-other', 'sha-A'), { kind: 'established' });
    assert.deepEqual(await probe('inc-n2', null), { kind: 'established' });
  });
});
