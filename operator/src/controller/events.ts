// Kubernetes Events on the CatgaCluster for every action the operator takes, with a reason
// (ScaleUp, MemberRemoved, Switchover, RollingUpdate, ...). A failed Event write is logged, never fatal.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { CatgaCluster } from '../api/types.js';
import { FIELD_MANAGER } from '../specs/names.js';
import type { Logger } from '../machinery/log.js';
import type { KubeClient } from './kube.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(cluster: CatgaCluster, type: EventType, reason: string, message: string): Promise<void>;
}

/** Upper bound of an event message (the API server truncates longer ones anyway). */
export const MAX_EVENT_MESSAGE = 1024;

export class KubeEventRecorder implements EventRecorder {
  constructor(private readonly kube: KubeClient, private readonly identity: string, private readonly log: Logger) {}

  async record(cluster: CatgaCluster, type: EventType, reason: string, message: string): Promise<void> {
    const { name, namespace, uid } = cluster.metadata;
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: cluster.apiVersion, kind: cluster.kind, name, namespace, uid },
      type, reason, message: message.slice(0, MAX_EVENT_MESSAGE),
      source: { component: FIELD_MANAGER }, reportingComponent: FIELD_MANAGER, reportingInstance: this.identity,
      firstTimestamp: now, lastTimestamp: now, count: 1,
    };
    this.log.info('event', { cluster: `${namespace}/${name}`, type, reason, message });
    try {
      await this.kube.createEvent(event);
    } catch (err) {
      this.log.warn('could not record event', { reason, error: (err as Error).message });
    }
  }
}
