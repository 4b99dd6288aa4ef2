# shellcheck shell=bash
# The user's path through a Kubernetes cluster, as steps shared by e2e/k8s/run.sh (a cluster this
# machine runs) and e2e/kind/run.sh (kind): install the operator chart, create a CatgaCluster, talk
# to it through its Services, fault it under a recorded workload checked by Porcupine, scale it,
# bring a pod back on its volume, delete it. The cluster has TLS, as by default: every client here
# speaks HTTPS or wss:// and checks the nodes against the cluster's CA (the operator's Secret
# NAME-tls, key ca.crt) under a name their certificates carry. Sourced; every step fails the run
# with a message.
# Needs: ROOT (repository), OUT (a directory for this run's files), HELM, KUBECTL (commands,
# word-split), NAMESPACE, NAME; the images catga/node:dev and catga/operator:dev on the node;
# optionally PROMETHEUS_API (see start_prometheus);
# CRI_KILL (a command that kills a container by its CRI id on the node) and RETAG (a command
# `RETAG FROM TO` that gives an image on the node a second name).

CLUSTER_WAIT=300s
# The Porcupine-checked workload while the leader is faulted every KILL_EVERY_S seconds (faults
# stop at 3/4 of the traffic, so that the cluster is seen to recover under load).
TRAFFIC_SECONDS=${CATGA_E2E_TRAFFIC_SECONDS:-50}
KILL_EVERY_S=8
FORWARD_PIDS=()

say() { printf 'e2e: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
k() { $KUBECTL -n "$NAMESPACE" "$@"; }

# The chart as a user installs it; the operator runs as a pod with the chart's ServiceAccount/RBAC.
install_operator() {
  say "helm install the operator chart"
  $HELM install catga-operator "$ROOT/charts/catga-operator" \
    --namespace catga-system --create-namespace \
    --set image.repository=catga/operator --set image.tag=dev --set image.pullPolicy=IfNotPresent \
    --wait --timeout 5m >"$OUT/helm-install.txt" || fail "helm install (see $OUT/helm-install.txt)"
}

# create_cluster REPLICAS: kubectl apply a CatgaCluster; Available, every pod Ready, columns filled.
create_cluster() {
  local replicas=$1
  say "kubectl apply CatgaCluster $NAME ($replicas replicas) in namespace $NAMESPACE"
  $KUBECTL create namespace "$NAMESPACE" >/dev/null 2>&1 || true
  k apply -f - >/dev/null <<YAML
apiVersion: catga.io/v1alpha1
kind: CatgaCluster
metadata:
  name: $NAME
spec:
  replicas: $replicas
  image: catga/node:dev
  imagePullPolicy: IfNotPresent
  # TLS is on (the default): the operator makes the CA and the members' certificates.
  # The checker's clients reach the pods through port-forwards and send no token.
  env:
    - { name: CATGA_OPEN_ACCESS, value: "true" }
YAML
  wait_cluster "$replicas"
}

# wait_cluster REPLICAS: Available with REPLICAS ready pods, a leader and a term in `kubectl get cgc`.
wait_cluster() {
  local replicas=$1 i pods=() row
  k wait --for=condition=Available "catgacluster/$NAME" --timeout="$CLUSTER_WAIT" >/dev/null ||
    fail "CatgaCluster $NAME not Available: $(k get cgc "$NAME" -o jsonpath='{.status.conditions}')"
  for ((i = 0; i < replicas; i++)); do pods+=("pod/$NAME-$i"); done
  k wait --for=condition=Ready "${pods[@]}" --timeout="$CLUSTER_WAIT" >/dev/null || fail "pods of $NAME not Ready"
  k wait --for=jsonpath='{.status.readyReplicas}'="$replicas" "catgacluster/$NAME" --timeout="$CLUSTER_WAIT" >/dev/null ||
    fail "status.readyReplicas of $NAME never reached $replicas"
  row=$(k get cgc "$NAME" --no-headers)
  say "kubectl get cgc: $row"
  # NAME REPLICAS READY LEADER TERM PHASE AGE: every column filled.
  if [ "$(wc -w <<<"$row")" -ne 7 ] || grep -q '<none>' <<<"$row"; then fail "kubectl get cgc has empty columns: $row"; fi
}

# From a pod inside the cluster: DNS of every peer (CoreDNS), writes, linearizable reads and an
# event subscription through the `X` and `X-leader` Services (kube-proxy).
service_probe() {
  local replicas=$1 phase="" i
  say "in-cluster probe: peer DNS names, writes, linearizable reads, events through $NAME and $NAME-leader"
  k delete pod service-probe --ignore-not-found --wait >/dev/null
  k create configmap service-probe --from-file=service-probe.mjs="$ROOT/e2e/dist/k8s/service-probe.js" \
    --dry-run=client -o yaml | k apply -f - >/dev/null
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: service-probe}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
  containers:
  - name: probe
    image: catga/node:dev
    imagePullPolicy: IfNotPresent
    command: [node, /probe/service-probe.mjs, "$NAME", "$NAMESPACE", "$replicas"]
    # fetch and WebSocket trust the cluster's CA through it; the probe then speaks https and wss.
    env: [{name: NODE_EXTRA_CA_CERTS, value: /ca/ca.crt}]
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: probe, mountPath: /probe}, {name: ca, mountPath: /ca}]
  volumes:
  - {name: probe, configMap: {name: service-probe}}
  # Only the CA bundle of the members' Secret, never their keys.
  - {name: ca, secret: {secretName: "$NAME-tls", items: [{key: ca.crt, path: ca.crt}], defaultMode: 0444}}
