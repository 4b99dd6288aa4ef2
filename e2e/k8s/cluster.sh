#!/usr/bin/env bash
# A single-node Kubernetes cluster from upstream parts, on this machine, in one private directory:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler (bin/, `make tools`), Debian's
# containerd + runc + CNI bridge, a kubelet, kube-proxy (iptables) and CoreDNS as a Deployment.
# Owns the cluster's life cycle only: bring-up, image import, logs and a teardown that leaves no
# process, mount, network namespace, interface or iptables rule behind. Scenarios live elsewhere.
#
# Usage: e2e/k8s/cluster.sh up DIR       start everything; DIR/kubeconfig is the admin's
#        e2e/k8s/cluster.sh import DIR TAR...  load docker-archive images into the node's containerd
#        e2e/k8s/cluster.sh ctr DIR ARGS...   the node's containerd client (k8s.io namespace)
#        e2e/k8s/cluster.sh logs DIR     copy every component's and pod's log into DIR/logs/
#        e2e/k8s/cluster.sh down DIR     stop and remove everything `up` made (idempotent)
# Needs root. Ports are asked of the OS; names (node, bridge, CNI network) carry a hash of DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN=$ROOT/bin
# Private address ranges, chosen away from the defaults other local clusters use.
SERVICE_CIDR=10.197.0.0/16
KUBERNETES_SERVICE_IP=10.197.0.1
CLUSTER_DNS_IP=10.197.0.10
POD_CIDR=10.198.0.0/24
CLUSTER_DOMAIN=cluster.local
PAUSE_IMAGE=catga.local/pause:1
COREDNS_IMAGE=catga.local/coredns:1
COMPONENT_START_TIMEOUT_S=90
CERT_DAYS=2
# Local PersistentVolumes offered to PVCs through the default StorageClass (one per pod of the
# largest cluster a scenario makes, plus the ones scale-downs leave Released).
LOCAL_VOLUMES=12

