// `catga dev --nodes N`: a local cluster on 127.0.0.1, one `catga node` child process per member,
// data under ./.catga/ (kept across runs, so a restarted cluster picks up where it stopped).
// Ctrl-C stops every node gracefully.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

interface DevOptions {
  nodes: number;
  dir: string;
  httpBase: number;
  peerBase: number;
}

function parse(argv: readonly string[]): DevOptions {
  const o: DevOptions = { nodes: 3, dir: '.catga', httpBase: 8081, peerBase: 7081 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const int = (name: string, min: number, max: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer from ${min} to ${max}, got "${v ?? ''}"`);
      i++;
      return n;
    };
    if (a === '--nodes') o.nodes = int('--nodes', 1, 9);
    else if (a === '--http-port') o.httpBase = int('--http-port', 1, 65000);
    else if (a === '--peer-port') o.peerBase = int('--peer-port', 1, 65000);
    else if (a === '--data-dir') { if (!v) throw new Error('--data-dir: expected a path'); o.dir = v; i++; }
    else throw new Error(`unknown flag ${a} (catga dev [--nodes N] [--data-dir DIR] [--http-port P] [--peer-port P])`);
  }
  return o;
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
  const o = parse(argv);
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const secret = persistentSecret(dir, 'cluster-secret');
  const admin = persistentSecret(dir, 'admin-token');
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${o.peerBase + i}`).join(',');
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: ChildProcess[] = [];

  process.stdout.write(`catga dev: ${o.nodes} node(s), data in ${dir}\n`);
  ids.forEach((id, i) => {
    const env = {
      ...process.env,
      CATGA_NODE_ID: id,
      CATGA_DATA_DIR: join(dir, id),
      CATGA_BIND_HOST: '127.0.0.1',
      CATGA_HTTP_PORT: String(o.httpBase + i),
      CATGA_PEER_PORT: String(o.peerBase + i),
      CATGA_PEERS: peers,
      CATGA_CLUSTER_ID: 'catga-dev',
      CATGA_CLUSTER_SECRET: secret,
      CATGA_ADMIN_TOKEN: admin,
    };
    const child = spawn(process.execPath, [main, 'node'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) process.stdout.write(`[${id}] ${line}\n`);
    });
    children.push(child);
    process.stdout.write(`  ${id}: http://127.0.0.1:${o.httpBase + i}  (peer 127.0.0.1:${o.peerBase + i})\n`);
  });
  process.stdout.write(`  admin token: ${admin}\n  try: curl -s -XPOST http://127.0.0.1:${o.httpBase}/v1/commands/kv.put -d '{"key":"a","value":"1"}'\n`);

  const exits = children.map((c) => new Promise<number>((r) => c.on('exit', (code) => r(code ?? 1))));
  const stop = (): void => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const codes = await Promise.all(exits);
  return codes.every((c) => c === 0) ? 0 : 1;
}