YAML
  for ((i = 0; i < 120; i++)); do
    phase=$(k get pod service-probe -o jsonpath='{.status.phase}')
    [ "$phase" = Succeeded ] || [ "$phase" = Failed ] && break
    sleep 1
  done
  k logs service-probe >"$OUT/service-probe.txt" 2>&1 || true
  [ "$phase" = Succeeded ] || fail "service probe $phase: $(cat "$OUT/service-probe.txt")"
  say "probe: $(tail -1 "$OUT/service-probe.txt")"
  k delete pod service-probe --wait=false >/dev/null
}

# node_request ORDINAL PATH [BODY]: the answer's body to GET PATH (POST BODY as JSON when given)
# on pod NAME-ORDINAL's own client API (kubectl exec), over HTTPS checked against the cluster's CA
# under the pod's name; the node's environment says where its CA file is and what its name is.
node_request() {
  # shellcheck disable=SC2016 # JavaScript, expanded by nothing
  k exec "$NAME-$1" -c catga -- node -e '
const [path, body] = process.argv.slice(1);
const req = require("node:https").request({
  host: "127.0.0.1", port: 8080, path, method: body ? "POST" : "GET",
  ca: require("node:fs").readFileSync(process.env.CATGA_TLS_CA_FILE), servername: process.env.CATGA_NODE_ID,
  headers: body ? { "content-type": "application/json" } : {},
}, (res) => res.pipe(process.stdout));
req.on("error", (e) => { console.error(e.message); process.exit(1); });
req.end(body);' "$2" "${3:-}"
}

# node_get ORDINAL PATH: GET PATH on pod NAME-ORDINAL.
node_get() { node_request "$1" "$2"; }

# node_query ORDINAL KEY: the value of KEY in pod NAME-ORDINAL's local state.
node_query() {
  node_request "$1" "/v1/queries/kv.get?consistency=local" "{\"key\": \"$2\"}" | node -e \
    "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => process.stdout.write(String(JSON.parse(s).value?.value)))"
}

# node_put ORDINAL KEY VALUE: kv.put through pod NAME-ORDINAL; fails unless acknowledged.
node_put() {
  node_request "$1" /v1/commands/kv.put "{\"key\": \"$2\", \"value\": \"$3\"}" | node -e \
    "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => { if (!JSON.parse(s).ok) { console.error(s); process.exit(1); } })"
}

# cluster_ca FILE: the cluster's CA bundle, as the pods trust it, into FILE.
cluster_ca() {
  k get secret "$NAME-tls" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$1"
  grep -q 'BEGIN CERTIFICATE' "$1" || fail "no CA bundle in Secret $NAME-tls"
}

# The number of Raft voters in pod NAME-0's view of the cluster.
voters() {
  node_get 0 /v1/cluster | node -e \
    "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => console.log(JSON.parse(s).value.members.filter((m) => m.voter).length))"
}

stop_forwards() {
  local pid
  for pid in "${FORWARD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${FORWARD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  FORWARD_PIDS=()
}

