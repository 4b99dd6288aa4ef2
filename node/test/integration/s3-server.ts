// Test fixture: a real S3-compatible server, SeaweedFS (`bin/weed`, built by `make tools`), as one
// `weed server` process (master, volume server, filer and S3 gateway) on free ports in a temporary
// directory, with one access key. `close()` stops it and removes its directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/local-cluster.js';
import { until } from './cluster.js';

export const WEED = fileURLToPath(new URL('../../../../bin/weed', import.meta.url));
const ACCESS_KEY = 'catga-test-access-key';
const SECRET_KEY = 'catga-test-secret-key-0123456789';

export class S3Server {
  private output = '';
  private constructor(private readonly dir: string, private readonly proc: ChildProcess, readonly endpoint: string, private readonly grpcPorts: readonly number[]) {
    proc.stdout!.on('data', (b: Buffer) => { this.output = (this.output + b.toString('utf8')).slice(-20_000); });
    proc.stderr!.on('data', (b: Buffer) => { this.output = (this.output + b.toString('utf8')).slice(-20_000); });
  }

  /** What a client of this server needs in its environment (the AWS SDK's standard variables). */
  get env(): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: 'us-east-1' };
  }

  get log(): string {
    return this.output;
  }

  static async start(): Promise<S3Server> {
    if (!existsSync(WEED)) throw new Error(`${WEED} is missing: run make tools (or bash scripts/tools.sh weed)`);
    const dir = mkdtempSync(join(tmpdir(), 'catga-s3-'));
    mkdirSync(join(dir, 'data'));
    const config = join(dir, 's3.json');
    writeFileSync(config, JSON.stringify({ identities: [{ name: 'catga-test', credentials: [{ accessKey: ACCESS_KEY, secretKey: SECRET_KEY }], actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'] }] }));
    // Every port explicit (gRPC ones too, which weed otherwise puts at port + 10000): other test runs share the machine.
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    const proc = spawn(WEED, [
      'server', `-dir=${join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
      `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, '-master.volumeSizeLimitMB=1024', '-master.telemetry=false',
      `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`, '-volume.max=50',
      '-filer', `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`, `-filer.localSocket=${join(dir, 'filer.sock')}`,
      '-s3', `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, `-s3.config=${config}`, `-s3.localSocket=${join(dir, 's3.sock')}`,
      // Everything else it could start stays off: no listener beyond the ports above.
      '-s3.port.iceberg=0', '-s3.port.lance=0', '-iam=false', '-s3.iam=false',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new S3Server(dir, proc, `http://127.0.0.1:${s3}`, [masterGrpc!, volumeGrpc!, filerGrpc!, s3Grpc!]);
    try {
      const client = server.client();
      await until('the S3 server to create a bucket', async () => {
        await client.send(new CreateBucketCommand({ Bucket: 'backups' }));
        return true;
      }, 60_000, 250);
      client.destroy();
    } catch (err) {
      await server.close();
      throw new Error(`${(err as Error).message}\n${server.log.slice(-3000)}`);
    }
    return server;
  }

  client(): S3Client {
    return new S3Client({
      endpoint: this.endpoint, forcePathStyle: true, region: 'us-east-1',
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    });
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    // weed leaves a socket per gRPC port in /tmp, named by the port.
    for (const name of readdirSync('/tmp')) {
      if (this.grpcPorts.some((port) => name.startsWith('seaweedfs-') && name.endsWith(`-grpc-${port}.sock`))) rmSync(join('/tmp', name), { force: true });
    }
  }
}
