// The peer the benchmark compares against: a 3-member etcd cluster on loopback (Debian's
// etcd-server, fsync on as by default), driven through its JSON gateway like Catga's HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../local/local-cluster.js';

export interface EtcdCluster {
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  readonly version: string;
  stop(): Promise<void>;
}

export function etcdBinary(): string {
  for (const p of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(p)) return p;
  throw new Error('etcd not found: install Debian\'s etcd-server (make setup does)');
}

export async function startEtcd(dir: string, members = 3): Promise<EtcdCluster> {
  const bin = etcdBinary();
  const ports = await Promise.all(Array.from({ length: members }, async () => ({ client: await freePort(), peer: await freePort() })));
  const initial = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
  const procs: ChildProcess[] = ports.map((p, i) => spawn(bin, [
    '--name', `e${i + 1}`,
    '--data-dir', join(dir, `e${i + 1}`),
    '--listen-client-urls', `http://127.0.0.1:${p.client}`,
    '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${p.peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
    '--initial-cluster', initial,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', 'catga-bench',
    '--log-level', 'error',
  ], { stdio: 'ignore', env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } }));
  const version = await new Promise<string>((resolve) => {
    const v = spawn(bin, ['--version']);
    let out = '';
    v.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    v.on('exit', () => resolve(/etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown'));
  });
  return {
    urls: ports.map((p) => `http://127.0.0.1:${p.client}`),
    pids: procs.map((p) => p.pid!),
    version,
    stop: async () => {
      await Promise.all(procs.map((p) => new Promise<void>((r) => {
        if (p.exitCode !== null || p.signalCode !== null) return r();
        p.once('exit', () => r());
        p.kill('SIGTERM');
      })));
    },
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Request bodies for etcd's JSON gateway (`/v3/kv/put`, `/v3/kv/range`). */
export const etcdBodies = {
  put: (key: string, value: string): string => `{"key":"${b64(key)}","value":"${b64(value)}"}`,
  range: (key: string, serializable: boolean): string => `{"key":"${b64(key)}","serializable":${serializable}}`,
};
