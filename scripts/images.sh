#!/usr/bin/env bash
# Builds the two container images from node/Dockerfile and operator/Dockerfile: with docker where
# a Docker daemon answers, else with buildah (Debian's, vfs storage under .cache/containers/, no
# daemon). No image registry is needed: without docker, the base image the Dockerfiles name
# (node:<major>-bookworm-slim) is first built here from Debian's packages (mmdebstrap) and the
# Node.js binary that .node-version pins, then both Dockerfiles build unchanged with --pull=never.
# Usage: scripts/images.sh [--export DIR]   DIR receives catga-node.tar and catga-operator.tar
# (docker-archive, tagged docker.io/catga/...:dev) for `ctr images import`.
# Environment: IMAGE_TAG (default dev).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TAG=${IMAGE_TAG:-dev}
NODE_VERSION=$(cat .node-version)
BASE_IMAGE=node:${NODE_VERSION%%.*}-bookworm-slim
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGES=(node operator)
EXPORT_DIR=
case "${1:-}" in
  --export) EXPORT_DIR=${2:?images: --export needs a directory} ;;
  "") ;;
  *) echo "usage: $0 [--export DIR]" >&2; exit 2 ;;
esac

log() { printf 'images: %s\n' "$*" >&2; }

# shellcheck source=scripts/buildah-store.sh
. scripts/buildah-store.sh
STORE=$BUILDAH_STORE

# The base image: Debian bookworm (minbase, docs and apt lists left out), the `node` user
# (uid/gid 1000, as in the official images), Node.js and npm under /usr/local.
build_base_image() {
  local work=$STORE/base-build npm_version
  rm -rf "$work" && mkdir -p "$work/overlay/usr/local/bin" "$work/overlay/usr/local/lib/node_modules"
  bash scripts/fetch-node.sh "$STORE/node-dist"
  cp "$STORE/node-dist/bin/node" "$work/overlay/usr/local/bin/node"
  # The published binary carries its debug information: 150 MB, 117 MB without.
  strip "$work/overlay/usr/local/bin/node"
  npm_version=$(npm --version)
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null &&
    mkdir -p overlay/usr/local/lib/node_modules/npm &&
    tar xzf "npm-$npm_version.tgz" --strip-components=1 -C overlay/usr/local/lib/node_modules/npm)
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/overlay/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/overlay/usr/local/bin/npx"
  # The build machine's own CAs (e.g. an egress proxy's): the build's `npm ci` goes through it.
  # Node reads its bundled CAs only, so NODE_EXTRA_CA_CERTS names the system bundle then.
  local extra_ca_env=()
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$work/overlay/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$work/overlay/usr/local/share/ca-certificates/"
    extra_ca_env=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  fi
  log "building $BASE_IMAGE: Debian bookworm root file system (mmdebstrap), Node.js $NODE_VERSION, npm $npm_version"
  # The hooks run in mmdebstrap's shell, where $1 is the new root file system.
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libstdc++6,libatomic1 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='chroot "$1" groupadd --gid 1000 node' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
    --customize-hook="sync-in $work/overlay /" \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    bookworm "$work/rootfs.tar" http://deb.debian.org/debian
  local ctr
  ctr=$(bh from --pull=never scratch)
  bh add "$ctr" "$work/rootfs.tar" /
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" --env NPM_CONFIG_UPDATE_NOTIFIER=false "${extra_ca_env[@]}" --cmd node \
    --label org.opencontainers.image.description="Debian bookworm with Node.js $NODE_VERSION, built locally" "$ctr"
  bh commit --quiet --rm "$ctr" "localhost/$BASE_IMAGE" >/dev/null
  # Short names resolve to either, depending on registries.conf.
  bh tag "localhost/$BASE_IMAGE" "docker.io/library/$BASE_IMAGE"
  rm -rf "$work"
}

