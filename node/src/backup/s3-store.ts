// Backups in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, ...), through the AWS SDK.
// Credentials come from the SDK's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// profiles, web identity); the region from AWS_REGION (default us-east-1). With an explicit
// endpoint, path-style addressing is used (what S3-compatible servers expect).
// Objects are uploaded in parts of PART_BYTES: one PutObject for a small object, a multipart
// upload for a larger one (parts uploaded while the next one fills), so memory stays bounded by a
// few parts whatever the object's size.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import { BackupLocationError, checkName, type BackupStore, type ObjectWriter, type StoreOptions } from './location.js';

/** One multipart part (S3 needs at least 5 MiB for every part but the last). */
export const PART_BYTES = 8 * 1024 * 1024;
/** Part uploads running at once while the next part fills: memory is bounded by (this + 1) parts. */
const PARTS_IN_FLIGHT = 2;
/** S3 deletes at most this many objects per request. */
const DELETE_BATCH = 1000;

export class S3Store implements BackupStore {
  private constructor(private readonly client: S3Client, private readonly bucket: string, private readonly prefix: string) {}

  static open(location: string, o: StoreOptions): S3Store {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(location);
    if (m === null) throw new BackupLocationError(`backup location ${JSON.stringify(location)} is not s3://bucket[/prefix] (bucket: 3-63 lower-case letters, digits, "." or "-")`);
    const prefix = (m[2] ?? '').replace(/\/+$/, '');
    if (prefix.split('/').some((part) => part === '.' || part === '..')) throw new BackupLocationError(`backup location ${JSON.stringify(location)} has a "." or ".." in its prefix`);
    if (o.endpoint !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(o.endpoint)) throw new BackupLocationError(`endpoint ${JSON.stringify(o.endpoint)} is not http(s)://host[:port]`);
    const client = new S3Client({
      region: process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint, forcePathStyle: true }),
      // The segments carry their own SHA-256 (checked on write and on read): no extra checksum
      // headers, which some S3-compatible servers refuse.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new S3Store(client, m[1]!, prefix);
  }

  get location(): string {
    return `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
  }

  private key(name: string): string {
    return this.prefix === '' ? checkName(name) : `${this.prefix}/${checkName(name)}`;
  }

  child(name: string): BackupStore {
    return new S3Store(this.client, this.bucket, this.key(name));
  }

  async create(name: string): Promise<ObjectWriter> {
    const { client, bucket } = this;
    const key = this.key(name);
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let uploadId: string | null = null;
    const parts: CompletedPart[] = [];
    // Part uploads run while the next part fills, at most PARTS_IN_FLIGHT at once.
    const inFlight = new Set<Promise<void>>();
    let failure: unknown = null;
    const startPart = async (): Promise<void> => {
      uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId ?? null;
      if (uploadId === null) throw new Error(`s3: no upload id for ${key}`);
      const PartNumber = parts.length + 1;
      const part: CompletedPart = { PartNumber };
      parts.push(part);
      const body = Buffer.concat(buffered);
      buffered = [];
      bufferedBytes = 0;
      const upload = client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.length }))
        .then((r) => { part.ETag = r.ETag; }, (err: unknown) => { failure ??= err; })
        .finally(() => inFlight.delete(upload));
      inFlight.add(upload);
      while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
      if (failure !== null) throw failure;
    };
    const drain = async (): Promise<void> => {
      await Promise.all(inFlight);
      if (failure !== null) throw failure;
    };
    return {
      write: async (bytes) => {
        buffered.push(Buffer.from(bytes));
        bufferedBytes += bytes.byteLength;
        if (bufferedBytes >= PART_BYTES) await startPart();
      },
      end: async () => {
        if (uploadId === null) {
          const body = Buffer.concat(buffered);
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
          return;
        }
        if (bufferedBytes > 0) await startPart();
        await drain();
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      },
      abort: async () => {
        buffered = [];
        await Promise.allSettled(inFlight);
        if (uploadId !== null) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      },
    };
  }

  async *read(name: string): AsyncIterable<Uint8Array> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
    if (!(r.Body instanceof Readable)) throw new Error(`s3: ${this.key(name)} has no readable body`);
    for await (const piece of r.Body) yield piece as Uint8Array;
  }

  async folders(): Promise<string[]> {
    const prefix = this.prefix === '' ? '' : `${this.prefix}/`;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix !== undefined) out.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
      token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort();
  }

  async removeAll(): Promise<void> {
    const prefix = this.prefix === '' ? '' : `${this.prefix}/`;
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: DELETE_BATCH }));
      const keys = (r.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length > 0) await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
      token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
}
