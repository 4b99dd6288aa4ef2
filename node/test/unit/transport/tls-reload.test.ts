// TLS material reloaded from disk: the reloader takes a whole, consistent set written the way the
// kubelet updates a mounted Secret and refuses a broken one; peers keep their established links
// through a leaf and a CA rotation, and their new connections use the new material both ways.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LocalPki } from '../../../src/local/local-pki.js';
import { TlsReloader } from '../../../src/transport/tls-reload.js';
import type { TlsMaterial } from '../../../src/transport/tls.js';
import { closeAll, startNode, type TestNode } from './harness.js';
import { smallAppend } from './samples.js';
import { SecretVolume } from './secret-volume.js';

const first = new LocalPki({ name: 'first-ca' });
const second = new LocalPki({ name: 'second-ca' });
const dir = mkdtempSync(join(tmpdir(), 'catga-tls-reload-'));
const open: TestNode[] = [];
after(async () => {
  await closeAll(open);
  first.remove();
  second.remove();
  rmSync(dir, { recursive: true, force: true });
});

const files = (m: TlsMaterial): Record<string, string> => ({ 'tls.crt': m.cert, 'tls.key': m.key, 'ca.crt': m.ca });

test('a changed, consistent set is taken; a mismatched key, a foreign CA and missing files are refused and the current set kept', async () => {
  const initial = first.issue('n1');
  const volume = new SecretVolume(join(dir, 'unit'), files(initial));
  const logged: string[] = [];
  const reloader = new TlsReloader({ cert: volume.path('tls.crt'), key: volume.path('tls.key'), ca: volume.path('ca.crt') }, initial, 1_000, (event) => logged.push(event));
  const seen: TlsMaterial[] = [];
  reloader.onChange((m) => seen.push(m));
  assert.equal(await reloader.check(), 'unchanged');

  const renewed = first.issue('n1');
  volume.update(files(renewed));
  assert.equal(await reloader.check(), 'reloaded');
  assert.deepEqual(seen, [renewed]);
  assert.equal(await reloader.check(), 'unchanged');

  const other = first.issue('n2');
  volume.update({ ...files(renewed), 'tls.key': other.key });
  assert.equal(await reloader.check(), 'refused', 'a key that is not the certificate\'s');
  const foreign = second.issue('n1');
  volume.update({ ...files(foreign), 'ca.crt': first.ca });
  assert.equal(await reloader.check(), 'refused', 'a certificate no CA of the bundle issued');
  rmSync(volume.path('..data'));
  assert.equal(await reloader.check(), 'refused', 'files gone');
  assert.deepEqual(reloader.material, renewed);
  assert.equal(seen.length, 1);
  assert.deepEqual(logged, ['tls_reloaded', 'tls_reload_refused', 'tls_reload_refused', 'tls_reload_refused']);
});

/** Sends from `from` to `to` until one arrives; false if none did within the time. */
async function gets(from: TestNode, to: TestNode, index: number): Promise<boolean> {
  const before = to.received.length;
  for (let i = 0; i < 20; i++) {
    from.transport.send(smallAppend(from.id, to.id, index));
    await new Promise((r) => setTimeout(r, 25));
    if (to.received.length > before) return true;
  }
  return false;
}

test('established peer links survive a leaf and CA rotation; new connections, both ways, use the new material', async () => {
  const a = await startNode('a', { tls: first.issue('a') });
  const b = await startNode('b', { tls: first.issue('b') });
  open.push(a, b);
  a.transport.setPeers({ b: `127.0.0.1:${b.transport.port}` });
  b.transport.setPeers({ a: `127.0.0.1:${a.transport.port}` });
  assert.ok(await gets(a, b, 1) && await gets(b, a, 1), 'the link is up');

  // The three steps of a CA rotation, applied as each node would reload them.
  const bundle = first.ca + second.ca;
  const rotateTo = (ca: string, issuer: LocalPki): void => {
    for (const n of [a, b]) n.transport.setTls({ ...issuer.issue(n.id), ca });
  };
  rotateTo(bundle, first);
  rotateTo(bundle, second);
  rotateTo(second.ca, second);
  assert.ok(await gets(a, b, 2) && await gets(b, a, 2), 'the established links still carry messages');
  assert.equal(a.counters.reconnects.get('b') ?? 0, 0, 'a never reconnected');
  assert.equal(b.counters.reconnects.get('a') ?? 0, 0, 'b never reconnected');

  // b's listener now trusts only the second CA and presents its leaf.
  const stale = await startNode('c', { tls: first.issue('c') });
  const fresh = await startNode('d', { tls: second.issue('d') });
  open.push(stale, fresh);
  stale.transport.setPeers({ b: `127.0.0.1:${b.transport.port}` });
  fresh.transport.setPeers({ b: `127.0.0.1:${b.transport.port}` });
  assert.equal(await gets(stale, b, 1), false, 'a dialer with the retired CA\'s leaf is refused');
  assert.ok(await gets(fresh, b, 1), 'a dialer with the new CA\'s leaf gets through');
  // a dials a new peer that trusts only the second CA: a presents its new leaf.
  const e = await startNode('e', { tls: second.issue('e') });
  open.push(e);
  a.transport.setPeers({ b: `127.0.0.1:${b.transport.port}`, e: `127.0.0.1:${e.transport.port}` });
  assert.ok(await gets(a, e, 1), 'a\'s new outbound connection uses its new certificate');
});
