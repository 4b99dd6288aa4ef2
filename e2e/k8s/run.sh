#!/usr/bin/env bash
# make e2e-k8s: Catga on a real single-node Kubernetes run on this machine (e2e/k8s/cluster.sh),
# used the way a user does: images built from the Dockerfiles (scripts/images.sh) and imported
# into the node's containerd, `helm install` of the operator chart, `kubectl apply` of a
# CatgaCluster, then the shared steps of e2e/k8s/scenario.sh. Component and pod logs are copied
# into the run's directory on failure; the cluster is always torn down (CATGA_E2E_KEEP=1 keeps it).
# Environment: CATGA_E2E_TRAFFIC_SECONDS (recorded traffic, default 50: faults stop at 3/4 of it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT=$(mktemp -d /tmp/catga-e2e-k8s.XXXXXX)
CLUSTER_DIR=$OUT/cluster
NAMESPACE=e2e
NAME=cg
KUBECTL="$ROOT/bin/kubectl --kubeconfig $CLUSTER_DIR/kubeconfig"
HELM="$ROOT/bin/helm --kubeconfig $CLUSTER_DIR/kubeconfig"
CRI_KILL="bash $ROOT/e2e/k8s/cluster.sh ctr $CLUSTER_DIR tasks kill --signal SIGKILL"
RETAG="bash $ROOT/e2e/k8s/cluster.sh ctr $CLUSTER_DIR images tag"
# shellcheck source=e2e/k8s/scenario.sh
. "$ROOT/e2e/k8s/scenario.sh"

started=$SECONDS
finish() {
  local status=$?
  stop_forwards
  stop_prometheus
  if [ "$status" -ne 0 ]; then
    bash "$ROOT/e2e/k8s/cluster.sh" logs "$CLUSTER_DIR" || true
    say "logs of every component and pod: $CLUSTER_DIR/logs"
  fi
  if [ "${CATGA_E2E_KEEP:-0}" = 1 ]; then
    say "cluster kept: export KUBECONFIG=$CLUSTER_DIR/kubeconfig; bash e2e/k8s/cluster.sh down $CLUSTER_DIR"
  else
    bash "$ROOT/e2e/k8s/cluster.sh" down "$CLUSTER_DIR" || status=1
  fi
  say "$([ "$status" -eq 0 ] && echo PASSED || echo FAILED) in $((SECONDS - started))s; files of this run: $OUT"
  exit "$status"
}
trap finish EXIT

say "[0s] images from the Dockerfiles"
bash "$ROOT/scripts/images.sh" --export "$OUT/images"
say "[$((SECONDS - started))s] single-node Kubernetes"
bash "$ROOT/e2e/k8s/cluster.sh" up "$CLUSTER_DIR"
bash "$ROOT/e2e/k8s/cluster.sh" import "$CLUSTER_DIR" "$OUT/images/catga-node.tar" "$OUT/images/catga-operator.tar"
# shellcheck source=/dev/null
PROMETHEUS_API="$(. "$CLUSTER_DIR/cluster.env" && echo "https://$NODE_IP:$API_PORT") $CLUSTER_DIR/pki/ca.crt $CLUSTER_DIR/pki/admin.crt $CLUSTER_DIR/pki/admin.key"
user_path
