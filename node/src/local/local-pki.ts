// A local PKI made with the openssl command line (Debian's `openssl`): a CA and, per node, a
// certificate for both TLS roles naming that node (CN and DNS SAN) and 127.0.0.1. For clusters on
// one machine (`catga dev --tls`, the TLS rows of `catga bench`, tests); Kubernetes clusters take
// theirs from a Secret.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsMaterial } from '../transport/tls.js';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface LocalPkiOptions {
  /** Where the CA and certificates live; a CA already there is reused (default: a new temp dir). */
  readonly dir?: string;
  /** The CA's common name when one is made. */
  readonly name?: string;
  /** Validity of the CA and of each certificate (default 1 day). */
  readonly days?: number;
}

export class LocalPki {
  readonly dir: string;
  readonly ca: string;
  /** The CA certificate's file (for `curl --cacert`). */
  readonly caFile: string;
  private readonly days: string;

  constructor(o: LocalPkiOptions = {}) {
    this.dir = o.dir ?? mkdtempSync(join(tmpdir(), 'catga-pki-'));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.days = String(o.days ?? 1);
    this.caFile = join(this.dir, 'ca.crt');
    if (!existsSync(this.caFile) || !existsSync(join(this.dir, 'ca.key'))) {
      openssl(this.dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', 'ca.key', '-out', 'ca.crt', '-days', this.days, '-subj', `/CN=${o.name ?? 'catga-local-ca'}`);
    }
    this.ca = readFileSync(this.caFile, 'utf8');
  }

  /** A certificate of this CA naming `name` (CN and DNS SAN, plus any `extraDns`) and 127.0.0.1. */
  issue(name: string, extraDns: readonly string[] = []): TlsMaterial {
    const ext = join(this.dir, `${name}.ext`);
    const sans = [name, ...extraDns].map((d) => `DNS:${d}`).concat('IP:127.0.0.1').join(',');
    writeFileSync(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(this.dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(this.dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', this.days, '-extfile', ext);
    return { cert: readFileSync(this.certFile(name), 'utf8'), key: readFileSync(this.keyFile(name), 'utf8'), ca: this.ca };
  }

  certFile(name: string): string {
    return join(this.dir, `${name}.crt`);
  }

  keyFile(name: string): string {
    return join(this.dir, `${name}.key`);
  }

  /** The environment that gives node `name` its TLS files (issue `name` first). */
  nodeEnv(name: string): Record<string, string> {
    return { CATGA_TLS_CERT_FILE: this.certFile(name), CATGA_TLS_KEY_FILE: this.keyFile(name), CATGA_TLS_CA_FILE: this.caFile };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