# export_image NAME: EXPORT_DIR/catga-NAME.tar; the archive of an image ID is written once (vfs
# makes it slow) and kept under .cache/containers/archives/.
image_id() {
  local id
  id=$(bh images --noheading --no-trunc --format '{{.ID}}' "localhost/catga/$1:$TAG" 2>/dev/null | sed -n 1p)
  echo "${id#sha256:}"
}

export_image() {
  local archive
  archive=$STORE/archives/catga-$1-$TAG-$(image_id "$1" | cut -c1-16).tar
  if [ ! -f "$archive" ]; then
    mkdir -p "$STORE/archives"
    rm -f "$STORE/archives/catga-$1-$TAG-"*.tar
    bh push --quiet "localhost/catga/$1:$TAG" "docker-archive:$archive.tmp:docker.io/catga/$1:$TAG"
    mv "$archive.tmp" "$archive"
  fi
  mkdir -p "$EXPORT_DIR"
  ln -f "$archive" "$EXPORT_DIR/catga-$1.tar" 2>/dev/null || cp "$archive" "$EXPORT_DIR/catga-$1.tar"
}

# inputs_hash NAME: a hash of what NAME/Dockerfile builds from (itself, the sources its COPY lines
# name, the base image's ID). Even fully cached, a vfs `buildah bud` takes minutes here: an image
# built from the same inputs (recorded in .cache/containers/inputs/NAME with its ID) is kept.
inputs_hash() {
  local sources
  sources=$(sed -n 's/^COPY \([^-].*\) [^ ]*$/\1/p' "$1/Dockerfile" | tr ' ' '\n' | sort -u)
  {
    # shellcheck disable=SC2086 # one path per word
    find "$1/Dockerfile" $sources -type f -print0 | sort -z | xargs -0 sha256sum
    bh images --noheading --no-trunc --format '{{.ID}}' "localhost/$BASE_IMAGE" | sed -n 1p
  } | sha256sum | cut -c1-16
}

build_with_buildah() {
  if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null || ! command -v strip >/dev/null; then
    log "needs docker, or buildah, mmdebstrap and strip (apt-get install buildah mmdebstrap binutils)"
    exit 2
  fi
  if ! bh inspect --type image "localhost/$BASE_IMAGE" >/dev/null 2>&1; then build_base_image; fi
  local image inputs
  for image in "${IMAGES[@]}"; do
    inputs="$(inputs_hash "$image") $TAG"
    if [ "$(cat "$STORE/inputs/$image" 2>/dev/null)" = "$inputs $(image_id "$image")" ]; then
      log "catga/$image:$TAG is up to date"
      if [ -n "$EXPORT_DIR" ]; then export_image "$image"; fi
      continue
    fi
    log "building catga/$image:$TAG from $image/Dockerfile"
    # The host's hard rlimits are lower than the runtime's defaults; the build needs the npm
    # registry. The revision is a label given here, not a build argument: one would void the cache.
    bh bud --quiet --pull=never --network=host --layers \
      --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
      --build-arg VERSION="$TAG" --label org.opencontainers.image.revision="$REVISION" \
      -f "$image/Dockerfile" -t "localhost/catga/$image:$TAG" . >/dev/null
    mkdir -p "$STORE/inputs"
    echo "$inputs $(image_id "$image")" >"$STORE/inputs/$image"
    if [ -n "$EXPORT_DIR" ]; then export_image "$image"; fi
  done
  bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E "catga/|$BASE_IMAGE" >&2
}

build_with_docker() {
  local image
  for image in "${IMAGES[@]}"; do
    docker build --build-arg VERSION="$TAG" --label org.opencontainers.image.revision="$REVISION" \
      -t "catga/$image:$TAG" -f "$image/Dockerfile" .
    if [ -n "$EXPORT_DIR" ]; then
      mkdir -p "$EXPORT_DIR"
      docker save -o "$EXPORT_DIR/catga-$image.tar" "catga/$image:$TAG"
    fi
  done
}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  build_with_docker
else
  build_with_buildah
fi
