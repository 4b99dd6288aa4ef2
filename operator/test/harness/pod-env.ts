// A container's environment as the kubelet computes it: env values with $(VAR) expansion,
// fieldRef (pod metadata, spec and addresses), secretKeyRef, configMapKeyRef, and envFrom.
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';

type Lookup = (kind: 'Secret' | 'ConfigMap', name: string) => Promise<Record<string, string> | undefined>;

/** Reads Secrets and ConfigMaps of the pod's namespace once per resolution; undefined = absent. */
function lookupIn(core: CoreV1Api, namespace: string): Lookup {
  const cache = new Map<string, Promise<Record<string, string> | undefined>>();
  const read = async (kind: 'Secret' | 'ConfigMap', name: string): Promise<Record<string, string> | undefined> => {
    try {
      if (kind === 'ConfigMap') return (await core.readNamespacedConfigMap({ name, namespace })).data ?? {};
      const data = (await core.readNamespacedSecret({ name, namespace })).data ?? {};
      return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  };
  return (kind, name) => {
    const key = `${kind}/${name}`;
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = read(kind, name);
      cache.set(key, entry);
    }
    return entry;
  };
}

function fieldValue(pod: V1Pod, podIP: string, fieldPath: string): string {
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[labelOrAnnotation[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return '127.0.0.1';
    default:
      throw new Error(`env fieldRef ${fieldPath} is not supported by the harness kubelet`);
  }
}

/** $(NAME) becomes NAME's value when defined earlier; $$( escapes. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? '$(' : (env[name] ?? match),
  );
}

/** The container's environment; throws when a required Secret/ConfigMap key is missing (the pod waits). */
export async function resolveEnv(core: CoreV1Api, pod: V1Pod, container: V1Container, podIP: string): Promise<Record<string, string>> {
  const lookup = lookupIn(core, pod.metadata!.namespace!);
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.secretRef ?? source.configMapRef;
    if (!ref) continue;
    const data = await lookup(source.secretRef ? 'Secret' : 'ConfigMap', ref.name!);
    if (data === undefined && !ref.optional) throw new Error(`envFrom ${ref.name} not found`);
    for (const [key, value] of Object.entries(data ?? {})) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from === undefined) {
      env[variable.name] = expand(variable.value ?? '', env);
    } else if (from.fieldRef) {
      env[variable.name] = fieldValue(pod, podIP, from.fieldRef.fieldPath);
    } else if (from.secretKeyRef || from.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef)!;
      const value = (await lookup(from.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name!))?.[ref.key];
      if (value !== undefined) env[variable.name] = value;
      else if (!ref.optional) throw new Error(`env ${variable.name}: key ${ref.key} of ${ref.name} not found`);
    } else {
      throw new Error(`env ${variable.name}: only value, fieldRef, secretKeyRef and configMapKeyRef are supported`);
    }
  }
  return env;
}
