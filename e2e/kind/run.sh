#!/usr/bin/env bash
# e2e-kind: the user's path of e2e/k8s/scenario.sh (shared with make e2e-k8s) on a kind cluster,
# for machines with Docker: builds the images (make images), creates a kind cluster, loads the
# images, then helm install, kubectl apply, the in-cluster Service probe, leader faults under a
# Porcupine-checked workload, scaling, a rolling update and deletion. Needs docker, kind and go
# (helm and kubectl from `make tools`); exits 2 with a message when one is missing.
#
# Environment: KIND_CLUSTER (default catga-e2e), CATGA_E2E_TRAFFIC_SECONDS (traffic, default 50),
# CATGA_KIND_KEEP=1 keeps the kind cluster afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIND_CLUSTER="${KIND_CLUSTER:-catga-e2e}"
NAMESPACE=e2e
NAME=cg
OUT="$(mktemp -d /tmp/catga-e2e-kind.XXXXXX)"
HELM_BIN="$ROOT/bin/helm"
[[ -x "$HELM_BIN" ]] || HELM_BIN="$(command -v helm || true)"
KUBECTL="$ROOT/bin/kubectl --context kind-$KIND_CLUSTER"
[[ -x "$ROOT/bin/kubectl" ]] || KUBECTL="kubectl --context kind-$KIND_CLUSTER"
HELM="$HELM_BIN --kube-context kind-$KIND_CLUSTER"
# The kind node's containerd, for a container killed through the CRI and a second image name.
CRI_KILL="docker exec $KIND_CLUSTER-control-plane ctr -n k8s.io tasks kill --signal SIGKILL"
RETAG="docker exec $KIND_CLUSTER-control-plane ctr -n k8s.io images tag"
# shellcheck source=e2e/k8s/scenario.sh
. "$ROOT/e2e/k8s/scenario.sh"

log() { printf 'e2e-kind: %s\n' "$*" >&2; }

missing=()
for tool in docker kind kubectl go; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -n "$HELM_BIN" ]] || missing+=("helm (or make tools)")
if ((${#missing[@]} > 0)); then
  log "cannot run here: missing ${missing[*]}. It needs Docker, kind, kubectl, helm and go."
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  log "cannot run here: the Docker daemon is not reachable (docker info failed)."
  exit 2
fi

cleanup() {
  stop_forwards
  if [[ "${CATGA_KIND_KEEP:-0}" != 1 ]]; then
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
  log "files of this run: $OUT"
}
trap cleanup EXIT

log "building the workspaces, the images and the tools (helm, kubectl, the Porcupine checker)"
make -C "$ROOT" build images tools

log "creating kind cluster $KIND_CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  kind delete cluster --name "$KIND_CLUSTER"
fi
kind create cluster --name "$KIND_CLUSTER" --wait 180s
kind load docker-image catga/node:dev catga/operator:dev --name "$KIND_CLUSTER"

user_path
