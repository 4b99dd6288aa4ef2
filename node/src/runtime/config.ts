// The node's configuration: read once at start from flags and CATGA_* environment, validated,
// and frozen. A bad value stops the process with a message that names the variable and what it
// expects; nothing downstream re-validates.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseApiTokens, type ApiToken } from '../server/auth.js';
import type { TlsFiles, TlsMaterial } from '../transport/tls.js';
import { MembershipError } from '../membership/errors.js';
import { NODE_ID_PATTERN, parseStaticPeers } from '../membership/static-peers.js';
import { readFlags, type FlagSpec } from '../common/flags.js';
import { DEFAULT_EVENT_LOG_MAX_BYTES, DEFAULT_EVENT_LOG_MAX_EVENTS } from '../catga/events.js';

export interface NodeConfig {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly bindHost: string;
  readonly httpPort: number;
  readonly peerPort: number;
  /** Address other members dial for this node's peer port (`host:port`). */
  readonly advertisePeer: string;
  readonly clusterId: string;
  readonly clusterSecret: string;
  /** HTTPS/wss on the client API and mutual TLS between peers; null: plain. */
  readonly tls: TlsMaterial | null;
  /** Where `tls` was read from: the files are read again every `tlsReloadMs` (null: plain). */
  readonly tlsFiles: TlsFiles | null;
  readonly tlsReloadMs: number;
  readonly adminToken: string | null;
  readonly apiTokens: readonly ApiToken[];
  /** The client routes also answer requests without a token (only when asked for: CATGA_OPEN_ACCESS). */
  readonly openAccess: boolean;
  /** Static membership (`catga dev`, tests): id -> peer address. Empty when DNS is used. */
  readonly staticPeers: Readonly<Record<string, string>>;
  readonly dnsName: string | null;
  readonly dnsServer: string | null;
  readonly bootstrapExpect: number;
  readonly handlers: readonly string[];
  /** Load the built-in kv and orders modules before the user's (false: only `handlers`). */
  readonly builtins: boolean;
  /** A fresh node outside the configuration asks to be added (false: it waits for an operator to add it). */
  readonly autoJoin: boolean;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  readonly snapshotBytes: number;
  readonly snapshotRetain: number;
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly maxBatchCommands: number;
  readonly wsBacklogEvents: number;
  readonly wsBufferBytes: number;
  readonly eventRingSize: number;
  readonly eventRingBytes: number;
  readonly idempotencyWindowMs: number;
  /** Bytes of module state (keys + values) beyond which growing commands fail with 507 STATE_QUOTA_EXCEEDED. */
  readonly stateQuotaBytes: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly cpuProf: boolean;
  /** Test-only: serve linearizable reads locally without ReadIndex (proves the e2e checker works). */
  readonly unsafeLocalLinearizable: boolean;
  /** TEST ONLY: a node with a wiped disk votes as the member it was (the bug incarnations prevent). */
  readonly unsafeIgnoreIncarnations: boolean;
  /** Test only: every durable write and fsync takes this much longer (a slow disk); 0 off. */
  readonly testDiskDelayMs: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/**
 * One flag / variable: its names, what it does, and its kind with the default and limits that
 * loadConfig applies (`defText` describes a default that is computed, or not a number).
 * docs/configuration.md is generated from this table (node/src/cli/docs.ts).
 */
export type Spec = {
  readonly env: string;
  readonly flag: string;
  readonly help: string;
  readonly defText?: string;
} & (
  | { readonly type: 'int'; readonly def: number; readonly min: number; readonly max: number }
  | { readonly type: 'bool'; readonly def: boolean }
  | { readonly type: 'text' }
);

/** Every flag / variable: a NodeConfig field each, except `tls` and `tlsFiles`, read from three files. */
type Setting = Exclude<keyof NodeConfig, 'tls' | 'tlsFiles'> | 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile';

export const SPECS = {
  nodeId: { env: 'CATGA_NODE_ID', flag: 'node-id', help: 'this node\'s id', type: 'text', defText: 'the host name; `X-<ordinal>` with DNS membership' },
  dataDir: { env: 'CATGA_DATA_DIR', flag: 'data-dir', help: 'data directory', type: 'text', defText: '/var/lib/catga' },
  bindHost: { env: 'CATGA_BIND_HOST', flag: 'bind-host', help: 'address to listen on', type: 'text', defText: '0.0.0.0' },
  httpPort: { env: 'CATGA_HTTP_PORT', flag: 'http-port', help: 'HTTP API port', type: 'int', def: 8080, min: 1, max: 65535 },
  peerPort: { env: 'CATGA_PEER_PORT', flag: 'peer-port', help: 'peer (Raft) port', type: 'int', def: 7080, min: 1, max: 65535 },
  advertisePeer: { env: 'CATGA_ADVERTISE_PEER', flag: 'advertise-peer', help: 'host:port peers dial to reach this node', type: 'text', defText: 'its entry in CATGA_PEERS; `<id>.<dns name>:<peer port>` with DNS; else `127.0.0.1:<peer port>`' },
  clusterId: { env: 'CATGA_CLUSTER_ID', flag: 'cluster-id', help: 'cluster id shared by all members', type: 'text', defText: 'catga' },
  tlsCertFile: { env: 'CATGA_TLS_CERT_FILE', flag: 'tls-cert-file', help: 'PEM certificate (chain) of this node: HTTPS on the client API and mutual TLS between peers; it must name the node id (CN or a DNS name `<id>` or `<id>.…`)', type: 'text' },
  tlsKeyFile: { env: 'CATGA_TLS_KEY_FILE', flag: 'tls-key-file', help: 'PEM private key of that certificate', type: 'text' },
  tlsCaFile: { env: 'CATGA_TLS_CA_FILE', flag: 'tls-ca-file', help: 'PEM CA bundle the peers\' certificates must chain to', type: 'text' },
  tlsReloadMs: { env: 'CATGA_TLS_RELOAD_MS', flag: 'tls-reload-ms', help: 'the TLS files are read again this often; a changed, valid set is used for new connections without a restart', type: 'int', def: 10_000, min: 100, max: 3_600_000 },
  clusterSecret: { env: 'CATGA_CLUSTER_SECRET', flag: 'cluster-secret', help: 'shared secret authenticating peers (at least 16 characters)', type: 'text', defText: 'required with peers; a lone node makes a random one' },
  adminToken: { env: 'CATGA_ADMIN_TOKEN', flag: 'admin-token', help: 'bearer token for membership and leadership changes', type: 'text' },
  apiTokens: { env: 'CATGA_API_TOKENS', flag: 'api-tokens', help: 'comma-separated bearer tokens of the client API: `token` (commands, queries, events) or `token:rule+rule` with rules `commands|queries|events|admin[/type or prefix*]`', type: 'text' },
  openAccess: { env: 'CATGA_OPEN_ACCESS', flag: 'open-access', help: 'client routes also answer requests without a token (a trusted network only; logged loudly); a token shown is still checked', type: 'bool', def: false },
  staticPeers: { env: 'CATGA_PEERS', flag: 'peers', help: 'static members `id=host:port,...` (instead of DNS); the first CATGA_BOOTSTRAP_EXPECT form the first configuration, the others join', type: 'text' },
  dnsName: { env: 'CATGA_DNS_NAME', flag: 'dns-name', help: 'headless service name to find peers by DNS', type: 'text' },
  dnsServer: { env: 'CATGA_DNS_SERVER', flag: 'dns-server', help: 'DNS server host:port', type: 'text', defText: 'the system resolver' },
  bootstrapExpect: { env: 'CATGA_BOOTSTRAP_EXPECT', flag: 'bootstrap-expect', help: 'size of the first configuration (ordinals 0..n-1, or the first n static peers)', type: 'int', def: 1, min: 1, max: 9, defText: 'the number of CATGA_PEERS, else 1' },
  autoJoin: { env: 'CATGA_AUTO_JOIN', flag: 'auto-join', help: 'a new node asks the cluster to add it (false: membership is managed by an operator or by hand)', type: 'bool', def: true },
  handlers: { env: 'CATGA_HANDLERS', flag: 'handlers', help: 'comma-separated paths of user handler modules (.js, .mjs, or .ts: Node strips the types)', type: 'text' },
  builtins: { env: 'CATGA_BUILTINS', flag: 'builtins', help: 'load the built-in kv and orders modules (false or --no-builtins: only the user\'s modules)', type: 'bool', def: true },
  tickMs: { env: 'CATGA_TICK_MS', flag: 'tick-ms', help: 'Raft tick in milliseconds', type: 'int', def: 50, min: 1, max: 10000 },
  electionTicks: { env: 'CATGA_ELECTION_TICKS', flag: 'election-ticks', help: 'election timeout in ticks', type: 'int', def: 10, min: 3, max: 1000 },
  heartbeatTicks: { env: 'CATGA_HEARTBEAT_TICKS', flag: 'heartbeat-ticks', help: 'heartbeat interval in ticks', type: 'int', def: 1, min: 1, max: 1000 },
  snapshotEntries: { env: 'CATGA_SNAPSHOT_ENTRIES', flag: 'snapshot-entries', help: 'applied entries between snapshots', type: 'int', def: 10_000, min: 16, max: 100_000_000 },
  snapshotBytes: { env: 'CATGA_SNAPSHOT_BYTES', flag: 'snapshot-bytes', help: 'bytes of applied entries between snapshots, whichever of the two comes first (with the quarter kept behind a snapshot, the bound on the log held in memory)', type: 'int', def: 16 * 1024 * 1024, min: 1024 * 1024, max: 2 ** 40 },
  snapshotRetain: { env: 'CATGA_SNAPSHOT_RETAIN', flag: 'snapshot-retain', help: 'entries kept in the log behind a snapshot', type: 'int', def: 1_000, min: 0, max: 10_000_000 },
  requestTimeoutMs: { env: 'CATGA_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms', help: 'per-request deadline', type: 'int', def: 5_000, min: 50, max: 600_000 },
  maxBodyBytes: { env: 'CATGA_MAX_BODY_BYTES', flag: 'max-body-bytes', help: 'largest request body', type: 'int', def: 1 << 20, min: 1024, max: 64 << 20 },
  maxConnections: { env: 'CATGA_MAX_CONNECTIONS', flag: 'max-connections', help: 'most HTTP connections at once; beyond it the one idle the longest is closed', type: 'int', def: 4096, min: 16, max: 1_000_000 },
  headersTimeoutMs: { env: 'CATGA_HEADERS_TIMEOUT_MS', flag: 'headers-timeout-ms', help: 'a connection must send its request headers within this', type: 'int', def: 10_000, min: 100, max: 600_000 },
  bodyTimeoutMs: { env: 'CATGA_BODY_TIMEOUT_MS', flag: 'body-timeout-ms', help: 'a request must arrive whole within this, else 408', type: 'int', def: 30_000, min: 100, max: 3_600_000 },
  maxBatchCommands: { env: 'CATGA_MAX_BATCH', flag: 'max-batch', help: 'most commands in one batch request', type: 'int', def: 1_000, min: 1, max: 100_000 },
  wsBacklogEvents: { env: 'CATGA_WS_BACKLOG', flag: 'ws-backlog', help: 'events queued for one WebSocket subscriber before it is closed', type: 'int', def: 10_000, min: 16, max: 10_000_000 },
  wsBufferBytes: { env: 'CATGA_WS_BUFFER_BYTES', flag: 'ws-buffer-bytes', help: 'event bytes written to all WebSocket subscribers and not yet flushed, node-wide; beyond it the subscriber holding the most is closed', type: 'int', def: 256 * 1024 * 1024, min: 64 * 1024, max: 16 * 1024 * 1024 * 1024 },
  stateQuotaBytes: { env: 'CATGA_STATE_QUOTA_BYTES', flag: 'state-quota-bytes', help: 'bytes of module state (keys + values) beyond which commands that grow it are refused with STATE_QUOTA_EXCEEDED', type: 'int', def: 8 * 1024 ** 3, min: 1024, max: 2 ** 50 },
  eventRingSize: { env: 'CATGA_EVENT_RING', flag: 'event-ring', help: 'events kept in memory for resume', type: 'int', def: DEFAULT_EVENT_LOG_MAX_EVENTS, min: 16, max: 100_000_000 },
  eventRingBytes: { env: 'CATGA_EVENT_RING_BYTES', flag: 'event-ring-bytes', help: 'bytes of events (their wire form) kept for resume, whichever of the two bounds comes first; in memory, and as much again on disk (events/)', type: 'int', def: DEFAULT_EVENT_LOG_MAX_BYTES, min: 1024 * 1024, max: 2 ** 40 },
  idempotencyWindowMs: { env: 'CATGA_IDEMPOTENCY_WINDOW_MS', flag: 'idempotency-window-ms', help: 'how long idempotency keys are remembered', type: 'int', def: 600_000, min: 1_000, max: 7 * 24 * 3_600_000 },
  shutdownGraceMs: { env: 'CATGA_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', help: 'SIGTERM grace period', type: 'int', def: 10_000, min: 100, max: 600_000 },
  logLevel: { env: 'CATGA_LOG_LEVEL', flag: 'log-level', help: 'debug, info, warn or error', type: 'text', defText: 'info' },
  cpuProf: { env: 'CATGA_CPU_PROF', flag: 'cpu-prof', help: 'write a V8 CPU profile to the data directory on exit', type: 'bool', def: false },
  unsafeLocalLinearizable: { env: 'CATGA_UNSAFE_LOCAL_LINEARIZABLE', flag: 'unsafe-local-linearizable', help: 'TEST ONLY: break linearizable reads', type: 'bool', def: false },
  unsafeIgnoreIncarnations: { env: 'CATGA_UNSAFE_IGNORE_INCARNATIONS', flag: 'unsafe-ignore-incarnations', help: 'TEST ONLY: let a node with a wiped disk vote as the member it was', type: 'bool', def: false },
  testDiskDelayMs: { env: 'CATGA_TEST_DISK_DELAY_MS', flag: 'test-disk-delay-ms', help: 'TEST ONLY: every durable write and fsync of the data directory takes this many ms longer (a slow disk)', type: 'int', def: 0, min: 0, max: 60_000 },
} as const satisfies Record<Setting, Spec>;

type IntSetting = { [K in Setting]: (typeof SPECS)[K] extends { readonly type: 'int' } ? K : never }[Setting];
type BoolSetting = { [K in Setting]: (typeof SPECS)[K] extends { readonly type: 'bool' } ? K : never }[Setting];

/** The settings given by flags or by an application's object, as text (a switch as `true` or `false`). */
type GivenSettings = ReadonlyMap<Setting, string>;

/**
 * The flags of `catga node`, one per setting: a true/false setting is a switch (`--flag`, or
 * `--no-flag` for false) that takes no value; every other takes one (`--flag value` or
 * `--flag=value`), checked by the setting's own parser in loadConfig.
 */
const NODE_FLAGS: FlagSpec = Object.fromEntries(
  (Object.values(SPECS) as readonly Spec[]).map((s) => [s.flag, { type: s.type === 'bool' ? 'boolean' : 'string' }]),
);

/** Usage of `catga node`, printed after a flag it refuses. */
export const NODE_USAGE = [
  'usage: catga node [--flag value | --flag=value | --switch | --no-switch]...',
  '  a true/false setting is a switch and takes no value (--open-access or --no-open-access, not --open-access=true);',
  '  catga node --help lists every flag and its CATGA_* variable',
].join('\n');

/** The settings `argv` gives; FlagError naming the flag on an unknown flag, a missing value, a switch given a value or a stray argument. */
function readNodeFlags(argv: readonly string[]): GivenSettings {
  const values = readFlags(argv, NODE_FLAGS, { allowNegative: true });
  const given = new Map<Setting, string>();
  for (const [key, s] of Object.entries(SPECS) as [Setting, Spec][]) {
    const value = values[s.flag];
    if (value !== undefined) given.set(key, String(value));
  }
  return given;
}

/**
 * The configuration of `argv` (flags of `catga node`) over `env`: FlagError on a flag it refuses,
 * ConfigError on a value a setting refuses.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): NodeConfig {
  return resolveConfig(readNodeFlags(argv), env);
}

/** Each setting from `given`, else from its variable in `env`, else its default; every limit checked. */
function resolveConfig(given: GivenSettings, env: NodeJS.ProcessEnv): NodeConfig {
  const raw = (key: Setting): string | undefined => {
    const s = SPECS[key];
    const v = given.get(key) ?? env[s.env];
    return v === undefined || v === '' ? undefined : v;
  };
  const where = (key: Setting) => `${SPECS[key].env} (--${SPECS[key].flag})`;
  const int = (key: IntSetting, def: number = SPECS[key].def): number => {
    const { min, max } = SPECS[key];
    const v = raw(key);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${where(key)}: expected an integer from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
  const bool = (key: BoolSetting, def: boolean = SPECS[key].def): boolean => {
    const v = raw(key);
    if (v === undefined) return def;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ConfigError(`${where(key)}: expected true/false, got "${v}"`);
  };
  const list = (key: Setting): string[] =>
    (raw(key) ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);

  const nodeId = raw('nodeId') ?? hostname();
  if (!NODE_ID_PATTERN.test(nodeId)) {
    throw new ConfigError(`${where('nodeId')}: expected 1-63 letters, digits, '.', '_' or '-', got "${nodeId}"`);
  }
  const bindHost = raw('bindHost') ?? '0.0.0.0';
  const httpPort = int('httpPort');
  const peerPort = int('peerPort');

  const staticPeers = readStaticPeers(raw('staticPeers'), where('staticPeers'));
  const dnsName = raw('dnsName') ?? null;
  const dnsServer = raw('dnsServer') ?? null;
  if (dnsServer !== null && !/^[^\s:]+(:\d{1,5})?$/.test(dnsServer)) {
    throw new ConfigError(`${where('dnsServer')}: expected host or host:port, got "${dnsServer}"`);
  }
  const hasStatic = Object.keys(staticPeers).length > 0;
  if (hasStatic && dnsName !== null) {
    throw new ConfigError(`${where('staticPeers')} and ${where('dnsName')} are exclusive: choose one membership source`);
  }
  if (hasStatic && !(nodeId in staticPeers)) {
    throw new ConfigError(`${where('staticPeers')}: must list this node's own id "${nodeId}"`);
  }
  if (dnsName !== null && !/-\d+$/.test(nodeId)) {
    throw new ConfigError(`${where('nodeId')}: with DNS membership the id must end in -<ordinal> (a StatefulSet pod name), got "${nodeId}"`);
  }
  const bootstrapExpect = int('bootstrapExpect', hasStatic ? Object.keys(staticPeers).length : SPECS.bootstrapExpect.def);
  if (hasStatic && bootstrapExpect > Object.keys(staticPeers).length) {
    throw new ConfigError(`${where('bootstrapExpect')}: at most the ${Object.keys(staticPeers).length} members listed in ${where('staticPeers')}`);
  }

  const advertisePeer =
    raw('advertisePeer') ??
    (hasStatic ? staticPeers[nodeId]! : dnsName !== null ? `${nodeId}.${dnsName}:${peerPort}` : `127.0.0.1:${peerPort}`);

  // No default secret: a known one would let anyone join. A lone node with no peers to find has
  // nobody to authenticate and gets a random one.
  const lone = !hasStatic && dnsName === null;
  const clusterSecret = raw('clusterSecret') ?? (lone ? randomBytes(24).toString('base64url') : null);
  if (clusterSecret === null) throw new ConfigError(`${where('clusterSecret')}: required when the node has peers (${where('staticPeers')} or ${where('dnsName')})`);
  if (clusterSecret.length < 16) throw new ConfigError(`${where('clusterSecret')}: expected at least 16 characters`);
  const tlsFiles = { cert: raw('tlsCertFile'), key: raw('tlsKeyFile'), ca: raw('tlsCaFile') };
  const tlsGiven = Object.values(tlsFiles).filter((f) => f !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) {
    throw new ConfigError(`TLS needs all of ${where('tlsCertFile')}, ${where('tlsKeyFile')} and ${where('tlsCaFile')}`);
  }
  const readPem = (key: Setting, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${where(key)}: cannot read "${path}": ${(err as Error).message}`);
    }
  };
  const tls: TlsMaterial | null = tlsGiven === 0 ? null : {
    cert: readPem('tlsCertFile', tlsFiles.cert!),
    key: readPem('tlsKeyFile', tlsFiles.key!),
    ca: readPem('tlsCaFile', tlsFiles.ca!),
  };
  const tlsReloadMs = int('tlsReloadMs');
  const adminToken = raw('adminToken') ?? null;
  if (adminToken !== null && adminToken.length < 8) throw new ConfigError(`${where('adminToken')}: expected at least 8 characters`);
  let apiTokens: ApiToken[];
  try {
    apiTokens = parseApiTokens(list('apiTokens'));
  } catch (err) {
    throw new ConfigError(`${where('apiTokens')}: ${(err as Error).message}`);
  }
  const openAccess = bool('openAccess');
  if (!openAccess && apiTokens.length === 0 && adminToken === null) {
    throw new ConfigError(`no credentials: set ${where('apiTokens')} or ${where('adminToken')}, or ask for open access (${SPECS.openAccess.env}=true or --${SPECS.openAccess.flag}) on a trusted machine`);
  }

  const headersTimeoutMs = int('headersTimeoutMs');
  const bodyTimeoutMs = int('bodyTimeoutMs');
  if (bodyTimeoutMs <= headersTimeoutMs) throw new ConfigError(`${where('bodyTimeoutMs')}: must be above ${where('headersTimeoutMs')} (${headersTimeoutMs})`);

  const logLevel = raw('logLevel') ?? 'info';
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error') {
    throw new ConfigError(`${where('logLevel')}: expected debug, info, warn or error, got "${logLevel}"`);
  }
  const electionTicks = int('electionTicks');
  const heartbeatTicks = int('heartbeatTicks');
  if (heartbeatTicks >= electionTicks) {
    throw new ConfigError(`${where('heartbeatTicks')}: must be below ${where('electionTicks')} (${electionTicks})`);
  }

  return Object.freeze({
    nodeId,
    dataDir: resolve(raw('dataDir') ?? '/var/lib/catga'),
    bindHost,
    httpPort,
    peerPort,
    advertisePeer,
    clusterId: raw('clusterId') ?? 'catga',
    clusterSecret,
    tls,
    tlsFiles: tlsGiven === 0 ? null : Object.freeze({ cert: resolve(tlsFiles.cert!), key: resolve(tlsFiles.key!), ca: resolve(tlsFiles.ca!) }),
    tlsReloadMs,
    adminToken,
    apiTokens,
    openAccess,
    staticPeers: Object.freeze(staticPeers),
    dnsName,
    dnsServer,
    bootstrapExpect,
    handlers: list('handlers'),
    builtins: bool('builtins'),
    autoJoin: bool('autoJoin'),
    tickMs: int('tickMs'),
    electionTicks,
    heartbeatTicks,
    snapshotEntries: int('snapshotEntries'),
    snapshotBytes: int('snapshotBytes'),
    snapshotRetain: int('snapshotRetain'),
    requestTimeoutMs: int('requestTimeoutMs'),
    maxBodyBytes: int('maxBodyBytes'),
    maxConnections: int('maxConnections'),
    headersTimeoutMs,
    bodyTimeoutMs,
    maxBatchCommands: int('maxBatchCommands'),
    wsBacklogEvents: int('wsBacklogEvents'),
    wsBufferBytes: int('wsBufferBytes'),
    eventRingSize: int('eventRingSize'),
    eventRingBytes: int('eventRingBytes'),
    idempotencyWindowMs: int('idempotencyWindowMs'),
    stateQuotaBytes: int('stateQuotaBytes'),
    shutdownGraceMs: int('shutdownGraceMs'),
    logLevel,
    cpuProf: bool('cpuProf'),
    unsafeLocalLinearizable: bool('unsafeLocalLinearizable'),
    unsafeIgnoreIncarnations: bool('unsafeIgnoreIncarnations'),
    testDiskDelayMs: int('testDiskDelayMs'),
  });
}

/** A setting's value in an object (`startNode` in an application): text as in a flag, or its typed form. */
export type SettingValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;
/** The settings of `catga node`, as an object keyed by the names of NodeConfig (`staticPeers`: id → host:port). */
export type NodeSettings = { readonly [K in Setting]?: SettingValue };

function settingText(value: SettingValue): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object') return Object.entries(value).map(([id, address]) => `${id}=${address}`).join(',');
  return String(value);
}

/** CATGA_PEERS as id → host:port, read by membership's one parser (ids, addresses, duplicates). */
function readStaticPeers(spec: string | undefined, setting: string): Record<string, string> {
  if (spec === undefined || spec.trim() === '') return {};
  try {
    return { ...parseStaticPeers(spec).addresses };
  } catch (err) {
    if (err instanceof MembershipError) throw new ConfigError(`${setting}: ${err.message}`);
    throw err;
  }
}

/**
 * The configuration of `settings`, checked by the same parsers as the flags of `catga node` (a
 * setting the object leaves out may come from `env`). The values are handed over as text, not
 * rebuilt into flags: a true/false setting may be `false` or `'false'` here, as in its variable.
 * Throws ConfigError naming the setting's flag and variable.
 */
export function configFromSettings(settings: NodeSettings, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const given = new Map<Setting, string>();
  for (const [key, value] of Object.entries(settings) as [string, SettingValue | undefined][]) {
    if (!Object.hasOwn(SPECS, key)) throw new ConfigError(`unknown setting ${JSON.stringify(key)}; the settings are ${Object.keys(SPECS).join(', ')}`);
    if (value !== undefined) given.set(key as Setting, settingText(value));
  }
  return resolveConfig(given, env);
}

/** A setting's default as text ('' when it has none), and its limits ('' when it has none). */
export function specDefault(s: Spec): string {
  if (s.defText !== undefined) return s.defText;
  return s.type === 'text' ? '' : String(s.def);
}
export function specLimits(s: Spec): string {
  return s.type === 'int' ? `${s.min} to ${s.max}` : s.type === 'bool' ? 'true or false' : '';
}

/** One line per setting, for `catga node --help`. */
export function configHelp(): string {
  return (Object.values(SPECS) as readonly Spec[])
    .map((s) => {
      const def = specDefault(s);
      return `  --${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.help}${def === '' ? '' : ` (default ${def})`}`;
    })
    .join('\n');
}