log() { printf 'e2e-k8s: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------- helpers ----------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD...: runs a component in the background with its log in DIR/logs/NAME.log.
start() {
  local name=$1
  shift
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name"
}

running() { [ -f "$DIR/pids/$1" ] && kill -0 "$(cat "$DIR/pids/$1")" 2>/dev/null; }

# wait_for WHAT COMPONENT CMD...: polls CMD until it succeeds; fails early when COMPONENT died.
wait_for() {
  local what=$1 component=$2 deadline=$((SECONDS + COMPONENT_START_TIMEOUT_S))
  shift 2
  until "$@" >/dev/null 2>&1; do
    running "$component" || die "$component exited while waiting for $what (log: $DIR/logs/$component.log)"
    ((SECONDS < deadline)) || die "timed out after ${COMPONENT_START_TIMEOUT_S}s waiting for $what (log: $DIR/logs/$component.log)"
    sleep 0.5
  done
}

kctl() { "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }
ctr_() { ctr --address "$DIR/containerd/containerd.sock" --namespace k8s.io "$@"; }

# ---------- credentials ----------

# sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the cluster's CA.
sign() {
  openssl req -x509 -config "$DIR/pki/openssl.cnf" -extensions "$3" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$CERT_DAYS" \
    -keyout "$DIR/pki/$1.key" -out "$DIR/pki/$1.crt" -subj "$2" 2>/dev/null
}

# kubeconfig NAME: DIR/NAME.kubeconfig for the client certificate pki/NAME.
kubeconfig() {
  cat >"$DIR/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: catga-e2e
  cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$DIR/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$DIR/pki/$1.crt", client-key: "$DIR/pki/$1.key"}
contexts:
- name: catga-e2e
  context: {cluster: catga-e2e, user: $1}
current-context: catga-e2e
YAML
  chmod 600 "$DIR/$1.kubeconfig"
}

make_pki() {
  mkdir -p "$DIR/pki"
  cat >"$DIR/pki/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
  openssl req -x509 -config "$DIR/pki/openssl.cnf" -extensions ca -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days "$CERT_DAYS" -keyout "$DIR/pki/ca.key" -out "$DIR/pki/ca.crt" -subj /CN=catga-e2e-ca 2>/dev/null
  sign apiserver /CN=kube-apiserver server
  sign admin /O=system:masters/CN=catga-e2e-admin client
  sign controller-manager /CN=system:kube-controller-manager client
  sign scheduler /CN=system:kube-scheduler client
  sign kube-proxy /CN=system:kube-proxy client
  sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" client
  openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out "$DIR/pki/sa.key" 2>/dev/null
  openssl pkey -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null
  local name
  for name in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$name"; done
  cp "$DIR/admin.kubeconfig" "$DIR/kubeconfig"
}

# ---------- images the node needs besides ours ----------

# The sandbox ("pause") image and CoreDNS's, built FROM scratch with buildah (no registry here).
build_infra_images() {
  # shellcheck source=scripts/buildah-store.sh
  . "$ROOT/scripts/buildah-store.sh"
  local work=$DIR/infra-images ctr
  mkdir -p "$work"
  ctr=$(bh from --pull=never scratch)
  bh copy --quiet "$ctr" /bin/busybox /busybox
  # A pause container only holds the pod's namespaces; sleep stands in for it.
  bh config --entrypoint '["/busybox","sleep","2147483647"]' --user 65534:65534 "$ctr"
  bh commit --quiet --rm "$ctr" "$PAUSE_IMAGE" >/dev/null
  bh push --quiet "$PAUSE_IMAGE" "docker-archive:$work/pause.tar:$PAUSE_IMAGE"
  ctr=$(bh from --pull=never scratch)
  bh copy --quiet "$ctr" "$BIN/coredns" /coredns
  bh copy --quiet "$ctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
  bh config --entrypoint '["/coredns"]' "$ctr"
  bh commit --quiet --rm "$ctr" "$COREDNS_IMAGE" >/dev/null
  bh push --quiet "$COREDNS_IMAGE" "docker-archive:$work/coredns.tar:$COREDNS_IMAGE"
}

import_images() {
  local tar
  for tar in "$@"; do ctr_ images import --no-unpack=false "$tar" >/dev/null; done
}

# ---------- components ----------

start_etcd() {
  start etcd "$BIN/etcd" --name=catga-e2e --data-dir="$DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="catga-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level=warn
  wait_for "etcd /health" etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
    --cert-dir="$DIR/apiserver-certs" --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
    --client-ca-file="$DIR/pki/ca.crt" \
    --kubelet-client-certificate="$DIR/pki/admin.crt" --kubelet-client-key="$DIR/pki/admin.key" \
    --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --enable-admission-plugins=NodeRestriction --profiling=false --v=1
  wait_for "kube-apiserver /readyz" kube-apiserver kctl get --raw /readyz
}

start_controller_manager() {
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$DIR/controller-manager-certs" \
    --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
    --cluster-signing-cert-file="$DIR/pki/ca.crt" --cluster-signing-key-file="$DIR/pki/ca.key" \
    --use-service-account-credentials=true --leader-elect=false --profiling=false --v=1
  wait_for "kube-controller-manager /healthz" kube-controller-manager curl -skf "https://127.0.0.1:$KCM_PORT/healthz"
}

start_scheduler() {
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false --v=1
  wait_for "kube-scheduler /healthz" kube-scheduler curl -skf "https://127.0.0.1:$SCHEDULER_PORT/healthz"
}

start_containerd() {
  mkdir -p "$DIR/containerd" "$DIR/cni/net.d" "$DIR/cni/ipam"
  cat >"$DIR/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "loopback"}
  ]
}
EOF
  # restrict_oom_score_adj: the machine lacks CAP_SYS_RESOURCE (every sandbox fails without it).
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$DIR/containerd/containerd.sock"
[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
  start containerd containerd --config "$DIR/containerd/config.toml"
  wait_for "containerd" containerd ctr_ version
}

start_kubelet() {
  mkdir -p "$DIR/kubelet" "$DIR/pod-logs"
  cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 on this machine: a v1.35 kubelet refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://$DIR/containerd/containerd.sock
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet-plugins
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: Webhook}
# The disk and memory are shared with other work: evict only when truly short.
evictionHard: {memory.available: 200Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  start kubelet "$BIN/kubelet" --config="$DIR/kubelet.yaml" --kubeconfig="$DIR/kubelet.kubeconfig" \
    --root-dir="$DIR/kubelet" --cert-dir="$DIR/kubelet-pki" --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" --v=1
  wait_for "node $NODE_NAME Ready" kubelet kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
}

start_kube_proxy() {
  cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $DIR/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
# The machine's conntrack and localnet sysctls are left alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
nodePortAddresses: [$NODE_IP/32]
EOF
  start kube-proxy "$BIN/kube-proxy" --config="$DIR/kube-proxy.yaml" --v=1
  wait_for "kube-proxy /healthz" kube-proxy curl -sf "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
}

# CoreDNS as the cluster's DNS, the way clusters run it: a Deployment behind the kube-dns Service.
install_coredns() {
  kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        forward . /etc/resolv.conf
        cache 5
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $CLUSTER_DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOF
  kctl -n kube-system rollout status deployment/coredns --timeout=${COMPONENT_START_TIMEOUT_S}s >/dev/null ||
    die "CoreDNS did not become ready (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"
}

# Local PersistentVolumes under DIR/volumes behind a default StorageClass (no dynamic provisioner).
install_local_storage() {
  local i manifest
  manifest="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete"
  for ((i = 0; i < LOCAL_VOLUMES; i++)); do
    mkdir -p "$DIR/volumes/pv-$i"
    manifest+="
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv-$i}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {path: $DIR/volumes/pv-$i}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]"
  done
  kctl apply -f - >/dev/null <<<"$manifest"
}

