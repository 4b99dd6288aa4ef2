// Desired Services of a cluster: headless (peer discovery, not-ready pods included), client
// (ready pods) and leader (the pod labelled catga.io/role=leader). Pure functions.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import {
  type ClusterRef, HTTP_PORT, LABEL_SERVICE, HTTP_PORT_NAME, LABEL_ROLE, PEER_PORT, PEER_PORT_NAME, ROLE_LEADER,
  clientServiceName, commonLabels, headlessServiceName, leaderServiceName, ownerReference, selectorLabels,
} from './names.js';

const HTTP: V1ServicePort = { name: HTTP_PORT_NAME, port: HTTP_PORT, targetPort: HTTP_PORT_NAME, protocol: 'TCP' };
const PEER: V1ServicePort = { name: PEER_PORT_NAME, port: PEER_PORT, targetPort: PEER_PORT_NAME, protocol: 'TCP' };

function service(ref: ClusterRef, name: string, role: 'headless' | 'client' | 'leader', spec: NonNullable<V1Service['spec']>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ref.namespace, labels: { ...commonLabels(ref.name), [LABEL_SERVICE]: role }, ownerReferences: [ownerReference(ref)] },
    spec,
  };
}

export function headlessService(ref: ClusterRef): V1Service {
  return service(ref, headlessServiceName(ref.name), 'headless', {
    clusterIP: 'None',
    publishNotReadyAddresses: true,
    selector: selectorLabels(ref.name),
    ports: [{ ...HTTP }, { ...PEER }],
  });
}

export function clientService(ref: ClusterRef): V1Service {
  return service(ref, clientServiceName(ref.name), 'client', {
    type: 'ClusterIP',
    selector: selectorLabels(ref.name),
    ports: [{ ...HTTP }],
  });
}

export function leaderService(ref: ClusterRef): V1Service {
  return service(ref, leaderServiceName(ref.name), 'leader', {
    type: 'ClusterIP',
    selector: { ...selectorLabels(ref.name), [LABEL_ROLE]: ROLE_LEADER },
    ports: [{ ...HTTP }],
  });
}
