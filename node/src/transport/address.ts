// Peer addresses: `host:port` strings as they appear in a ConfState (`[v6]:port` for IPv6).
import { isIPv6 } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/;

/** Parses `host:port`; null when it is not one (no scheme, no path, port 1..65535). */
export function parseHostPort(address: string): HostPort | null {
  const m = HOST_PORT.exec(address);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && !isIPv6(host)) return null;
  return { host, port };
}

export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
