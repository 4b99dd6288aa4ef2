// Backups in a directory store, end to end without a node: a pinned engine view streamed as the
// backup route streams it, written (segments, manifest, verify on write), read back, damaged in
// every way a store can damage it, restored into a data directory; retention; the checked-in
// backup of format 1 still restores.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { backupFolderName, pruneBackups, readBackup, writeBackup } from '../../../src/backup/backup.js';
import { END_FRAME, frame, FrameReader, MANIFEST_NAME, MAX_FRAME_BYTES, parseManifest } from '../../../src/backup/format.js';
import { pendingRestore, readRestoreMarker, restoreBackup } from '../../../src/backup/restore.js';
import { openStore } from '../../../src/backup/store.js';
import { BackupSources } from '../../../src/runtime/backup-source.js';
import { SNAPSHOT_META_KEY } from '../../../src/state/snapshot-stream.js';
import { decodeIndex, encodeIndex } from '../../../src/state/engine.js';
import { LmdbStateEngine } from '../../../src/state/lmdb-engine.js';

const FIXTURE = fileURLToPath(new URL('../../../../test/unit/backup/fixtures/backup-format-1', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'catga-backup-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `d${dirs++}`);

/** An engine holding `rows` module keys of `valueBytes` each, applied at `index`, with idempotency rows and the old cluster's snapshot metadata. */
function sourceEngine(rows: number, valueBytes: number, index: number): { engine: LmdbStateEngine; stateBytes: number; idemRows: number } {
  const engine = new LmdbStateEngine(newDir());
  let stateBytes = 0;
  engine.write((tx) => {
    for (let i = 0; i < rows; i++) {
      const key = `key-${String(i).padStart(8, '0')}`;
      const value = Buffer.alloc(valueBytes, i % 251);
      tx.put('state', Buffer.from(`kv\0${key}`), value);
      stateBytes += Buffer.byteLength(key) + valueBytes;
    }
    tx.put('idem', Buffer.from('token\0kv.put\0retry-1'), Buffer.from('{"result":1}'));
    tx.put('meta', Buffer.from('applied'), encodeIndex(index));
    tx.put('meta', SNAPSHOT_META_KEY, Buffer.from(JSON.stringify({ index: index - 10, term: 3, conf: { voters: ['old'], learners: [], addresses: {} } })));
  });
  return { engine, stateBytes, idemRows: 1 };
}

/** The backup route's body for a source, as pieces of `pieceBytes` (what the HTTP client receives). */
async function* routeBody(engine: LmdbStateEngine, stateBytes: number, idemRows: number, index: number, o: { pieceBytes?: number; cutAfter?: number; lie?: boolean } = {}): AsyncIterable<Uint8Array> {
  const sources = new BackupSources({
    sm: { engine, appliedIndex: index, stateBytes: stateBytes + (o.lie === true ? 1 : 0), idempotencyKeys: idemRows, reload: () => {} },
    nodeId: 'n2', clusterId: 'old-cluster', raft: () => ({ term: 7, conf: { voters: ['n1', 'n2', 'n3'], learners: [], addresses: {} } }), chunkBytes: 64 * 1024,
  });
  const source = sources.start();
  const frames = [frame(Buffer.from(JSON.stringify(source.header)))];
  for (let c = source.next(); c !== null; c = source.next()) frames.push(frame(c));
  source.close();
  if (o.cutAfter === undefined) frames.push(END_FRAME);
  const body = Buffer.concat(o.cutAfter === undefined ? frames : frames.slice(0, o.cutAfter));
  const piece = o.pieceBytes ?? 100_000;
  for (let at = 0; at < body.length; at += piece) yield body.subarray(at, at + piece);
}

describe('FrameReader', () => {
  it('splits frames whatever the piece boundaries, and sees the end', () => {
    const payloads = [Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('xyz')];
    const body = Buffer.concat([...payloads.map(frame), END_FRAME]);
    for (const step of [1, 3, 4, 5, 1000, body.length]) {
      const r = new FrameReader();
      const got: Buffer[] = [];
      for (let at = 0; at < body.length; at += step) got.push(...r.push(body.subarray(at, at + step)));
      assert.deepEqual(got.map((g) => g.toString('hex')), payloads.map((p) => p.toString('hex')), `pieces of ${step}`);
      assert.equal(r.complete, true);
    }
  });

  it('refuses a frame over the limit and bytes after the end', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES + 1);
    assert.throws(() => new FrameReader().push(head), /over the limit/);
    assert.throws(() => new FrameReader().push(Buffer.concat([END_FRAME, Buffer.from('x')])), /after the end/);
  });
});

