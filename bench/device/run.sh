#!/usr/bin/env bash
# The GPU timings of issue 18 in one call on a lent device machine (bench/README.md, "On a lent GPU machine"):
# the bench at 1024 and 512 px on WebGPU (model units; the synthetic tiny video at 1024 px, greedy and P=3),
# the kernel counts at 1024 px, and the official PyTorch SAM 2.1 tiny on CUDA for the ratios. Runs from the
# repository root with .device/ carried (bench/device/prepare.sh) and $OUT set; writes at most 7 files there.
#
#   OUT=/tmp/out bash bench/device/run.sh
#
# SAM2LONG_DEVICE_DRY=1: the rehearsal on a machine without a GPU (bench/device/dry-run.sh): small sizes,
# Dawn's software adapter, no loaders unpacked, no PyTorch. SAM2LONG_DEVICE_BUDGET_S: seconds for it all
# (default 420, inside one call's 600); no step runs past them, so the log and the files so far come back.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?OUT must name the folder whose files come back}"

DRY=${SAM2LONG_DEVICE_DRY:-0}
BUDGET=${SAM2LONG_DEVICE_BUDGET_S:-420}
DEADLINE=$((SECONDS + BUDGET))
DATE=$(date -u +%F)
FAILED=0
if [ "$DRY" = 1 ]; then
  SIZE=128 SMALL=64 FRAMES=3 REPS=1 WARMUP=0 VIDEO_REPS=1 KERNEL_FRAMES=2 HARDWARE=
else
  # A unit at 1024 px takes well under a second on an H100: several timed runs are affordable.
  SIZE=1024 SMALL=512 FRAMES=20 REPS=5 WARMUP=1 VIDEO_REPS=2 KERNEL_FRAMES=10 HARDWARE=--hardware
fi

# `step NAME CAP_S COMMAND...`: COMMAND (its child processes too) for at most CAP_S seconds, never past the
# deadline. Its own lines go to stderr: a step's stdout may be a results file.
step() {
  local name=$1 cap=$2 left=$((DEADLINE - SECONDS - 5)) started=$SECONDS rc
  shift 2
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -lt 10 ]; then
    echo "== $name: skipped, out of time" >&2
    FAILED=$((FAILED + 1))
    return 1
  fi
  echo "== $name (at most $cap s; $(date -u +%T))" >&2
  timeout -k 5 "$cap" "$@"
  rc=$?
  echo "== $name: exit $rc after $((SECONDS - started)) s" >&2
  [ $rc = 0 ] || FAILED=$((FAILED + 1))
  return $rc
}

# `pytorch LABEL [--autocast bf16]`: the official model's JSON lines into $OUT, or no file when it fails.
pytorch() {
  local file=$OUT/$DATE-torch-$1.jsonl label=$1
  shift
  step "pytorch $label" 90 env PYTHONUNBUFFERED=1 python3 bench/device/torch_cuda.py "$@" .device/torch/sam2_bench.py \
    --sizes t --track --enc-runs 20 --track-runs 20 --min-runs 5 --batches 1,3 --no-seq --label "$label" >"$file" ||
    { rm -f "$file"; return 1; }
}

main() {
  # Node and the packages the bundles load; the machine has none of its own (nor, perhaps, xz for tar).
  if [ ! -x .device/bin/node ]; then
    tar -xJf .device/payload.tar.xz -C .device ||
      python3 -c "import tarfile; tarfile.open('.device/payload.tar.xz').extractall('.device', filter='tar')" || exit 1
  fi
  export PATH=$PWD/.device/bin:$PATH
  echo "node $(node --version) at $(command -v node)"

  # The random-weight model's key list, where the bench reads it (the golden fixtures stay behind).
  if [ ! -f test/fixtures/golden/skeletons/skeletons.json ]; then
    mkdir -p test/fixtures/golden/skeletons && cp .device/skeletons.json test/fixtures/golden/skeletons/
  fi
  SAM2LONG_COMMIT=$(cat .device/commit)
  export SAM2LONG_COMMIT
  [ -f .device/dirty ] && export SAM2LONG_DIRTY=1

  if [ "$DRY" != 1 ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || exit 1
    # Vulkan's loader where the image lacks it, unpacked as the device README says (the machine is thrown away).
    if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
      for f in .device/gl/*.deb; do dpkg -x "$f" /; done
      ldconfig
    fi
    export SAM2LONG_DAWN_FLAGS=${SAM2LONG_DAWN_FLAGS:-backend=vulkan}
  fi

  # Dawn must reach the GPU before minutes go to timing; if not, once more with the driver's own ICD file.
  if ! step adapter 90 node .device/adapter.mjs $HARDWARE; then
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d "$(dirname "$icd")"
    ldconfig -p | grep -E 'libvulkan|libGLX_nvidia|libnvidia-glcore'
    [ "$DRY" != 1 ] && [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ] || exit 1
    export VK_DRIVER_FILES=$icd __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    step adapter 90 node .device/adapter.mjs $HARDWARE || exit 1
  fi

  # PyTorch first: the bench prints and records its ratios against this run's file.
  local reference=() torch=0
  [ "$DRY" != 1 ] && [ -d .device/torch ] && torch=1
  [ $torch = 1 ] && echo "PyTorch: facebookresearch/sam2 at $(cat .device/torch/sam2-commit)"
  if [ $torch = 1 ] && pytorch cuda-fp32; then
    reference=(--pytorch "$OUT/$DATE-torch-cuda-fp32.jsonl")
  fi

  # One process per size, so that a size cut off at its limit leaves the other's results.
  step "bench $SIZE px" 240 node .device/run.mjs --sizes "$SIZE" --backends webgpu --reps "$REPS" --warmup "$WARMUP" \
    --video-models tiny --video-size "$SIZE" --video-frames "$FRAMES" --video-modes greedy,3 --video-reps "$VIDEO_REPS" \
    --out "$OUT" "${reference[@]}"
  step "kernel counts $SIZE px greedy" 90 node .device/kernel-count.mjs --size "$SIZE" --frames "$KERNEL_FRAMES" \
    --out "$OUT/$DATE-kernels-tiny-webgpu-greedy-$SIZE.json"
  step "kernel counts $SIZE px P=3" 90 node .device/kernel-count.mjs --size "$SIZE" --frames "$KERNEL_FRAMES" --paths 3 \
    --out "$OUT/$DATE-kernels-tiny-webgpu-P3-$SIZE.json"
  step "bench $SMALL px" 120 node .device/run.mjs --sizes "$SMALL" --backends webgpu --reps "$REPS" --warmup "$WARMUP" \
    --no-video --out "$OUT"
  # bfloat16 autocast, as the official demos run SAM 2 on a GPU: for the log and the README, not the ratios.
  [ $torch = 1 ] && pytorch cuda-bf16 --autocast bf16

  echo "== done in $((SECONDS - DEADLINE + BUDGET)) s, $FAILED step(s) failed or skipped"
  ls -l "$OUT"
  [ $FAILED = 0 ]
}

mkdir -p "$OUT"
main 2>&1 | tee "$OUT/log.txt"