# evict POD: the eviction API, as `kubectl drain` uses it; fails when a PodDisruptionBudget refuses.
evict() {
  k create --raw "/api/v1/namespaces/$NAMESPACE/pods/$1/eviction" -f - >/dev/null <<JSON
{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "$1", "namespace": "$NAMESPACE"}}
JSON
}

# leader_fault POD: the next of three faults on the leader's pod, in turn: the pod evicted (first,
# while every pod is up, so that the budget allows it), the pod deleted, its container killed
# through the CRI (the kubelet restarts it in place).
leader_fault() {
  local pod=$1 n id
  n=$(cat "$OUT/fault-count" 2>/dev/null || echo 0)
  echo $((n + 1)) >"$OUT/fault-count"
  case $((n % 3)) in
    0) if evict "$pod" 2>"$OUT/eviction.err"; then
         echo "eviction of $pod" >>"$OUT/faults.log"
       elif grep -qi "disruption budget" "$OUT/eviction.err"; then
         # A previous fault's pod is not back yet: the budget rightly refuses.
         echo "eviction of $pod refused by the PodDisruptionBudget" >>"$OUT/faults.log"
       else
         cat "$OUT/eviction.err" >&2
         return 1
       fi ;;
    1) echo "kubectl delete pod $pod" >>"$OUT/faults.log"
       k delete pod "$pod" --wait=false >/dev/null ;;
    2) id=$(k get pod "$pod" -o jsonpath='{.status.containerStatuses[?(@.name=="catga")].containerID}')
       echo "CRI kill of $pod's container ${id#*://}" >>"$OUT/faults.log"
       $CRI_KILL "${id#*://}" ;;
  esac
}

# forward_pod POD PORT: `kubectl port-forward` to POD's HTTP port, started again for each new pod
# of that name (a port-forward to a deleted pod does not exit: it keeps failing to open streams).
forward_pod() {
  local pod=$1 port=$2 uid forward
  trap 'kill "$forward" 2>/dev/null; exit 0' TERM
  while true; do
    uid=$(k get pod "$pod" -o jsonpath='{.metadata.uid}' 2>/dev/null || true)
    $KUBECTL -n "$NAMESPACE" port-forward --address 127.0.0.1 "pod/$pod" "$port:8080" &
    forward=$!
    while kill -0 "$forward" 2>/dev/null && [ "$(k get pod "$pod" -o jsonpath='{.metadata.uid}' 2>/dev/null || true)" = "$uid" ]; do
      sleep 1
    done
    kill "$forward" 2>/dev/null || true
    wait "$forward" 2>/dev/null || true
    sleep 1
  done
}

# The leader faulted every KILL_EVERY_S seconds (leader_fault) while clients on every pod (through
# `kubectl port-forward`, re-established for each new pod, over HTTPS and wss:// checked against the
# cluster's CA under the pod's name) record a history for Porcupine; every acknowledged write and
# event must be present afterwards.
leader_faults_under_load() {
  local replicas=$1 i port nodes=""
  say "faulting the leader every ${KILL_EVERY_S}s (pod evicted, pod deleted, container killed through the CRI) during ${TRAFFIC_SECONDS}s of recorded traffic (Porcupine)"
  export ROOT OUT KUBECTL NAMESPACE NAME CRI_KILL
  cluster_ca "$OUT/ca.crt"
  for ((i = 0; i < replicas; i++)); do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    forward_pod "$NAME-$i" "$port" >>"$OUT/port-forward-$i.log" 2>&1 &
    FORWARD_PIDS+=("$!")
    nodes+="${nodes:+,}$NAME-$i=https://127.0.0.1:$port"
  done
  PATH="$ROOT/bin:$PATH" node "$ROOT/e2e/dist/local/remote-check.js" \
    --name "leader faults on $NAME" --nodes "$nodes" --ca "$OUT/ca.crt" --seconds "$TRAFFIC_SECONDS" --out "$OUT/leader-faults" --kill-every "$KILL_EVERY_S" \
    --kill-cmd "bash -c '. \"\$ROOT/e2e/k8s/scenario.sh\" && leader_fault {pod}'" | tee "$OUT/leader-faults.txt" >&2 ||
    { stop_forwards; fail "leader faults under load (see $OUT/leader-faults.txt, $OUT/faults.log)"; }
  stop_forwards
  say "faults: $(paste -sd ';' "$OUT/faults.log")"
  wait_cluster "$replicas"
}