# ---------- verbs ----------

up() {
  [ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, iptables)"
  local tool
  for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns; do
    [ -x "$BIN/$tool" ] || die "bin/$tool is missing: run make tools"
  done
  for tool in containerd ctr runc buildah openssl curl python3 iptables; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
  done
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are missing (apt-get install containernetworking-plugins)"
  mkdir -p "$DIR/logs" "$DIR/pids"
  local id
  id=$(printf '%s' "$DIR" | sha256sum | cut -c1-6)
  NODE_IP=$(ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$NODE_IP" ] || die "no IPv4 address with a default route"
  cat >"$DIR/cluster.env" <<EOF
NODE_NAME=catga-e2e-$id
NODE_IP=$NODE_IP
BRIDGE=k8scg$id
CNI_NETWORK=catga-e2e-$id
ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)
KCM_PORT=$(free_port)
SCHEDULER_PORT=$(free_port)
KUBELET_PORT=$(free_port)
KUBELET_HEALTHZ_PORT=$(free_port)
PROXY_HEALTHZ_PORT=$(free_port)
PROXY_METRICS_PORT=$(free_port)
IP_FORWARD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
NETNS_BEFORE="$(ip netns list 2>/dev/null | awk '{print $1}' | tr '\n' ' ')"
EOF
  # shellcheck source=/dev/null
  . "$DIR/cluster.env"
  # Pods reach Services and the API server through the host's routing.
  echo 1 >/proc/sys/net/ipv4/ip_forward
  log "node $NODE_NAME at $NODE_IP, API server on port $API_PORT, files in $DIR"
  make_pki
  build_infra_images
  start_etcd
  start_apiserver
  start_controller_manager
  start_scheduler
  start_containerd
  import_images "$DIR/infra-images/pause.tar" "$DIR/infra-images/coredns.tar"
  start_kubelet
  start_kube_proxy
  install_local_storage
  install_coredns
  log "cluster up: export KUBECONFIG=$DIR/kubeconfig"
}

collect_logs() {
  mkdir -p "$DIR/logs/pods"
  if [ -d "$DIR/pod-logs" ]; then cp -r "$DIR/pod-logs/." "$DIR/logs/pods/" 2>/dev/null || true; fi
  if running kube-apiserver; then
    kctl get all,pvc,pv,events -A -o wide >"$DIR/logs/objects.txt" 2>&1 || true
    kctl describe pods -A >"$DIR/logs/pods-described.txt" 2>&1 || true
  fi
}

