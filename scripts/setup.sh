#!/usr/bin/env bash
# Installs what the build and the tests need on a bare machine: Debian packages, the Node.js
# runtime when the machine's is older than ours, and npm modules.
# Idempotent: a second run on a set-up machine costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Node.js LTS the project runs on (.node-version: images, CI, local toolchain). When the
# machine's `node` is older, scripts/fetch-node.sh unpacks it into .cache/node/ (git-ignored) and
# the Makefile puts .cache/node/bin first on PATH. npm stays the machine's: it is JavaScript and
# runs on whichever node comes first on PATH.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
wanted_major=$(cut -d. -f1 .node-version)
if [ "$(node_major node)" -lt "$wanted_major" ] &&
  [ "$(.cache/node/bin/node --version 2>/dev/null)" != "v$(cat .node-version)" ]; then
  echo "setup: installing Node.js $(cat .node-version) into .cache/node (the machine has $(node --version 2>/dev/null || echo none))"
  bash scripts/fetch-node.sh .cache/node
  # node_modules installed under another Node is installed again below.
  rm -f node_modules/.setup-stamp
fi
export PATH="$PWD/.cache/node/bin:$PATH"

need_apt=()
# The images (buildah, mmdebstrap) and the single-node Kubernetes of make e2e-k8s (containerd,
# runc, the CNI plugins, iptables for kube-proxy) come from Debian too; openssl makes the local CA
# of `catga dev --tls` and the TLS tests.
for pair in etcd:etcd-server etcdctl:etcd-client promtool:prometheus dnsmasq:dnsmasq nft:nftables ip:iproute2 shellcheck:shellcheck openssl:openssl \
  buildah:buildah mmdebstrap:mmdebstrap containerd:containerd runc:runc iptables:iptables \
  /usr/lib/cni/bridge:containernetworking-plugins busybox:busybox-static; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts services on install; the tests start their own instances.
  for svc in etcd dnsmasq prometheus; do
    (systemctl stop "$svc" || service "$svc" stop || pkill -x "$svc") >/dev/null 2>&1 || true
  done
  # Never pkill containerd: an e2e-k8s run may own one.
  (systemctl stop containerd || service containerd stop) >/dev/null 2>&1 || true
fi

stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
