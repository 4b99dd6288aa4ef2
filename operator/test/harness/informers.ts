// List+watch of one resource path via @kubernetes/client-node's informer, restarted after errors
// (the informer relists, which also covers 410 Gone) until stopped.
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

const RESTART_DELAY_MS = 500;

export interface InformerHandlers<T> {
  /** Added or updated. */
  change(object: T): void;
  deleted(object: T): void;
}

export interface RunningInformer {
  stop(): Promise<void>;
}

export async function startInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: InformerHandlers<T>,
): Promise<RunningInformer> {
  const informer = makeInformer<T>(kubeConfig, path, list);
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  informer.on('add', (object) => handlers.change(object));
  informer.on('update', (object) => handlers.change(object));
  informer.on('delete', (object) => handlers.deleted(object));
  informer.on('error', () => {
    if (stopped) return;
    restartTimer = setTimeout(() => {
      if (!stopped) informer.start().catch(() => undefined); // a failed start reports 'error' again
    }, RESTART_DELAY_MS);
  });
  await informer.start();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}