# With every pod up, one eviction is allowed; a second one while the first pod is away would cost
# the quorum of 3 and must be refused by the operator's PodDisruptionBudget.
pdb_protects_quorum() {
  local refusal
  say "eviction API: the PodDisruptionBudget allows one pod away of 3, refuses a second"
  evict "$NAME-1" || fail "the first eviction of $NAME-1 was refused with every pod up"
  if refusal=$(evict "$NAME-2" 2>&1); then fail "the PodDisruptionBudget let $NAME-2 go while $NAME-1 was away"; fi
  grep -qi "disruption budget" <<<"$refusal" || fail "the second eviction failed for another reason: $refusal"
  wait_cluster 3
}

# A rolling update: spec.image changed to another name of the node image; the operator replaces
# the pods one at a time, followers first, and the cluster stays Available.
rolling_update() {
  local image=catga/node:e2e-update i images
  say "rolling update: spec.image -> $image"
  $RETAG docker.io/catga/node:dev "docker.io/$image"
  k patch cgc "$NAME" --type merge -p "{\"spec\": {\"image\": \"$image\"}}" >/dev/null
  for ((i = 0; i < 300; i++)); do
    images=$(k get pods -l "catga.io/cluster=$NAME" -o jsonpath='{.items[*].spec.containers[0].image}')
    [ "$(tr ' ' '\n' <<<"$images" | grep -cx "$image")" -eq 3 ] && break
    sleep 1
  done
  [ "$(tr ' ' '\n' <<<"$images" | grep -cx "$image")" -eq 3 ] || fail "pods still on the old image: $images"
  wait_cluster 3
}

# scale_cluster TO: kubectl scale through the CRD's scale subresource; ready pods and Raft voters follow.
scale_cluster() {
  local to=$1
  say "kubectl scale cgc $NAME --replicas=$to"
  k scale cgc "$NAME" --replicas="$to" >/dev/null
  wait_cluster "$to"
  local count="" i
  for ((i = 0; i < 60; i++)); do
    count=$(voters 2>/dev/null || true)
    [ "$count" = "$to" ] && break
    sleep 1
  done
  [ "$count" = "$to" ] || fail "after scaling to $to the cluster has $count voters"
  # A scale-down deletes the removed members' volumes.
  for ((i = 0; i < 60; i++)); do
    count=$(k get pvc -l "catga.io/cluster=$NAME" --no-headers 2>/dev/null | wc -l)
    [ "$count" = "$to" ] && break
    sleep 1
  done
  [ "$count" = "$to" ] || fail "after scaling to $to there are $count PVCs"
  say "scaled to $to: $to voters, $to PVCs"
}

# A pod deleted comes back on its PVC with its data: the same claim, the key written before.
pod_back_on_its_volume() {
  local ordinal=1 uid_before uid_after value="" i
  say "pod $NAME-$ordinal deleted: back on its PVC with its data"
  node_put 0 e2e-durable "written-before-delete" || fail "write before the pod deletion"
  uid_before=$(k get pvc "data-$NAME-$ordinal" -o jsonpath='{.metadata.uid}')
  k delete pod "$NAME-$ordinal" --wait=true >/dev/null
  k wait --for=condition=Ready "pod/$NAME-$ordinal" --timeout="$CLUSTER_WAIT" >/dev/null || fail "$NAME-$ordinal not Ready again"
  uid_after=$(k get pvc "data-$NAME-$ordinal" -o jsonpath='{.metadata.uid}')
  [ "$uid_before" = "$uid_after" ] || fail "PVC data-$NAME-$ordinal was replaced ($uid_before -> $uid_after)"
  for ((i = 0; i < 30; i++)); do
    value=$(node_query "$ordinal" e2e-durable 2>/dev/null || true)
    [ "$value" = "written-before-delete" ] && break
    sleep 1
  done
  [ "$value" = "written-before-delete" ] || fail "$NAME-$ordinal lost e2e-durable after coming back (got '$value')"
}

