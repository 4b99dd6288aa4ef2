// The control plane's credentials, generated per run: a CA (openssl), the API server's serving
// certificate, client certificates (admin in system:masters, the front proxy), a service-account
// signing key pair (node:crypto) and a static admin bearer token.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './errors.js';

const run = promisify(execFile);

/** Certificates outlive any test run by far; short enough to never be mistaken for real ones. */
const VALID_DAYS = '2';

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  frontProxyCert: string;
  frontProxyKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** Static token file line: token,user,uid,"groups". */
  tokenFile: string;
  adminToken: string;
}

export const FRONT_PROXY_CLIENT = 'front-proxy-client';
const ADMIN_USER = 'harness-admin';

function opensslConfig(serverSans: string[]): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    '[ca]',
    'basicConstraints = critical,CA:TRUE',
    'keyUsage = critical,keyCertSign,cRLSign',
    '[server]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${serverSans.join(',')}`,
    '[client]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = clientAuth',
    '',
  ].join('\n');
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new HarnessError('OPENSSL_MISSING', 'openssl is not installed (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** Writes every credential into dir. serverSans: e.g. ["IP:127.0.0.1", "DNS:localhost"]. */
export async function generatePki(dir: string, serverSans: string[]): Promise<Pki> {
  const file = (name: string): string => join(dir, name);
  const config = file('openssl.cnf');
  writeFileSync(config, opensslConfig(serverSans));
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', VALID_DAYS];
  const pki: Pki = {
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    serverCert: file('apiserver.crt'),
    serverKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    frontProxyCert: file('front-proxy.crt'),
    frontProxyKey: file('front-proxy.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPub: file('sa.pub'),
    tokenFile: file('tokens.csv'),
    adminToken: randomBytes(24).toString('hex'),
  };
  await openssl(['req', '-x509', '-config', config, '-extensions', 'ca', ...newKey, '-keyout', pki.caKey, '-out', pki.caCert, '-subj', '/CN=catga-harness-ca']);
  const signed = (extensions: string, subject: string, cert: string, key: string): Promise<void> =>
    openssl(['req', '-x509', '-config', config, '-extensions', extensions, '-CA', pki.caCert, '-CAkey', pki.caKey, ...newKey, '-keyout', key, '-out', cert, '-subj', subject]);
  await Promise.all([
    signed('server', '/CN=kube-apiserver', pki.serverCert, pki.serverKey),
    signed('client', `/O=system:masters/CN=${ADMIN_USER}`, pki.adminCert, pki.adminKey),
    signed('client', `/CN=${FRONT_PROXY_CLIENT}`, pki.frontProxyCert, pki.frontProxyKey),
  ]);
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(pki.serviceAccountKey, privateKey, { mode: 0o600 });
  writeFileSync(pki.serviceAccountPub, publicKey);
  writeFileSync(pki.tokenFile, `${pki.adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
  return pki;
}
