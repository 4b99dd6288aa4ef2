#!/usr/bin/env bash
# Installs what the build and the tests need on a bare machine: Debian packages and npm modules.
# Idempotent: a second run on a set-up machine costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in etcd:etcd-server etcdctl:etcd-client promtool:prometheus dnsmasq:dnsmasq nft:nftables ip:iproute2 shellcheck:shellcheck openssl:openssl; do
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
fi

stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