# kubectl delete cgc: the garbage collector removes everything the operator made for it.
delete_cluster() {
  local kind left="" i
  say "kubectl delete cgc $NAME: everything it owns is garbage-collected"
  k delete cgc "$NAME" --wait=true --timeout=120s >/dev/null || fail "kubectl delete cgc $NAME"
  for ((i = 0; i < 120; i++)); do
    left=""
    for kind in statefulsets services poddisruptionbudgets secrets pods persistentvolumeclaims; do
      if [ -n "$(k get "$kind" -l "catga.io/cluster=$NAME" -o name 2>/dev/null)" ]; then left+=" $kind"; fi
    done
    [ -z "$left" ] && return 0
    sleep 1
  done
  fail "left behind after deleting $NAME:$left"
}

# A real Prometheus (bin/prometheus, with Kubernetes service discovery) configured from the
# chart's own ServiceMonitors (e2e/k8s/scrape-config.ts); needs PROMETHEUS_API="SERVER CA CERT KEY"
# (credentials that may list and watch endpoints) and a host that reaches pod IPs.
start_prometheus() {
  local server ca cert key port kube_version i
  read -r server ca cert key <<<"$PROMETHEUS_API"
  kube_version=$(k version -o json | node -e "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => console.log(JSON.parse(s).serverVersion.gitVersion))")
  $HELM template catga-operator "$ROOT/charts/catga-operator" --namespace catga-system --kube-version "$kube_version" \
    --set serviceMonitor.enabled=true --set serviceMonitor.interval=5s >"$OUT/chart-with-servicemonitors.yaml" 2>/dev/null
  node "$ROOT/e2e/dist/k8s/scrape-config.js" --chart "$OUT/chart-with-servicemonitors.yaml" \
    --server "$server" --ca "$ca" --cert "$cert" --key "$key" >"$OUT/prometheus.yml"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  "$ROOT/bin/prometheus" --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prometheus-data" \
    --web.listen-address="127.0.0.1:$port" >"$OUT/prometheus.log" 2>&1 &
  PROMETHEUS_PID=$!
  PROMETHEUS_URL=http://127.0.0.1:$port
  for ((i = 0; i < 60; i++)); do
    curl -sf "$PROMETHEUS_URL/-/ready" >/dev/null && break
    sleep 1
  done
  curl -sf "$PROMETHEUS_URL/-/ready" >/dev/null || fail "Prometheus did not start (see $OUT/prometheus.log)"
  say "Prometheus at $PROMETHEUS_URL, scrape jobs from the chart's ServiceMonitors"
}

stop_prometheus() {
  if [ -n "${PROMETHEUS_PID:-}" ]; then
    kill "$PROMETHEUS_PID" 2>/dev/null || true
    wait "$PROMETHEUS_PID" 2>/dev/null || true
    PROMETHEUS_PID=
  fi
}

# Every panel of the shipped dashboard returns data for this cluster.
check_dashboard() {
  say "every panel of the Grafana dashboard returns data from Prometheus"
  node "$ROOT/e2e/dist/k8s/dashboard-check.js" --prometheus "$PROMETHEUS_URL" \
    --dashboard "$ROOT/charts/catga-operator/dashboards/catga.json" --cluster "$NAME" --namespace "$NAMESPACE" \
    --operator-namespace catga-system >"$OUT/dashboard-check.txt" 2>&1 ||
    fail "dashboard panels without data: $(grep '^BLANK' "$OUT/dashboard-check.txt")"
  say "dashboard: every panel shows data; $(grep -c '^data' "$OUT/dashboard-check.txt") of $(grep -c '^data\|^no data' "$OUT/dashboard-check.txt") queries return series"
  stop_prometheus
}

# Every step above, in the order a user meets them; each runner calls this once.
user_path() {
  local path_started=$SECONDS
  step() { say "[+$((SECONDS - path_started))s] $*"; }
  step "the user's path"
  install_operator
  create_cluster 3
  # Prometheus needs to reach pod IPs from this host: only where PROMETHEUS_API is given.
  if [ -n "${PROMETHEUS_API:-}" ]; then start_prometheus; fi
  service_probe 3
  step "faults"
  leader_faults_under_load 3
  if [ -n "${PROMETHEUS_API:-}" ]; then check_dashboard; fi
  pdb_protects_quorum
  pod_back_on_its_volume
  step "scaling and a rolling update"
  scale_cluster 5
  service_probe 5
  scale_cluster 3
  rolling_update
  service_probe 3
  step "deletion"
  delete_cluster
}
