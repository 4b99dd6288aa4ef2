// A local PKI made with the openssl command line (Debian's `openssl`): a CA and, per node, a
// certificate for both TLS roles naming that node (CN and DNS SAN) and 127.0.0.1. For clusters on
// one machine (`catga bench --tls`, tests); Kubernetes clusters take theirs from a Secret.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsMaterial } from '../transport/tls.js';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export class LocalPki {
  private readonly dir = mkdtempSync(join(tmpdir(), 'catga-pki-'));
  readonly ca: string;

  constructor(name = 'test-ca') {
    openssl(this.dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${name}`);
    this.ca = readFileSync(join(this.dir, 'ca.crt'), 'utf8');
  }

  /** A certificate of this CA naming `name` (CN and DNS SAN, plus any `extraDns`) and 127.0.0.1. */
  issue(name: string, extraDns: readonly string[] = []): TlsMaterial {
    const ext = join(this.dir, `${name}.ext`);
    const sans = [name, ...extraDns].map((d) => `DNS:${d}`).concat('IP:127.0.0.1').join(',');
    writeFileSync(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(this.dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(this.dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext);
    return { cert: readFileSync(join(this.dir, `${name}.crt`), 'utf8'), key: readFileSync(join(this.dir, `${name}.key`), 'utf8'), ca: this.ca };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
