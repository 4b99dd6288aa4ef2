// A node serving HTTPS takes a rotated certificate from disk while clients keep sending commands:
// no request fails, a connection opened before the rotation keeps its session (and the old
// certificate), and connections opened after it get the new one. The certificate files are laid
// out and swapped the way the kubelet updates a mounted Secret, during a CA rotation (the bundle
// holds both CAs; the new leaf comes from the new one).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, test } from 'node:test';
import { LocalPki } from '../../src/local/local-pki.js';
import { SecretVolume } from '../unit/transport/secret-volume.js';
import { startLoneNode, type LoneNode } from './lone-node.js';

const oldCa = new LocalPki({ name: 'old-ca' });
const newCa = new LocalPki({ name: 'new-ca' });
const dir = mkdtempSync(join(tmpdir(), 'catga-tls-reload-'));
let lone: LoneNode | null = null;
after(async () => {
  await lone?.stop();
  oldCa.remove();
  newCa.remove();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer { status: number; serial: string }

/** One kv.put; the serial number of the certificate the server presented on that connection. */
function put(port: number, agent: Agent | false, ca: string, key: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ key, value: key });
    const req = request({
      host: '127.0.0.1', port, path: '/v1/commands/kv.put', method: 'POST', agent, ca,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serial }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('an HTTPS node reloads a rotated certificate under load without a failed request or a dropped connection', { timeout: 60_000 }, async () => {
  const bundle = oldCa.ca + newCa.ca;
  const before = oldCa.issue('n1');
  const volume = new SecretVolume(join(dir, 'tls'), { 'tls.crt': before.cert, 'tls.key': before.key, 'ca.crt': bundle });
  lone = await startLoneNode({
    CATGA_TLS_CERT_FILE: volume.path('tls.crt'), CATGA_TLS_KEY_FILE: volume.path('tls.key'), CATGA_TLS_CA_FILE: volume.path('ca.crt'),
    CATGA_TLS_RELOAD_MS: '100',
  });
  const port = lone.port;
  const keptAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const failures: string[] = [];
  const serials = { keptAlive: new Set<string>(), fresh: [] as string[] };
  let sent = 0;
  let stop = false;
  const client = async (agent: Agent | false, record: (serial: string) => void): Promise<void> => {
    while (!stop) {
      const key = `k${sent++}`;
      try {
        const answer = await put(port, agent, bundle, key);
        if (answer.status !== 200) failures.push(`${key}: HTTP ${answer.status}`);
        record(answer.serial);
      } catch (err) {
        failures.push(`${key}: ${(err as Error).message}`);
      }
    }
  };
  const running = [
    client(keptAlive, (s) => serials.keptAlive.add(s)),
    client(false, (s) => serials.fresh.push(s)),
  ];
  const oldSerial = await waitForSerial(() => serials.fresh.at(-1));
  while (sent < 50) await new Promise((r) => setTimeout(r, 10));
  const rotated = newCa.issue('n1');
  volume.update({ 'tls.crt': rotated.cert, 'tls.key': rotated.key, 'ca.crt': bundle });
  const deadline = Date.now() + 10_000;
  while (serials.fresh.at(-1) === oldSerial && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const sentAtRotation = sent;
  while (sent < sentAtRotation + 100) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await Promise.all(running);
  keptAlive.destroy();

  assert.deepEqual(failures, [], 'no request failed');
  assert.notEqual(serials.fresh.at(-1), oldSerial, 'new connections present the new certificate');
  assert.deepEqual([...serials.keptAlive], [oldSerial], 'the connection opened before the rotation kept its session throughout');
  assert.ok(serials.fresh.filter((s) => s !== oldSerial).length >= 20, 'commands kept flowing on new connections after the rotation');
});

async function waitForSerial(read: () => string | undefined): Promise<string> {
  for (;;) {
    const serial = read();
    if (serial !== undefined) return serial;
    await new Promise((r) => setTimeout(r, 10));
  }
}