describe('backup to a directory', () => {
  it('writes segments and a manifest that describe the state at the pinned index, and reads them back', async () => {
    const { engine, stateBytes, idemRows } = sourceEngine(3_000, 1_000, 5_000);
    const store = await openStore(newDir());
    const { store: folder, manifest } = await writeBackup(routeBody(engine, stateBytes, idemRows, 5_000, { pieceBytes: 7_777 }), store, { segmentBytes: 1024 * 1024, now: () => new Date('2026-01-02T03:04:05.678Z') });
    await engine.close();
    assert.equal(folder.location, join(store.location, 'backup-20260102T030405Z-000000005000'));
    assert.equal(manifest.index, 5_000);
    assert.equal(manifest.term, 7);
    assert.equal(manifest.clusterId, 'old-cluster');
    assert.equal(manifest.sourceNode, 'n2');
    assert.equal(manifest.stateBytes, stateBytes);
    assert.ok(manifest.segments.length >= 3, `about 3 MB in segments of 1 MiB: ${manifest.segments.length}`);
    assert.deepEqual(readdirSync(folder.location).sort(), [MANIFEST_NAME, ...manifest.segments.map((s) => s.name)].sort());
    let records = 0;
    const again = await readBackup(folder, (r) => { records += r.length; });
    assert.deepEqual(again, manifest);
    assert.equal(records, 3_000 + 1 + 2);
  });

  it('refuses a stream cut short, or one whose totals differ from its header, and leaves no folder behind', async () => {
    const { engine, stateBytes, idemRows } = sourceEngine(500, 500, 42);
    const store = await openStore(newDir());
    await assert.rejects(writeBackup(routeBody(engine, stateBytes, idemRows, 42, { cutAfter: 2 }), store), /ended early/);
    await assert.rejects(writeBackup(routeBody(engine, stateBytes, idemRows, 42, { lie: true }), store), /does not match its header \(applied 42\/42, state bytes/);
    await engine.close();
    assert.deepEqual(await store.folders(), []);
  });

  it('verify finds a flipped byte, a cut or missing segment, and a manifest from a newer catga', async () => {
    const { engine, stateBytes, idemRows } = sourceEngine(400, 2_000, 9);
    const store = await openStore(newDir());
    const { store: folder, manifest } = await writeBackup(routeBody(engine, stateBytes, idemRows, 9), store, { segmentBytes: 256 * 1024 });
    await engine.close();
    const segment = join(folder.location, manifest.segments[1]!.name);
    const good = readFileSync(segment);
    const flipped = Buffer.from(good);
    flipped[flipped.length >> 1]! ^= 0x01;
    writeFileSync(segment, flipped);
    await assert.rejects(readBackup(folder), /snapshot chunk fails its checksum|fails its SHA-256/);
    writeFileSync(segment, good.subarray(0, good.length - 10));
    await assert.rejects(readBackup(folder), /holds \d+ bytes, its manifest says/);
    rmSync(segment);
    await assert.rejects(readBackup(folder), /ENOENT/);
    writeFileSync(segment, good);
    await readBackup(folder);
    const doc = JSON.parse(readFileSync(join(folder.location, MANIFEST_NAME), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(folder.location, MANIFEST_NAME), JSON.stringify({ ...doc, format: 2 }));
    await assert.rejects(readBackup(folder), /backup format 2 is not one this node reads \(1 to 1\)/);
    await assert.rejects(readBackup(await openStore(newDir())), /no backup at .*manifest\.json/);
  });

  it('refuses locations it cannot use, with a clear message', async () => {
    await assert.rejects(openStore('gs://bucket/x'), /only a directory or s3:\/\/bucket\/prefix/);
    await assert.rejects(openStore('s3://B/x'), /is not s3:\/\/bucket\[\/prefix\]/);
    await assert.rejects(openStore('s3://bucket/a/../b'), /"\." or "\.\."/);
    await assert.rejects(openStore('s3://bucket/x', { endpoint: 'ftp://h' }), /is not http\(s\):\/\/host/);
    await assert.rejects(openStore('/tmp/x', { endpoint: 'http://h:1' }), /applies to s3:\/\/ locations only/);
  });
});

describe('restore', () => {
  it('fills an empty data directory with the backup state, without the old snapshot metadata, and a marker for the first start', async () => {
    const { engine, stateBytes, idemRows } = sourceEngine(200, 100, 77);
    const { store } = await writeBackup(routeBody(engine, stateBytes, idemRows, 77), await openStore(newDir()));
    await engine.close();
    const dataDir = newDir();
    await assert.rejects(restoreBackup(store, { dataDir, nodeId: 'n1', clusterId: 'old-cluster' }), /must differ from the backup's/);
    assert.deepEqual(readdirSync(dataDir), [], 'a failed restore leaves the directory empty');
    const manifest = await restoreBackup(store, { dataDir, nodeId: 'n1', clusterId: 'new-cluster' });
    assert.equal(manifest.index, 77);
    const restored = new LmdbStateEngine(join(dataDir, 'state'));
    assert.equal(decodeIndex(restored.get('meta', Buffer.from('applied'))), 77);
    assert.equal(restored.get('meta', SNAPSHOT_META_KEY), undefined);
    assert.equal(restored.range('state', { prefix: Buffer.from('kv\0'), limit: 1_000 }).length, 200);
    assert.equal(restored.range('idem', { prefix: Buffer.alloc(0), limit: 10 }).length, 1);
    assert.deepEqual(readRestoreMarker(restored), { clusterId: 'new-cluster', nodeId: 'n1', index: 77, backup: manifest.sha256, sourceClusterId: 'old-cluster' });
    assert.throws(() => pendingRestore(restored, { clusterId: 'other', nodeId: 'n1' }, true, null), /restored for cluster "new-cluster", but the node runs with cluster id "other"/);
    assert.throws(() => pendingRestore(restored, { clusterId: 'new-cluster', nodeId: 'n2' }, true, null), /restored for node "n1", but the node runs as "n2"/);
    assert.equal(pendingRestore(restored, { clusterId: 'new-cluster', nodeId: 'n1' }, true, null)?.index, 77);
    // Stopped after its first start wrote the new cluster's snapshot to its log: the restore is finished.
    const meta = { index: 77, term: 1, conf: { voters: ['n1'], learners: [], addresses: {} } };
    assert.equal(pendingRestore(restored, { clusterId: 'new-cluster', nodeId: 'n1' }, false, meta), null);
    assert.equal(readRestoreMarker(restored), null);
    assert.deepEqual(JSON.parse(Buffer.from(restored.get('meta', SNAPSHOT_META_KEY)!).toString('utf8')), meta);
    await restored.close();
    await assert.rejects(restoreBackup(store, { dataDir, nodeId: 'n1', clusterId: 'new-cluster' }), /is not empty/);
  });

  it('restores the checked-in backup of format 1 (written by catga 0.1.0)', async () => {
    const manifest = parseManifest(readFileSync(join(FIXTURE, MANIFEST_NAME)));
    assert.equal(manifest.format, 1);
    const copy = newDir();
    cpSync(FIXTURE, copy, { recursive: true });
    const dataDir = newDir();
    // A fresh volume's lost+found does not make it non-empty.
    mkdirSync(join(dataDir, 'lost+found'), { recursive: true });
    await restoreBackup(await openStore(copy), { dataDir, nodeId: 'n1', clusterId: 'from-fixture' });
    const restored = new LmdbStateEngine(join(dataDir, 'state'));
    try {
      assert.equal(decodeIndex(restored.get('meta', Buffer.from('applied'))), 9);
      const kv = (key: string): unknown => {
        const v = restored.get('state', Buffer.from(`kv\0${key}`));
        return v === undefined ? undefined : JSON.parse(Buffer.from(v).toString('utf8'));
      };
      assert.deepEqual(kv('k1'), { v: 'v1', n: 1 });
      assert.equal(kv('k2'), undefined, 'k2 was deleted before the backup');
      assert.deepEqual(kv('once'), { v: 'applied once', n: 1 });
      assert.equal(restored.range('idem', { prefix: Buffer.alloc(0), limit: 10 }).length, 1);
      assert.equal(restored.range('state', { prefix: Buffer.from('orders\0'), limit: 10 }).length > 0, true);
    } finally {
      await restored.close();
    }
  });
});

describe('retention', () => {
  it('keeps the newest N, removes older ones only past the age limit, and leaves other folders alone', async () => {
    const dir = newDir();
    const store = await openStore(dir);
    const day = 24 * 3600 * 1000;
    const now = new Date('2026-06-30T12:00:00Z');
    const names = [40, 20, 10, 3, 1].map((daysAgo, i) => backupFolderName(new Date(now.getTime() - daysAgo * day), 100 + i));
    for (const n of [...names, 'not-a-backup']) mkdirSync(join(dir, n), { recursive: true });
    assert.deepEqual(await pruneBackups(store, { keep: 2, maxAgeMs: 15 * day }, now), [names[1], names[0]]);
    assert.deepEqual(await store.folders(), [names[2], names[3], names[4], 'not-a-backup'].sort());
    assert.deepEqual(await pruneBackups(store, { keep: 1, maxAgeMs: null }, now), [names[3], names[2]]);
    assert.deepEqual(await store.folders(), [names[4], 'not-a-backup'].sort());
    await assert.rejects(pruneBackups(store, { keep: 0, maxAgeMs: null }, now), /keep at least 1/);
  });
});
