#!/usr/bin/env bash
# e2e-kind: the local fault check on a real Kubernetes cluster. Builds the images, creates a kind
# cluster, installs the operator chart, creates a 3-node CatgaCluster, reaches every pod through
# `kubectl port-forward` and runs the reduced scenario (e2e/local/remote-check.ts: the same
# clients, event subscribers, durability and Porcupine checks; the leader's pod deleted every
# 10 s). Needs docker, kind, kubectl, helm and go; exits 2 with a message when one is missing.
#
# Environment: KIND_CLUSTER (default catga-e2e), CATGA_KIND_SECONDS (traffic, default 30),
# CATGA_KIND_KEEP=1 keeps the kind cluster afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIND_CLUSTER="${KIND_CLUSTER:-catga-e2e}"
SECONDS_OF_TRAFFIC="${CATGA_KIND_SECONDS:-30}"
NAMESPACE=e2e
NAME=cg
REPLICAS=3
OUT="$(mktemp -d /tmp/catga-e2e-kind.XXXXXX)"
PORT_BASE=$((20000 + RANDOM % 30000))
FORWARD_PIDS=()
HELM="$ROOT/bin/helm"
[[ -x "$HELM" ]] || HELM="$(command -v helm || true)"

log() { printf 'e2e-kind: %s\n' "$*" >&2; }

missing=()
for tool in docker kind kubectl go; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -n "$HELM" ]] || missing+=("helm (or make tools)")
if ((${#missing[@]} > 0)); then
  log "cannot run here: missing ${missing[*]}. It needs Docker, kind, kubectl, helm and go."
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  log "cannot run here: the Docker daemon is not reachable (docker info failed)."
  exit 2
fi

cleanup() {
  local pid
  for pid in "${FORWARD_PIDS[@]}"; do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  if [[ "${CATGA_KIND_KEEP:-0}" != 1 ]]; then
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
  log "files of this run: $OUT"
}
trap cleanup EXIT

log "building the workspaces, the images and the Porcupine checker"
make -C "$ROOT" build images
if [[ ! -x "$ROOT/bin/porcupine-check" ]]; then
  (cd "$ROOT/e2e/linearizability" && go build -o "$ROOT/bin/porcupine-check" ./cmd/porcupine-check)
fi

log "creating kind cluster $KIND_CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  kind delete cluster --name "$KIND_CLUSTER"
fi
kind create cluster --name "$KIND_CLUSTER" --wait 180s
kind load docker-image catga/node:dev catga/operator:dev --name "$KIND_CLUSTER"

log "installing the operator chart"
"$HELM" install catga-operator "$ROOT/charts/catga-operator" \
  --namespace catga-system --create-namespace \
  --set image.repository=catga/operator --set image.tag=dev --set image.pullPolicy=IfNotPresent \
  --wait --timeout 5m

log "creating CatgaCluster $NAME ($REPLICAS replicas) in namespace $NAMESPACE"
kubectl create namespace "$NAMESPACE"
kubectl apply -f - <<YAML
apiVersion: catga.io/v1alpha1
kind: CatgaCluster
metadata:
  name: $NAME
  namespace: $NAMESPACE
spec:
  replicas: $REPLICAS
  image: catga/node:dev
  imagePullPolicy: IfNotPresent
  # The checker's clients reach the pods through port-forwards and send no token.
  env:
    - { name: CATGA_OPEN_ACCESS, value: "true" }
YAML
kubectl -n "$NAMESPACE" wait --for=condition=Available "catgacluster/$NAME" --timeout=300s
pods=()
for ((i = 0; i < REPLICAS; i++)); do pods+=("pod/$NAME-$i"); done
kubectl -n "$NAMESPACE" wait --for=condition=Ready "${pods[@]}" --timeout=300s

log "port-forwarding every pod (re-established after each pod deletion)"
nodes=""
for ((i = 0; i < REPLICAS; i++)); do
  port=$((PORT_BASE + i))
  (
    while true; do
      kubectl -n "$NAMESPACE" port-forward "pod/$NAME-$i" "$port:8080" >>"$OUT/port-forward-$i.log" 2>&1 || true
      sleep 1
    done
  ) &
  FORWARD_PIDS+=("$!")
  nodes+="${nodes:+,}$NAME-$i=http://127.0.0.1:$port"
done

log "running the reduced scenario for $SECONDS_OF_TRAFFIC s"
node "$ROOT/e2e/dist/local/remote-check.js" \
  --nodes "$nodes" --seconds "$SECONDS_OF_TRAFFIC" --out "$OUT" --kill-every 10 \
  --kill-cmd "kubectl -n $NAMESPACE delete pod {pod} --wait=false --grace-period=0 --force"
