// The operator's configuration from CATGA_OPERATOR_* environment, validated once at start: a bad
// value stops the process with a message naming the variable and what it expects. The command
// line carries nothing, so an argument is refused rather than silently ignored.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { PeerAddressMode } from '../controller/observe.js';
import { parseCrashPoint, type CrashPoint } from './crash.js';
import { parseLogLevel, type LogLevel } from './log.js';

export interface OperatorConfig {
  readonly identity: string;
  readonly bindHost: string;
  /** Port of /metrics, /healthz, /readyz (0 picks a free one). */
  readonly httpPort: number;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** Clusters reconciled at the same time (one key is never reconciled twice at once). */
  readonly workers: number;
  readonly peerAddressMode: PeerAddressMode;
  /** Give each cluster a NetworkPolicy (CATGA_OPERATOR_NETWORK_POLICIES, default true). */
  readonly networkPolicies: boolean;
  readonly crashAt: CrashPoint | null;
  readonly logLevel: LogLevel;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
export const MAX_WORKERS = 16;

function invalid(variable: string, expected: string, got: string): never {
  throw Object.assign(new Error(`${variable}: expected ${expected}, got "${got}"`), { code: 'CONFIG_INVALID' });
}

/** The operator takes no command-line arguments: the first one given is refused by name. */
export function refuseArguments(args: readonly string[]): void {
  const first = args[0];
  if (first === undefined) return;
  throw Object.assign(new Error(`unexpected argument "${first}": catga-operator takes no arguments; it is configured by CATGA_OPERATOR_* environment variables`), { code: 'CONFIG_INVALID' });
}

function int(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) invalid(variable, `an integer from ${min} to ${max}`, raw);
  return value;
}

function bool(env: NodeJS.ProcessEnv, variable: string, fallback: boolean): boolean {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') invalid(variable, 'true or false', raw);
  return raw === 'true';
}

function defaultNamespace(env: NodeJS.ProcessEnv): string {
  if (env['POD_NAMESPACE']) return env['POD_NAMESPACE'];
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  } catch {
    return 'default';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const leaseSeconds = int(env, 'CATGA_OPERATOR_LEASE_SECONDS', 15, 3, 300);
  const mode = env['CATGA_OPERATOR_PEER_ADDRESS'] ?? 'dns';
  if (mode !== 'dns' && mode !== 'pod-ip') invalid('CATGA_OPERATOR_PEER_ADDRESS', 'dns or pod-ip', mode);
  return {
    identity: env['CATGA_OPERATOR_IDENTITY'] || `${hostname()}-${process.pid}`,
    bindHost: env['CATGA_OPERATOR_BIND_HOST'] || '0.0.0.0',
    httpPort: int(env, 'CATGA_OPERATOR_HTTP_PORT', 8081, 0, 65535),
    leaseNamespace: env['CATGA_OPERATOR_NAMESPACE'] || defaultNamespace(env),
    leaseName: env['CATGA_OPERATOR_LEASE_NAME'] || 'catga-operator',
    leaseDurationMs: leaseSeconds * 1000,
    renewDeadlineMs: Math.floor((leaseSeconds * 1000 * 2) / 3),
    retryPeriodMs: Math.floor((leaseSeconds * 1000) / 5),
    workers: int(env, 'CATGA_OPERATOR_WORKERS', 2, 1, MAX_WORKERS),
    peerAddressMode: mode,
    networkPolicies: bool(env, 'CATGA_OPERATOR_NETWORK_POLICIES', true),
    crashAt: parseCrashPoint(env['CATGA_OPERATOR_CRASH_AT']),
    logLevel: parseLogLevel(env['CATGA_OPERATOR_LOG_LEVEL']),
  };
}
