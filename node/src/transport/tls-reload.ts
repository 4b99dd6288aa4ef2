// Keeps a node's TLS material in step with its files without a restart. Every interval it reads
// the certificate, key and CA bundle again; a changed set is handed to the subscribers (the
// client API server and the peer transport, which use it for NEW connections: established ones
// keep their session) only when it is whole and consistent: the key matches the certificate and
// the certificate was issued by a CA of the bundle. Anything else keeps the current material and
// is retried at the next interval: a read that straddles the kubelet's swap of a mounted Secret
// (its files change together through one symlink) sees a mismatch once and the whole set next time.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { TlsFiles, TlsMaterial } from './tls.js';

export type TlsReloadOutcome = 'unchanged' | 'reloaded' | 'refused';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Why `m` cannot serve (null: it can). Pure apart from parsing. */
export function tlsMaterialProblem(m: TlsMaterial): string | null {
  try {
    createSecureContext({ cert: m.cert, key: m.key, ca: m.ca });
  } catch (err) {
    return `the certificate, key and CA bundle do not form a TLS context: ${(err as Error).message}`;
  }
  try {
    const leafPem = m.cert.match(PEM_CERTIFICATE)?.[0];
    if (leafPem === undefined) return 'the certificate file holds no PEM certificate';
    const leaf = new X509Certificate(leafPem);
    const cas = (m.ca.match(PEM_CERTIFICATE) ?? []).map((pem) => new X509Certificate(pem));
    if (cas.length === 0) return 'the CA bundle holds no PEM certificate';
    if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return `the certificate (issuer ${leaf.issuer}) was not issued by a CA of the bundle`;
  } catch (err) {
    return `a certificate does not parse: ${(err as Error).message}`;
  }
  return null;
}

export class TlsReloader {
  private current: TlsMaterial;
  private readonly listeners: ((m: TlsMaterial) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly files: TlsFiles,
    initial: TlsMaterial,
    private readonly intervalMs: number,
    private readonly log: (event: string, fields: Record<string, unknown>) => void,
  ) {
    assert.ok(Number.isInteger(intervalMs) && intervalMs > 0, 'TLS reload interval must be a positive integer');
    this.current = initial;
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** `listener` gets every new material, in order; it must not throw. */
  onChange(listener: (m: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    assert.ok(this.timer === null && !this.stopped, 'TlsReloader started twice');
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reads the files once; hands a changed, valid set to the listeners. */
  async check(): Promise<TlsReloadOutcome> {
    let next: TlsMaterial;
    try {
      const [cert, key, ca] = await Promise.all([readFile(this.files.cert, 'utf8'), readFile(this.files.key, 'utf8'), readFile(this.files.ca, 'utf8')]);
      next = { cert, key, ca };
    } catch (err) {
      this.log('tls_reload_refused', { reason: `cannot read the TLS files: ${(err as Error).message}` });
      return 'refused';
    }
    if (next.cert === this.current.cert && next.key === this.current.key && next.ca === this.current.ca) return 'unchanged';
    const problem = tlsMaterialProblem(next);
    if (problem !== null) {
      this.log('tls_reload_refused', { reason: problem, files: this.files });
      return 'refused';
    }
    this.current = next;
    const leaf = new X509Certificate(next.cert.match(PEM_CERTIFICATE)![0]);
    this.log('tls_reloaded', { subject: leaf.subject, serial: leaf.serialNumber, validTo: leaf.validTo, caCertificates: next.ca.match(PEM_CERTIFICATE)!.length });
    for (const listener of this.listeners) listener(next);
    return 'reloaded';
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.check().finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }
}
