// The operator test harness: a real control plane (etcd, kube-apiserver, kube-controller-manager
// from `make tools`) and a kubelet fixture that runs real processes for pods.
export { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane.js';
export { installCrds } from './crds.js';
export { Kubelet, RESTART_BACKOFF_MAX_MS, type KubeletOptions, type PodProcessContext, type SpawnPod } from './kubelet.js';
export type { PodMount } from './pod-volumes.js';
export { DnsServer, type DnsRecord } from './dns.js';
export { HarnessError, type HarnessErrorCode } from './errors.js';
export { BIN_DIR, toolPath, type Tool } from './binaries.js';
export { waitFor, type WaitOptions } from './wait.js';
