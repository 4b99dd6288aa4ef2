// HTTP probes and hooks as the kubelet runs them (httpGet only): 200-399 is success.
import type { V1Container, V1HTTPGetAction } from '@kubernetes/client-node';
import { httpGet } from './wait.js';

function resolvePort(action: V1HTTPGetAction, container: V1Container): number | undefined {
  const port = action.port as number | string;
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Runs an httpGet action against the pod's address; false on any failure or non-2xx/3xx. */
export async function runHttpGet(action: V1HTTPGetAction, container: V1Container, podIP: string, timeoutMs: number): Promise<boolean> {
  const port = resolvePort(action, container);
  if (port === undefined) return false;
  const scheme = (action.scheme ?? 'HTTP').toLowerCase();
  const host = action.host ?? podIP;
  const headers: Record<string, string> = {};
  for (const header of action.httpHeaders ?? []) headers[header.name] = header.value;
  try {
    const { status } = await httpGet(`${scheme}://${host}:${port}${action.path ?? '/'}`, { timeoutMs, headers, insecure: true });
    return status >= 200 && status < 400;
  } catch {
    return false;
  }
}
