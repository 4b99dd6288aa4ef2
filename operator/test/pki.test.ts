// The operator's own X.509: DER encodings against known bytes, and certificates that Node's
// parser, the openssl command line and a real mutual-TLS handshake all accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { objectIdentifier, time, tlv, unsignedInteger } from '../src/pki/der.js';
import { leafFacts, parseBundle } from '../src/pki/inspect.js';
import { createCa, issueLeaf } from '../src/pki/x509.js';

const NOW = Date.now();
const validity = (days: number) => ({ notBefore: new Date(NOW - 60_000), notAfter: new Date(NOW + days * 86_400_000) });

test('DER: lengths, OIDs, integers and times encode as the standard says', () => {
  assert.deepEqual(tlv(0x04, Buffer.alloc(3)).subarray(0, 2), Buffer.from([0x04, 3]));
  assert.deepEqual(tlv(0x04, Buffer.alloc(200)).subarray(0, 3), Buffer.from([0x04, 0x81, 200]));
  assert.deepEqual(tlv(0x04, Buffer.alloc(300)).subarray(0, 4), Buffer.from([0x04, 0x82, 0x01, 0x2c]));
  assert.equal(objectIdentifier('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(objectIdentifier('2.5.29.17').toString('hex'), '0603551d11');
  assert.equal(unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080', 'a high bit gets a zero byte: the value stays positive');
  assert.equal(unsignedInteger(Buffer.from([0, 0, 0x05])).toString('hex'), '020105', 'leading zeros go');
  assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1'), '\x17\x0d491231235959Z');
  assert.equal(time(new Date('2050-01-01T00:00:00Z')).toString('latin1'), '\x18\x0f20500101000000Z');
});

test('a CA and a leaf that Node and openssl accept for TLS servers and clients', () => {
  const ca = createCa({ commonName: 'catga CA ns/c test', ...validity(1825) });
  const names = ['c-0', 'c-0.c-hl.ns.svc', 'c-0.c-hl.ns.svc.cluster.local', 'c', 'c-leader.ns.svc'];
  const leaf = issueLeaf(ca, { commonName: 'c-0', ...validity(90) }, names);
  const caCert = new X509Certificate(ca.cert);
  const leafCert = new X509Certificate(leaf.cert);
  assert.equal(caCert.ca, true);
  assert.equal(leafCert.ca, false);
  assert.equal(leafCert.subject, 'CN=c-0');
  assert.equal(leafCert.issuer, caCert.subject);
  assert.ok(leafCert.checkIssued(caCert) && leafCert.verify(caCert.publicKey));
  assert.ok(leafCert.checkPrivateKey(createPrivateKey(leaf.key)), 'the key is the certificate\'s');
  const facts = leafFacts(leaf.cert, parseBundle(ca.cert));
  assert.deepEqual(facts?.dnsNames, names);
  assert.equal(facts?.issuer, caCert.fingerprint256);
  assert.ok(Math.abs(facts!.notAfterMs - (NOW + 90 * 86_400_000)) < 1000);

  const dir = mkdtempSync(join(tmpdir(), 'catga-pki-test-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'leaf.crt'), leaf.cert);
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')], { encoding: 'utf8' });
      assert.match(out, /leaf\.crt: OK/);
    }
    // A leaf of another CA is refused by the same check.
    const other = issueLeaf(createCa({ commonName: 'other', ...validity(10) }), { commonName: 'c-0', ...validity(1) }, ['c-0']);
    writeFileSync(join(dir, 'other.crt'), other.cert);
    assert.throws(() => execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'other.crt')], { stdio: 'pipe' }));
    assert.equal(leafFacts(other.cert, parseBundle(ca.cert))?.issuer, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a mutual TLS handshake between two leaves of the same CA, each checked against the CA', async () => {
  const ca = createCa({ commonName: 'catga CA handshake', ...validity(30) });
  const server = issueLeaf(ca, { commonName: 'c-0', ...validity(1) }, ['c-0', 'c-0.c-hl.ns.svc']);
  const client = issueLeaf(ca, { commonName: 'c-1', ...validity(1) }, ['c-1']);
  const seen: string[] = [];
  const listener = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    seen.push(socket.getPeerCertificate().subject.CN as string);
    socket.end('hello');
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: (listener.address() as AddressInfo).port, cert: client.cert, key: client.key, ca: ca.cert, servername: 'c-0.c-hl.ns.svc' }, () => {
        assert.equal(socket.authorized, true);
      });
      let data = '';
      socket.on('data', (d: Buffer) => { data += d.toString(); });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.equal(reply, 'hello');
    assert.deepEqual(seen, ['c-1']);
  } finally {
    listener.close();
  }
});
