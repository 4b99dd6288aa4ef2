// `catga dev --nodes N`: a local cluster on 127.0.0.1, one `catga node` child process per member,
// data under ./.catga/ (kept across runs, so a restarted cluster picks up where it stopped).
// `--handlers a.ts,b.js` loads the application's modules on every node (paths resolve against the
// current directory); `--no-builtins` leaves out the built-in kv and orders modules. Port 0
// (`--http-port 0 --peer-port 0`) picks free ports: for a fresh data directory only (refused on a
// used one), since the members' peer addresses are kept in the replicated configuration. Each
// member is listed with its URL and process id (kill one to watch a failover).
// It asks for open access (no token on the client API): it listens on loopback only. `--tls` makes
// (once, kept in <data dir>/tls) a local CA and a certificate per node: HTTPS, wss:// and mutual
// TLS between the nodes.
// Ctrl-C stops every node gracefully.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseHandlerPaths } from '../catga/loader.js';
import { LocalCluster } from '../local/local-cluster.js';
import { LocalPki } from '../local/local-pki.js';
import { FlagError, intFlag, parseOrExplain, readFlags } from '../common/flags.js';

interface DevOptions {
  nodes: number;
  dir: string;
  httpBase: number;
  peerBase: number;
  tls: boolean;
  handlers: string[];
  builtins: boolean;
}

const DEV_USAGE = 'catga dev [--nodes N] [--data-dir DIR] [--http-port P] [--peer-port P] [--tls] [--handlers a.ts,b.js] [--no-builtins]';

function parse(argv: readonly string[]): DevOptions {
  const f = readFlags(argv, {
    nodes: { type: 'string' }, 'data-dir': { type: 'string' }, 'http-port': { type: 'string' }, 'peer-port': { type: 'string' },
    tls: { type: 'boolean' }, handlers: { type: 'string' }, 'no-builtins': { type: 'boolean' },
  });
  if (f['data-dir'] === '') throw new FlagError('--data-dir: expected a path');
  const handlers = f.handlers === undefined ? [] : parseHandlerPaths(f.handlers).map((path) => resolve(path));
  if (f.handlers !== undefined && handlers.length === 0) throw new FlagError('--handlers: expected comma-separated module paths');
  return {
    nodes: intFlag('nodes', f.nodes, 1, 9, 3),
    dir: f['data-dir'] ?? '.catga',
    httpBase: intFlag('http-port', f['http-port'], 0, 65000, 8081),
    peerBase: intFlag('peer-port', f['peer-port'], 0, 65000, 7081),
    tls: f.tls === true,
    handlers,
    builtins: f['no-builtins'] !== true,
  };
}

/** A secret kept in the data directory, so that restarts of the dev cluster reuse it. */
function persistentSecret(dir: string, name: string): string {
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const s = randomBytes(24).toString('base64url');
  writeFileSync(file, s + '\n', { mode: 0o600 });
  return s;
}

export async function runDevCli(argv: string[]): Promise<number> {
  const o = parseOrExplain('dev', `usage: ${DEV_USAGE}`, argv, parse);
  if (o === null) return 2;
  const dir = resolve(o.dir);
  if ((o.httpBase === 0 || o.peerBase === 0) && existsSync(join(dir, 'n1'))) {
    throw new Error(`port 0: ${dir} holds a cluster whose members' addresses are fixed; give its ports or a fresh --data-dir`);
  }
  mkdirSync(dir, { recursive: true });
  const adminToken = persistentSecret(dir, 'admin-token');
  const cluster = await LocalCluster.create({
    dir, members: o.nodes, httpBase: o.httpBase, peerBase: o.peerBase,
    clusterId: 'catga-dev', secret: persistentSecret(dir, 'cluster-secret'), adminToken,
    env: { CATGA_OPEN_ACCESS: 'true', CATGA_HANDLERS: o.handlers.join(','), CATGA_BUILTINS: String(o.builtins) },
    output: (id, chunk) => {
      for (const line of chunk.split('\n')) if (line.length > 0) process.stdout.write(`[${id}] ${line}\n`);
    },
  });
  const pki = o.tls ? new LocalPki({ dir: join(dir, 'tls'), days: 365 }) : null;
  const urlOf = (url: string): string => (pki === null ? url : url.replace(/^http:/, 'https:'));
  cluster.startAll(pki);
  process.stdout.write(`catga dev: ${o.nodes} node(s), data in ${dir}\n`);
  for (const m of cluster.members) process.stdout.write(`  ${m.id}: ${urlOf(m.url)}  (peer port ${m.peerPort}, pid ${m.proc?.pid})\n`);
  process.stdout.write(`  admin token: ${adminToken}\n  open access: the client API needs no token (loopback only)\n`);
  if (pki !== null) process.stdout.write(`  TLS: CA certificate ${pki.caFile}\n`);
  const curl = `curl -s${pki === null ? '' : ` --cacert ${pki.caFile}`}`;
  if (o.handlers.length > 0) process.stdout.write(`  handlers: ${o.handlers.join(', ')}${o.builtins ? '' : ' (no built-ins)'}\n`);
  process.stdout.write(o.builtins
    ? `  try: ${curl} -XPOST ${urlOf(cluster.members[0]!.url)}/v1/commands/kv.put -H 'content-type: application/json' -d '{"key":"a","value":"1"}'\n`
    : `  the commands, queries and events served: ${curl} ${urlOf(cluster.members[0]!.url)}/v1/openapi.json\n`);
  const stop = (): void => { void cluster.stopAll('SIGTERM'); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const codes = await cluster.exited();
  return codes.every((c) => c === 0) ? 0 : 1;
}
