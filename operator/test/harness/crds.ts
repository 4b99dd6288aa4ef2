// Installs CustomResourceDefinitions from YAML files and waits until they are Established.
// The control plane does this before it starts kube-controller-manager, whose garbage collector
// only learns new resource kinds at its 30 s discovery resync: a CRD installed later leaves the
// dependents of its objects uncollected for up to that long.
import { readFileSync } from 'node:fs';
import { ApiextensionsV1Api, loadAllYaml, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { waitFor } from './wait.js';

const ESTABLISHED_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

export async function installCrds(kubeConfig: KubeConfig, files: string[]): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  // loadAllYaml keeps x-kubernetes-* schema keys through serialization; plain YAML objects lose them.
  const crds = files.flatMap((file) => loadAllYaml(readFileSync(file, 'utf8')) as V1CustomResourceDefinition[]);
  for (const crd of crds) await api.createCustomResourceDefinition({ body: crd });
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    await waitFor(
      `CRD ${name} Established`,
      async () => (await api.readCustomResourceDefinition({ name })).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true,
      { timeoutMs: ESTABLISHED_TIMEOUT_MS, intervalMs: POLL_MS },
    );
  }
}
