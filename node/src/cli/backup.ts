// `catga backup` (take a backup from a running node into a directory or an S3-compatible store),
// `catga backup verify` (read a backup back and check it) and `catga restore` (prepare a data
// directory from a backup). Each prints one JSON line on success; errors go to stderr with a
// non-zero exit code.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { pruneBackups, readBackup, writeBackup } from '../backup/backup.js';
import { newClusterId, restoreBackup } from '../backup/restore.js';
import { chooseBackupSource, MAX_SOURCE_LAG_ENTRIES, memberApiUrl, type FollowerProbe, type LeaderView, type SourceChoice } from '../backup/source-choice.js';
import { openStore } from '../backup/store.js';
import { FlagError, readFlagsAndArguments, type FlagSpec, type FlagsAndArguments } from '../common/flags.js';

const BACKUP_USAGE = `usage:
  catga backup --to <dir | s3://bucket/prefix> [--from <node url>] [--prefer-follower]
               [--endpoint <s3 url>] [--keep <n>] [--max-age <days>d] [--result-file <path>]
  catga backup verify <backup location> [--endpoint <s3 url>]

  --from      the node to take the backup from (default http://127.0.0.1:8080); any member
              works, a follower spares the leader. The admin token is read from CATGA_ADMIN_TOKEN,
              the CA of an https:// node from CATGA_TLS_CA_FILE.
  --prefer-follower  take --from as a way into the cluster (a Service will do) and back up from a
              healthy follower at most ${MAX_SOURCE_LAG_ENTRIES} entries behind the leader's commit, the
              leader only when none qualifies (said on stderr and in the JSON line's sourceRole and
              fallback). Each member is reached at the host of its peer address (GET /v1/cluster)
              on the port of --from. Without it, the backup streams from --from itself.
  --to        where backups are kept: each backup is a new folder backup-<time>-<index> in it
  --endpoint  an S3-compatible server (http://host:port); credentials from AWS_ACCESS_KEY_ID and
              AWS_SECRET_ACCESS_KEY (or the AWS SDK's other sources), region from AWS_REGION
  --keep      after the backup, remove the backups in --to beyond the newest <n>
  --max-age   with --keep, remove only those of them older than this many days (e.g. 30d)
  --result-file  also write the JSON line printed on success to this file (in a Kubernetes Job:
              /dev/termination-log, where the operator reads the backup's name and index)
`;

const RESTORE_USAGE = `usage: catga restore --from <backup location> --data-dir <dir> --id <node id> [--cluster-id <id>] [--endpoint <s3 url>]

  Prepares an empty data directory from a backup: the state at the backup's index, for node <id>
  of a NEW cluster (id --cluster-id, default a new random one, printed). Restore every first member
  of the new cluster from the same backup, then start them with CATGA_CLUSTER_ID set to that id.
`;

class UsageError extends Error {}

function fail(usage: string, message: string): never {
  throw new UsageError(`${message}\n${usage}`);
}

/** `argv` per `spec` (common/flags.ts); an unknown flag or a missing value fails with `usage`. */
function flagsOf<S extends FlagSpec>(argv: readonly string[], spec: S, usage: string): FlagsAndArguments<S> {
  try {
    return readFlagsAndArguments(argv, spec);
  } catch (err) {
    if (err instanceof FlagError) fail(usage, err.message);
    throw err;
  }
}

const MB = 1024 * 1024;

function print(doc: object): void {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

/** Bound on each `GET /v1/cluster` while choosing the member to back up from. */
const VIEW_TIMEOUT_MS = 3_000;

interface NodeAccess { readonly token: string | null; readonly caFile: string | null }

/** GET `path` on `base`; resolves with the response, whatever its status. */
async function get(base: string, path: string, access: NodeAccess, timeoutMs: number | null): Promise<IncomingMessage> {
  const url = new URL(path, base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${JSON.stringify(base)} is not an http(s) URL`);
  const headers = access.token === null ? {} : { authorization: `Bearer ${access.token}` };
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { headers, ...(access.caFile === null ? {} : { ca: readFileSync(access.caFile) }) }, resolve)
      : httpRequest(url, { headers }, resolve);
    req.on('error', reject);
    if (timeoutMs !== null) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url.origin} did not answer within ${timeoutMs} ms`)));
    req.end();
  });
}

