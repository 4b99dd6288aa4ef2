// A list+watch informer that keeps running: the client library re-lists on 410 Gone by itself;
// on any other error (or a failed start) it is restarted after an exponential back-off.
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from './log.js';

export const INFORMER_RESTART_BASE_MS = 500;
export const INFORMER_RESTART_MAX_MS = 30_000;

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** True once a list has succeeded (the cache is usable). */
  synced = false;

  constructor(kc: KubeConfig, readonly path: string, list: () => Promise<KubernetesListObject<T>>, labelSelector: string | undefined,
    private readonly log: Logger, onChange: (obj: T) => void) {
    const listAndMark = async (): Promise<KubernetesListObject<T>> => {
      const result = await list();
      this.synced = true;
      this.failures = 0;
      return result;
    };
    this.informer = makeInformer<T>(kc, path, listAndMark, labelSelector);
    this.informer.on('add', onChange);
    this.informer.on('update', onChange);
    this.informer.on('delete', onChange);
    this.informer.on('error', (err) => this.restartLater(err));
  }

  start(): void {
    this.informer.start().catch((err: unknown) => this.restartLater(err));
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.timer !== null) return;
    this.failures++;
    const delay = Math.min(INFORMER_RESTART_MAX_MS, INFORMER_RESTART_BASE_MS * 2 ** Math.min(this.failures - 1, 16));
    this.log.warn('informer error, restarting', { path: this.path, delayMs: delay, error: (err as Error | undefined)?.message });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.informer.stop();
  }
}
