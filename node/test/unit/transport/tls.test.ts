// Mutual TLS on the peer link: peers with certificates from the cluster's CA that name them talk;
// a certificate from another CA, one naming another node, a listener whose certificate names
// someone else, and a plain WebSocket dialer never get a message through; each refusal at the TLS
// layer that the dialer sees is counted as a handshake refusal, as the plain handshake's are.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { PEER_PATH } from '../../../src/transport/context.js';
import { certificateNames, PEER_NOT_NAMED, tlsRejectReason } from '../../../src/transport/tls.js';
import { closeAll, startNode, waitFor, type TestNode } from './harness.js';
import { LocalPki } from '../../../src/local/local-pki.js';
import { smallAppend } from './samples.js';

const pki = new LocalPki();
const rogue = new LocalPki({ name: 'rogue-ca' });
const open: TestNode[] = [];
after(async () => {
  await closeAll(open);
  pki.remove();
  rogue.remove();
});

async function pair(aTls: ReturnType<LocalPki['issue']>, bTls: ReturnType<LocalPki['issue']>): Promise<[TestNode, TestNode]> {
  const a = await startNode('a', { tls: aTls });
  const b = await startNode('b', { tls: bTls });
  open.push(a, b);
  a.transport.setPeers({ b: `127.0.0.1:${b.transport.port}` });
  b.transport.setPeers({ a: `127.0.0.1:${a.transport.port}` });
  return [a, b];
}

/** Sends from a to b for a while and says whether anything arrived. */
async function delivered(a: TestNode, b: TestNode): Promise<boolean> {
  for (let i = 1; i <= 10; i++) {
    a.transport.send(smallAppend('a', 'b', i));
    await new Promise((r) => setTimeout(r, 50));
  }
  return b.received.length > 0;
}

test('two peers with certificates from the cluster CA that name them exchange messages over mutual TLS', async () => {
  const [a, b] = await pair(pki.issue('a'), pki.issue('b', ['b.cluster-hl.ns.svc.cluster.local']));
  a.transport.send(smallAppend('a', 'b', 1));
  b.transport.send(smallAppend('b', 'a', 1));
  await waitFor('messages both ways', () => a.received.length === 1 && b.received.length === 1);
  await closeAll([a, b]);
});

test('a dialer with a certificate from another CA gets nothing through', async () => {
  const [a, b] = await pair(rogue.issue('a'), pki.issue('b'));
  assert.equal(await delivered(a, b), false);
  await closeAll([a, b]);
});

test('a dialer whose certificate names another node is refused at the handshake and counted', async () => {
  const [a, b] = await pair(pki.issue('c'), pki.issue('b'));
  assert.equal(await delivered(a, b), false);
  await waitFor('the refusal', () => b.counters.rejectedCount('node_id_mismatch', 'inbound') > 0);
  await closeAll([a, b]);
});

test('a listener whose certificate names another node is not trusted by the dialer, which counts node_id_mismatch', async () => {
  const [a, b] = await pair(pki.issue('a'), pki.issue('c'));
  assert.equal(await delivered(a, b), false);
  await waitFor('the refusal', () => a.counters.rejectedCount('node_id_mismatch', 'outbound') > 0);
  await closeAll([a, b]);
});

test('a listener with a certificate from another CA is counted auth_failed by the dialer', async () => {
  const [a, b] = await pair(pki.issue('a'), rogue.issue('b'));
  assert.equal(await delivered(a, b), false);
  await waitFor('the refusal', () => a.counters.rejectedCount('auth_failed', 'outbound') > 0);
  await closeAll([a, b]);
});

test('TLS errors map to handshake refusals; a reset or a refused connection is none', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(tlsRejectReason(err(PEER_NOT_NAMED)), 'node_id_mismatch');
  assert.equal(tlsRejectReason(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), 'auth_failed');
  assert.equal(tlsRejectReason(err('CERT_HAS_EXPIRED')), 'auth_failed');
  assert.equal(tlsRejectReason(err('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')), 'auth_failed');
  assert.equal(tlsRejectReason(err('ERR_TLS_HANDSHAKE_TIMEOUT')), 'handshake_timeout');
  assert.equal(tlsRejectReason(err('ECONNRESET')), null);
  assert.equal(tlsRejectReason(err('ECONNREFUSED')), null);
  assert.equal(tlsRejectReason(new Error('no code')), null);
});

test('a plain WebSocket dialer cannot even open the peer path', async () => {
  const b = await startNode('b', { tls: pki.issue('b') });
  open.push(b);
  const ws = new WebSocket(`ws://127.0.0.1:${b.transport.port}${PEER_PATH}`);
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('error', () => resolve('error'));
    ws.once('close', () => resolve('closed'));
  });
  assert.notEqual(outcome, 'open');
  ws.terminate();
  await closeAll([b]);
});

test('the naming rule: the common name, or a DNS name that is the id or starts with "<id>."', () => {
  const cert = (cn: string, san: string) => ({ subject: { CN: cn }, subjectaltname: san }) as never;
  assert.equal(certificateNames(cert('a', ''), 'a'), true);
  assert.equal(certificateNames(cert('x', 'DNS:db-0.db-hl.ns.svc.cluster.local, IP Address:10.0.0.1'), 'db-0'), true);
  assert.equal(certificateNames(cert('x', 'DNS:db-01.db-hl.ns.svc'), 'db-0'), false);
  assert.equal(certificateNames(cert('db-0x', 'DNS:evil.db-0'), 'db-0'), false);
  assert.equal(certificateNames({} as never, 'a'), false);
});