async function bodyText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The node's error for an answer other than 200. */
async function refusal(res: IncomingMessage, origin: string, what: string): Promise<Error> {
  const text = await bodyText(res);
  let detail = text;
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e !== undefined) detail = `${e.code}: ${e.message}`;
  } catch { /* not JSON: show the text */ }
  return new Error(`${origin} answered ${res.statusCode} to ${what}: ${detail}`);
}

/** `GET /v1/admin/backup` on `from`, as a byte stream; throws the node's error for any other answer than 200. */
export async function backupStream(from: string, token: string | null, caFile: string | null): Promise<IncomingMessage> {
  const res = await get(from, '/v1/admin/backup', { token, caFile }, null);
  if (res.statusCode === 200) return res;
  throw await refusal(res, new URL(from).origin, 'the backup request');
}

interface ClusterViewDoc extends LeaderView {
  readonly role: string;
  readonly leader: string | null;
  readonly appliedIndex: number;
}

async function clusterView(base: string, access: NodeAccess): Promise<ClusterViewDoc> {
  const res = await get(base, '/v1/cluster', access, VIEW_TIMEOUT_MS);
  if (res.statusCode !== 200) throw await refusal(res, new URL(base).origin, 'GET /v1/cluster');
  return (JSON.parse(await bodyText(res)) as { value: ClusterViewDoc }).value;
}

/** A member's URL (from its peer address) answered as another member. */
class WrongMemberError extends Error {}

/**
 * The member to stream from with --prefer-follower: `entry` (any member, e.g. a Service) names the
 * leader, the leader names the members and their health, each healthy follower tells its applied
 * index; chooseBackupSource picks. Members are reached at their peer address's host (memberApiUrl).
 */
async function preferFollower(entry: string, access: NodeAccess): Promise<{ url: string; choice: SourceChoice }> {
  const entryUrl = new URL(entry);
  const first = await clusterView(entry, access);
  if (first.leader === null) throw new Error(`${entryUrl.origin} knows no leader, so no caught-up follower can be told apart: retry, or name one member with --from alone`);
  const urls = new Map(first.members.map((m) => [m.id, memberApiUrl(entryUrl, m.address)]));
  /** Member `id`'s own view, from the URL its peer address gives; throws when another member answers there. */
  const urlOf = (id: string): string => {
    const url = urls.get(id);
    if (url === undefined) throw new Error(`member ${id} is not in the configuration ${entryUrl.origin} reports`);
    return url;
  };
  const viewOf = async (id: string): Promise<ClusterViewDoc> => {
    const url = urlOf(id);
    const view = await clusterView(url, access);
    if (view.id !== id) throw new WrongMemberError(`${url} is member ${view.id}, not ${id}: the members' API is not at the host of their peer address on the port of --from; name one member with --from alone`);
    return view;
  };
  const leader = await viewOf(first.leader);
  if (leader.role !== 'leader') throw new Error(`${leader.id} is no longer the leader: retry`);
  const probes = new Map<string, FollowerProbe>(await Promise.all(leader.members.filter((m) => m.id !== leader.id && m.healthy).map(async (m) => {
    // A follower that cannot be reached is passed over; one whose URL reaches another member means
    // no follower can be reached at all, which must not pass for "none qualifies" (a leader backup).
    const probe = await viewOf(m.id).then((v): FollowerProbe => ({ appliedIndex: v.appliedIndex }), (err: unknown) => {
      if (err instanceof WrongMemberError) throw err;
      return null;
    });
    return [m.id, probe] as const;
  })));
  const choice = chooseBackupSource(leader, probes);
  return { url: urlOf(choice.id), choice };
}

function parseDays(s: string | undefined): number | null {
  if (s === undefined) return null;
  const m = /^(\d{1,5})d$/.exec(s);
  if (m === null || Number(m[1]) < 1) fail(BACKUP_USAGE, `--max-age ${JSON.stringify(s)} is not a number of days such as 30d`);
  return Number(m[1]) * 24 * 3600 * 1000;
}

