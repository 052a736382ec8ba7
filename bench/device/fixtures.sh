#!/usr/bin/env bash
# Moves test/fixtures/golden (74 MB: the tree would be over the device machine's 64 MiB) out of the checkout
# for a device call, and back right after. It waits beside the checkout, in <checkout>.golden-away; neither
# way overwrites anything, and tests that read the fixtures fail while they are away.
#
#   bash bench/device/fixtures.sh away|back
set -euo pipefail
cd "$(dirname "$0")/../.."
here=test/fixtures/golden
away=$PWD.golden-away
case ${1:-} in
  away)
    [ -d "$here" ] || { echo "fixtures: no $here here to move" >&2; exit 1; }
    [ ! -e "$away" ] || { echo "fixtures: $away exists (an earlier move not undone?): nothing moved" >&2; exit 1; }
    mv "$here" "$away"
    echo "fixtures: $here is in $away until 'bash bench/device/fixtures.sh back'"
    ;;
  back)
    [ -d "$away" ] || { echo "fixtures: nothing in $away to move back" >&2; exit 1; }
    [ ! -e "$here" ] || { echo "fixtures: $here exists again: nothing moved (compare it with $away first)" >&2; exit 1; }
    mv "$away" "$here"
    if [ -n "$(git status --porcelain -- "$here")" ]; then
      echo "fixtures: back, but git sees changes in $here:" >&2
      git status --short -- "$here" >&2
      exit 1
    fi
    echo "fixtures: back in $here, as committed"
    ;;
  *)
    echo "usage: bash bench/device/fixtures.sh away|back" >&2
    exit 2
    ;;
esac
