#!/usr/bin/env bash
# Builds .device/ (ignored), everything the device machine needs to time the bench on its GPU and that it
# lacks: Node, the bench bundled, the few packages the bundle loads (Dawn's linux-x64 addon among them),
# Vulkan's loader, and the official SAM 2 source for the PyTorch side-by-side. Run here, from a checkout
# after `npm ci`; bench/README.md ("On a lent GPU machine") gives the whole procedure.
#
#   bash bench/device/prepare.sh
#
# SAM2_GIT_DIR: a git directory of facebookresearch/sam2 (the search tool's `fetch` gives one); default:
# the mirror's usual place. Without one the PyTorch side-by-side is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
DEST=.device
SHARED=${SAM2LONG_SHARED:-$REPO/../shared}
SAM2_GIT_DIR=${SAM2_GIT_DIR:-/work/.mirror/facebookresearch+sam2/repo}
# The travelling tree's limit (device README): tracked and untracked files plus the carried paths.
LIMIT=$((64 * 1024 * 1024))

[ -d node_modules/@tensorflow/tfjs-core ] || { echo "prepare: run npm ci first" >&2; exit 1; }
[ -d test/fixtures/golden ] || { echo "prepare: the fixtures are away: bash bench/device/fixtures.sh back" >&2; exit 1; }
# Prebuilt addons are per platform: the device machine is x86-64 Linux, as this one must be to test here.
[ "$(uname -m)" = x86_64 ] || { echo "prepare: needs an x86-64 machine (the device's Node and Dawn)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf "$DEST"
mkdir -p "$DEST" "$stage/bin" "$stage/node_modules/@tensorflow"

# The bench, kernel counter and adapter check as three bundles sharing chunks, in .device/ itself: the bench
# takes the repository to be the folder above its own file (bench/synthetic.ts). tfjs and Dawn stay packages:
# tfjs-backend-wasm finds its .wasm files and its pthread workers' names in its own files (see
# src/node/backend-wasm-threads.ts), and tfjs-core must be one copy for all backends. sharp (with libvips, 20 MB)
# is only reached through image files, which the synthetic benchmarks never read: a module that says so
# stands in for it. The banner gives the CommonJS packages bundled (yaml, yauzl) the `require` of Node's
# builtins that an ES module lacks.
echo "export default () => { throw new Error('sharp is not carried to the device machine'); };" >"$stage/sharp.mjs"
node_modules/.bin/esbuild bench/run.ts bench/kernel-count.ts bench/device/adapter.ts --bundle --splitting --format=esm \
  --platform=node --target=node20 --outdir="$DEST" --entry-names='[name]' --chunk-names='chunk-[hash]' \
  --out-extension:.js=.mjs '--external:@tensorflow/*' --external:webgpu --alias:sharp="$stage/sharp.mjs" \
  --banner:js="import { createRequire as requireFor } from 'node:module'; const require = requireFor(import.meta.url);" \
  --log-level=error

# What those packages load in Node (their package.json "main", the wasm binaries beside it; seedrandom is
# required by tfjs-core and the cpu backend).
for pkg in tfjs-core tfjs-backend-cpu tfjs-backend-wasm tfjs-backend-webgpu; do
  from=node_modules/@tensorflow/$pkg to=$stage/node_modules/@tensorflow/$pkg
  main=$(node -p "require('./$from/package.json').main")
  mkdir -p "$to/$(dirname "$main")"
  cp "$from/package.json" "$to/"
  cp "$from/$main" "$to/$main"
done
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$stage/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
cp -r node_modules/seedrandom "$stage/node_modules/"
mkdir -p "$stage/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$stage/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$stage/node_modules/webgpu/dist/linux-x64/"

# This machine's Node (the version the bench is run with here), without its debug symbols where strip exists.
strip -o "$stage/bin/node" "$(command -v node)" || cp "$(command -v node)" "$stage/bin/node"
"$stage/bin/node" --version >/dev/null
tar -C "$stage" -cf - bin node_modules | xz -9 -T0 >"$DEST/payload.tar.xz"

# The random-weight model's key list; test/fixtures/golden stays here (bench/README.md).
cp test/fixtures/golden/skeletons/skeletons.json "$DEST/"

# Which commit the results are of: the device's copy of the tree has no git.
git rev-parse HEAD >"$DEST/commit"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "prepare: WARNING: tracked files differ from $(git rev-parse --short HEAD); the results will say dirty" >&2
  touch "$DEST/dirty"
fi

# Vulkan's loader and GL dispatch libraries, unpacked on the device only where its image lacks them.
mkdir -p "$DEST/gl" "$stage/apt/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$stage/apt")
apt-get "${apt_opts[@]}" -qq update
(cd "$DEST/gl" && apt-get "${apt_opts[@]}" -qq download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

# The official PyTorch SAM 2.1 tiny, timed on CUDA beside the bench (bench/device/torch_cuda.py).
if [ -f "$SHARED/perf/reference/sam2_bench.py" ] && git --git-dir="$SAM2_GIT_DIR" rev-parse -q --verify HEAD >/dev/null 2>&1; then
  mkdir -p "$DEST/torch"
  cp "$SHARED/perf/reference/sam2_bench.py" "$SHARED/perf/reference/sam2_shim.py" "$DEST/torch/"
  # (A mirror without the notebooks' large files names them on stderr; the package itself is whole.)
  git --git-dir="$SAM2_GIT_DIR" archive HEAD sam2 | tar -x -C "$DEST/torch"
  git --git-dir="$SAM2_GIT_DIR" rev-parse HEAD >"$DEST/torch/sam2-commit"
else
  echo "prepare: no sam2_bench.py under $SHARED or no sam2 git directory at $SAM2_GIT_DIR: the PyTorch side-by-side is left out" >&2
fi

carry=$(du -sb "$DEST" | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard -- . ':!test/fixtures/golden' | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "prepare: $DEST is $((carry / 1024)) KiB; with the tree less test/fixtures/golden ($((tree / 1024)) KiB): $(((carry + tree) / 1024)) KiB of $((LIMIT / 1024)) KiB"
[ $((carry + tree)) -le $LIMIT ] || { echo "prepare: over the device machine's limit" >&2; exit 1; }
