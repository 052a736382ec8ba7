#!/usr/bin/env bash
# Rehearses bench/device/run.sh here, on Dawn's software adapter at small sizes, in what the device machine
# gets: a copy of the committed tree without test/fixtures/golden and node_modules, .device/ beside it, and
# no Node but the carried one (this machine's is hidden in a private mount namespace). A few minutes.
#
#   bash bench/device/dry-run.sh [OUT]    (OUT, emptied first: /tmp/devout; after bench/device/prepare.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/devout}
[ -f .device/payload.tar.xz ] || { echo "dry-run: run bench/device/prepare.sh first" >&2; exit 1; }
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
git clone -q --no-hardlinks . "$tree/repo"
rm -rf "$tree/repo/.git" "$tree/repo/test/fixtures/golden"
cp -r .device "$tree/repo/"
rm -rf "$tree/repo/.device/bin" "$tree/repo/.device/node_modules" "$out"
node=$(command -v node)
unshare -m bash -c "mount --bind /dev/null '$node' && cd '$tree/repo' && ! node --version 2>/dev/null &&
  OUT='$out' SAM2LONG_DEVICE_DRY=1 bash bench/device/run.sh"