export async function runBackupCli(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'verify') return await verify(argv.slice(1));
    const { values, positionals } = flagsOf(argv, {
      to: { type: 'string' }, from: { type: 'string' }, endpoint: { type: 'string' }, keep: { type: 'string' }, 'max-age': { type: 'string' }, 'result-file': { type: 'string' }, 'prefer-follower': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    }, BACKUP_USAGE);
    if (values.help === true) { process.stdout.write(BACKUP_USAGE); return 0; }
    if (positionals.length > 0) fail(BACKUP_USAGE, `unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.to === undefined) fail(BACKUP_USAGE, '--to is required');
    const keep = values.keep === undefined ? null : Number(values.keep);
    if (keep !== null && (!Number.isSafeInteger(keep) || keep < 1)) fail(BACKUP_USAGE, `--keep ${JSON.stringify(values.keep)} must be a whole number of at least 1`);
    const maxAgeMs = parseDays(values['max-age']);
    if (maxAgeMs !== null && keep === null) fail(BACKUP_USAGE, '--max-age needs --keep');
    const root = await openStore(values.to, { endpoint: values.endpoint });
    const started = performance.now();
    const access: NodeAccess = { token: process.env['CATGA_ADMIN_TOKEN'] ?? null, caFile: process.env['CATGA_TLS_CA_FILE'] ?? null };
    const from = values.from ?? 'http://127.0.0.1:8080';
    const chosen = values['prefer-follower'] === true ? await preferFollower(from, access) : null;
    if (chosen !== null) {
      const { id, role, fallback } = chosen.choice;
      process.stderr.write(`catga: backing up from the ${role} ${id} (${chosen.url})${fallback === null ? '' : `: ${fallback}`}\n`);
    }
    const stream = await backupStream(chosen?.url ?? from, access.token, access.caFile);
    const { store, manifest } = await writeBackup(stream, root);
    const seconds = (performance.now() - started) / 1000;
    const pruned = keep === null ? [] : await pruneBackups(root, { keep, maxAgeMs }, new Date());
    const result = {
      ok: true, location: store.location, clusterId: manifest.clusterId, sourceNode: manifest.sourceNode, index: manifest.index, term: manifest.term,
      bytes: manifest.bytes, segments: manifest.segments.length, createdAt: manifest.createdAt, seconds: Number(seconds.toFixed(3)),
      mbPerSecond: Number((manifest.bytes / MB / seconds).toFixed(1)), pruned,
      ...(chosen === null ? {} : { sourceRole: chosen.choice.role, fallback: chosen.choice.fallback }),
    };
    // Without the pruned names: a Kubernetes termination message holds at most 4 KiB.
    if (values['result-file'] !== undefined) writeFileSync(values['result-file'], `${JSON.stringify({ ...result, pruned: pruned.length })}\n`);
    print(result);
    return 0;
  } catch (err) {
    return report(err);
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = flagsOf(argv, { endpoint: { type: 'string' } }, BACKUP_USAGE);
  if (positionals.length !== 1) fail(BACKUP_USAGE, 'verify takes one backup location');
  const store = await openStore(positionals[0]!, { endpoint: values.endpoint });
  const started = performance.now();
  const manifest = await readBackup(store);
  const seconds = (performance.now() - started) / 1000;
  print({ ok: true, location: store.location, format: manifest.format, clusterId: manifest.clusterId, index: manifest.index, records: manifest.records, bytes: manifest.bytes, seconds: Number(seconds.toFixed(3)) });
  return 0;
}

export async function runRestoreCli(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = flagsOf(argv, {
      from: { type: 'string' }, 'data-dir': { type: 'string' }, id: { type: 'string' }, 'cluster-id': { type: 'string' }, endpoint: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    }, RESTORE_USAGE);
    if (values.help === true) { process.stdout.write(RESTORE_USAGE); return 0; }
    if (positionals.length > 0) fail(RESTORE_USAGE, `unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.from === undefined || values['data-dir'] === undefined || values.id === undefined) fail(RESTORE_USAGE, '--from, --data-dir and --id are required');
    const clusterId = values['cluster-id'] ?? newClusterId();
    const store = await openStore(values.from, { endpoint: values.endpoint });
    const started = performance.now();
    const manifest = await restoreBackup(store, { dataDir: values['data-dir'], nodeId: values.id, clusterId });
    const seconds = (performance.now() - started) / 1000;
    print({
      ok: true, dataDir: values['data-dir'], nodeId: values.id, clusterId, index: manifest.index, sourceClusterId: manifest.clusterId,
      bytes: manifest.bytes, seconds: Number(seconds.toFixed(3)), mbPerSecond: Number((manifest.bytes / MB / seconds).toFixed(1)),
    });
    return 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  const e = err as Error & { code?: unknown };
  const code = typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) ? `${e.code}: ` : '';
  process.stderr.write(`catga: ${code}${e instanceof Error ? e.message : String(err)}\n`);
  return err instanceof UsageError ? 2 : 1;
}