# stop NAME: SIGTERM, then SIGKILL after 10 s.
stop() {
  [ -f "$DIR/pids/$1" ] || return 0
  local pid i
  pid=$(cat "$DIR/pids/$1")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$DIR/pids/$1"
}

down() {
  [ -f "$DIR/cluster.env" ] || return 0
  # shellcheck source=/dev/null
  . "$DIR/cluster.env"
  local ns netns mnt id
  # Pods first, through the kubelet, so that CNI and containerd release what they hold.
  if running kube-apiserver && running kubelet; then
    for ns in $(kctl get ns -o name 2>/dev/null | sed 's#namespace/##' | grep -vx 'default\|kube-public\|kube-node-lease'); do
      kctl -n "$ns" delete statefulsets,deployments,replicasets,daemonsets --all --wait=false >/dev/null 2>&1 || true
      kctl -n "$ns" delete pods --all --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
    done
  fi
  stop kube-proxy
  stop kubelet
  if running containerd; then
    for id in $(ctr_ tasks list -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(ctr_ tasks list -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  for id in $(pgrep -f "containerd-shim-runc-v2 .*-address $DIR/containerd/containerd.sock" || true); do kill -KILL "$id" 2>/dev/null || true; done
  stop kube-scheduler
  stop kube-controller-manager
  stop kube-apiserver
  stop etcd
  # Mounts under DIR, deepest first.
  while read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r)
  # Network namespaces the CRI made (only those that did not exist before `up`).
  for netns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
    case " $NETNS_BEFORE " in *" $netns "*) ;; *) ip netns delete "$netns" 2>/dev/null || true ;; esac
  done
  # Interfaces: the pods' veths on our bridge, then the bridge.
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    for id in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link delete "$id" 2>/dev/null || true; done
    ip link delete "$BRIDGE" 2>/dev/null || true
  fi
  remove_iptables_rules
  # containerd's cgroup of the k8s.io namespace in every hierarchy, once empty (rmdir refuses
  # a cgroup that still has children, e.g. another run's).
  for mnt in /sys/fs/cgroup/*/k8s.io; do
    if [ -d "$mnt" ]; then rmdir "$mnt" 2>/dev/null || true; fi
  done
  [ -z "${IP_FORWARD_BEFORE:-}" ] || echo "$IP_FORWARD_BEFORE" >/proc/sys/net/ipv4/ip_forward
  rm -f "$DIR/cluster.env"
}

# kube-proxy's own cleanup removes its chains; then the kubelet's KUBE-* chains and the CNI bridge
# plugin's masquerade chains (their rules carry our CNI network's name).
remove_iptables_rules() {
  local cmd table chain rule
  "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  for cmd in iptables ip6tables; do
    for table in nat filter mangle; do
      while read -r rule; do
        [ -n "$rule" ] || continue
        eval "$cmd -t $table ${rule/-A /-D }" 2>/dev/null || true
      done < <($cmd -t "$table" -S 2>/dev/null | grep -E "^-A .*(KUBE-|$CNI_NETWORK)" || true)
      for chain in $($cmd -t "$table" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
        # A CNI-* chain is ours only when its rules name our network.
        if [[ $chain == CNI-* ]] && ! $cmd -t "$table" -S "$chain" | grep -q "$CNI_NETWORK"; then continue; fi
        $cmd -t "$table" -F "$chain" 2>/dev/null || true
        $cmd -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

verb=${1:-}
DIR=${2:-}
if [ -z "$verb" ] || [ -z "$DIR" ]; then echo "usage: $0 up|import|ctr|logs|down DIR [ARG...]" >&2; exit 2; fi
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
case "$verb" in
  up) up ;;
  import)
    shift 2
    # shellcheck source=/dev/null
    . "$DIR/cluster.env"
    import_images "$@" ;;
  ctr)
    shift 2
    ctr_ "$@" ;;
  logs) collect_logs ;;
  down) down ;;
  *) echo "usage: $0 up|import|ctr|logs|down DIR [ARG...]" >&2; exit 2 ;;
esac
