# shellcheck shell=bash
# Sourced by the scripts that build images with buildah: `bh` is buildah on the project-local
# store under .cache/containers/ (vfs: works wherever the root file system is; no daemon), so that
# nothing clashes with the machine's own images. Needs ROOT (the repository root).
BUILDAH_STORE=$ROOT/.cache/containers
bh() { buildah --root "$BUILDAH_STORE/storage" --runroot "$BUILDAH_STORE/run" --storage-driver vfs "$@"; }
