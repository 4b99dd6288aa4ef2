// A cluster of `catga node` child processes on one machine with static membership: what
// `catga dev`, the benchmark and the integration tests start. Each member has its own ports and
// data directory; members beyond `bootstrapExpect` join the others when started.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_ENV } from '../common/process-env.js';
import type { LocalPki } from './local-pki.js';

export const CATGA_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface LocalMember {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly url: string;
  proc: ChildProcess | null;
}

export interface LocalClusterOptions {
  readonly dir: string;
  readonly members: number;
  /** Size of the first configuration (default: all members). */
  readonly bootstrapExpect?: number;
  readonly host?: string;
  /** First HTTP / peer port; 0 picks free ports. */
  readonly httpBase?: number;
  readonly peerBase?: number;
  readonly clusterId: string;
  readonly secret: string;
  readonly adminToken: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Where each member's stdout/stderr goes (default: ignored). */
  readonly output?: (id: string, chunk: string) => void;
}

/** Lowest port below which local members' ports are chosen. */
const PORT_FLOOR = 10_000;
/** Ports `freePort` handed out in this process: never twice, even to calls that run at once. */
const handedOut = new Set<number>();

/** The lowest port the kernel picks source ports of outgoing connections from (Linux), else null. */
function ephemeralLow(): number | null {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isSafeInteger(low) ? low : null;
  } catch {
    return null;
  }
}

function listenOnce(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(null));
    s.listen(port, host, () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on `host`. A member keeps its ports across restarts, so they are chosen below
 * the kernel's range of source ports: a port the kernel picks (listen on 0) is one it may give to
 * an outgoing connection (a peer's reconnect, a client's request) while the member is down, and
 * the member could not listen on it again.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let tries = 0; low !== null && low > PORT_FLOOR + 1_000 && tries < 100; tries++) {
    const port = PORT_FLOOR + Math.floor(Math.random() * (low - PORT_FLOOR));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if ((await listenOnce(port, host)) !== null) return port;
    handedOut.delete(port);
  }
  const port = await listenOnce(0, host);
  if (port === null) throw new Error(`no free port on ${host}`);
  handedOut.add(port);
  return port;
}

export class LocalCluster {
  readonly members: LocalMember[] = [];
  private readonly o: LocalClusterOptions;
  private readonly expect: number;

  private constructor(o: LocalClusterOptions) {
    this.o = o;
    this.expect = o.bootstrapExpect ?? o.members;
  }

  /** Lays out the members (ports, directories); starts none of them. */
  static async create(o: LocalClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(o);
    const host = o.host ?? '127.0.0.1';
    for (let i = 0; i < o.members; i++) {
      const httpPort = o.httpBase ? o.httpBase + i : await freePort(host);
      const peerPort = o.peerBase ? o.peerBase + i : await freePort(host);
      const id = `n${i + 1}`;
      c.members.push({ id, httpPort, peerPort, dataDir: join(o.dir, id), url: `http://${host}:${httpPort}`, proc: null });
    }
    return c;
  }

  /** CATGA_PEERS for member `i`: the first configuration, plus itself when it joins later. */
  private peers(i: number): string {
    const host = this.o.host ?? '127.0.0.1';
    const listed = this.members.slice(0, this.expect);
    if (i >= this.expect) listed.push(this.members[i]!);
    return listed.map((m) => `${m.id}=${host}:${m.peerPort}`).join(',');
  }

  start(i: number, extraEnv: Readonly<Record<string, string>> = {}): LocalMember {
    const m = this.members[i]!;
    if (m.proc !== null && m.proc.exitCode === null && m.proc.signalCode === null) throw new Error(`${m.id} is already running`);
    const env: Record<string, string> = {
      ...NODE_PROCESS_ENV,
      ...(process.env as Record<string, string>),
      CATGA_NODE_ID: m.id,
      CATGA_DATA_DIR: m.dataDir,
      CATGA_BIND_HOST: this.o.host ?? '127.0.0.1',
      CATGA_HTTP_PORT: String(m.httpPort),
      CATGA_PEER_PORT: String(m.peerPort),
      CATGA_PEERS: this.peers(i),
      CATGA_BOOTSTRAP_EXPECT: String(this.expect),
      CATGA_CLUSTER_ID: this.o.clusterId,
      CATGA_CLUSTER_SECRET: this.o.secret,
      CATGA_ADMIN_TOKEN: this.o.adminToken,
      ...this.o.env,
      ...extraEnv,
    };
    const out = this.o.output;
    const proc = spawn(process.execPath, [CATGA_MAIN, 'node'], { env, stdio: ['ignore', out ? 'pipe' : 'ignore', out ? 'pipe' : 'ignore'] });
    if (out) {
      proc.stdout!.on('data', (b: Buffer) => out(m.id, b.toString('utf8')));
      proc.stderr!.on('data', (b: Buffer) => out(m.id, b.toString('utf8')));
    }
    m.proc = proc;
    return m;
  }

  /** Starts the first members; with `pki`, each gets a certificate of its own (HTTPS and mutual TLS). */
  startAll(pki: LocalPki | null = null): void {
    for (let i = 0; i < Math.min(this.expect, this.members.length); i++) {
      const id = this.members[i]!.id;
      if (pki !== null) pki.issue(id);
      this.start(i, pki === null ? {} : pki.nodeEnv(id));
    }
  }

  running(i: number): boolean {
    const p = this.members[i]!.proc;
    return p !== null && p.exitCode === null && p.signalCode === null;
  }

  /** Sends `signal` and resolves with the exit code once the process is gone (null if killed by a signal). */
  stop(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.members[i]!.proc;
    if (p === null || !this.running(i)) return Promise.resolve(p?.exitCode ?? null);
    const done = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return done;
  }

  stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<Array<number | null>> {
    return Promise.all(this.members.map((_, i) => this.stop(i, signal)));
  }

  /** Resolves when every started member has exited by itself. */
  exited(): Promise<Array<number | null>> {
    return Promise.all(this.members.map((m) => (m.proc === null || m.proc.exitCode !== null || m.proc.signalCode !== null
      ? Promise.resolve(m.proc?.exitCode ?? null)
      : new Promise<number | null>((r) => m.proc!.once('exit', (code) => r(code))))));
  }
}
