// X.509 certificates made in the operator's process (Node's crypto signs and parses but has no
// certificate builder): a self-signed CA, and leaves it signs for both TLS roles (server and
// client auth) naming a member. ECDSA P-256 with SHA-256 throughout. The clock and the validity
// are inputs; keys and serial numbers are random.
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  bitString, boolean, explicit, implicit, objectIdentifier, octetString, sequence, set, smallInteger, time, unsignedInteger, utf8String,
} from './der.js';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Upper bound of the names one certificate carries (a member has 9). */
export const MAX_CERTIFICATE_NAMES = 64;
/** A DNS name is at most 253 characters (RFC 1035). */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A certificate and its private key, PEM. */
export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const name = (commonName: string): Buffer => sequence(set(sequence(objectIdentifier(OID_COMMON_NAME), utf8String(commonName))));
const extension = (oid: string, critical: boolean, value: Buffer): Buffer =>
  sequence(objectIdentifier(oid), ...(critical ? [boolean(true)] : []), octetString(value));
const keyId = (publicKey: KeyObject): Buffer => createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 20);

function signed(tbs: Buffer, issuerKey: KeyObject): Buffer {
  const algorithm = sequence(objectIdentifier(OID_ECDSA_WITH_SHA256));
  return sequence(tbs, algorithm, bitString(sign('sha256', tbs, issuerKey)));
}

function tbsCertificate(o: {
  issuer: string; request: CertificateRequest; publicKey: KeyObject; issuerPublicKey: KeyObject; extensions: Buffer[];
}): Buffer {
  assert.ok(o.request.notBefore.getTime() < o.request.notAfter.getTime(), 'notBefore must precede notAfter');
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive, 16 bytes at most (RFC 5280: at most 20 octets)
  return sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    sequence(objectIdentifier(OID_ECDSA_WITH_SHA256)),
    name(o.issuer),
    sequence(time(o.request.notBefore), time(o.request.notAfter)),
    name(o.request.commonName),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(
      extension(OID_SUBJECT_KEY_ID, false, octetString(keyId(o.publicKey))),
      extension(OID_AUTHORITY_KEY_ID, false, sequence(implicit(0, keyId(o.issuerPublicKey)))),
      ...o.extensions,
    )),
  );
}

/** The subject common name of a certificate made by createCa (its only attribute). */
function commonNameOf(cert: X509Certificate): string {
  const cn = /^CN=(.*)$/.exec(cert.subject);
  assert.ok(cn !== null, `the CA's subject is not a lone common name: ${cert.subject}`);
  return cn[1]!;
}

function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** A self-signed CA that may sign leaves only (path length 0). */
export function createCa(request: CertificateRequest): KeyPairPem {
  const { publicKey, privateKey } = newKeyPair();
  const tbs = tbsCertificate({
    issuer: request.commonName, request, publicKey, issuerPublicKey: publicKey,
    extensions: [
      extension(OID_BASIC_CONSTRAINTS, true, sequence(boolean(true), smallInteger(0))),
      // keyCertSign (5) and cRLSign (6): bits 0-6 of one byte, 0b0000_0110 shifted to the top.
      extension(OID_KEY_USAGE, true, bitString(Buffer.from([0x06]), 7)),
    ],
  });
  return { cert: pem('CERTIFICATE', signed(tbs, privateKey)), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A leaf for TLS servers and clients naming `dnsNames`, signed by `ca`. */
export function issueLeaf(ca: KeyPairPem, request: CertificateRequest, dnsNames: readonly string[]): KeyPairPem {
  assert.ok(dnsNames.length > 0 && dnsNames.length <= MAX_CERTIFICATE_NAMES, `a certificate names 1 to ${MAX_CERTIFICATE_NAMES} DNS names`);
  for (const dns of dnsNames) assert.ok(DNS_NAME.test(dns), `not a DNS name: ${dns}`);
  const caKey = createPrivateKey(ca.key);
  const { publicKey, privateKey } = newKeyPair();
  const tbs = tbsCertificate({
    issuer: commonNameOf(new X509Certificate(ca.cert)), request, publicKey, issuerPublicKey: createPublicKey(caKey),
    extensions: [
      extension(OID_BASIC_CONSTRAINTS, true, sequence()),
      // digitalSignature (0): the only use of an ECDSA key in TLS with ephemeral key exchange.
      extension(OID_KEY_USAGE, true, bitString(Buffer.from([0x80]), 1)),
      extension(OID_EXT_KEY_USAGE, false, sequence(objectIdentifier(OID_SERVER_AUTH), objectIdentifier(OID_CLIENT_AUTH))),
      extension(OID_SUBJECT_ALT_NAME, false, sequence(...dnsNames.map((dns) => implicit(2, Buffer.from(dns, 'ascii'))))),
    ],
  });
  return { cert: pem('CERTIFICATE', signed(tbs, caKey)), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
