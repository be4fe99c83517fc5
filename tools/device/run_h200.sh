#!/usr/bin/env bash
# The GPU session's single command (issue 6): flint on WebGPU (Dawn over
# NVIDIA's Vulkan driver) beside PyTorch on CUDA, on the same machine.
# Prepare here with tools/device/prepare.sh, then call the device tool with
#
#   command: bash tools/device/run_h200.sh
#   carry:   [".device", ".gl"]
#   timeout_s: 480
#
# Writes to $OUT (what comes back): run.log (everything printed), env.txt
# (GPU, driver, Vulkan ICD, adapter, node, torch), webgpu.txt (the table) and
# webgpu.json (every measurement). See docs/benchmarks.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
T0=$SECONDS
say() { echo "[run_h200 +$((SECONDS - T0))s] $*"; }
ENV_TXT=$OUT/env.txt
DEV=.device
DAWN=$DEV/bench/node_modules/webgpu/dist/linux-x64/dawn.node
# On exit: remove the unpacked dawn.node (a trial run here leaves .device as small as
# prepare.sh made it), then close our output so that tee has written run.log in full.
trap 'rm -f "$DAWN"; exec >&- 2>&-; wait' EXIT
# The bench stops here whatever happens, leaving time in a 480 s call to copy $OUT back.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-400}

if [ ! -f "$DEV/node.xz" ] || [ ! -f "$DEV/bench/run.js" ]; then
  say "no $DEV/node.xz or $DEV/bench/run.js: run tools/device/prepare.sh first, and carry .device and .gl"
  exit 2
fi
cat "$DEV/MANIFEST.txt" >"$ENV_TXT" 2>/dev/null

say "GPU"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv ||
    echo "nvidia-smi failed"
  echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
} | tee -a "$ENV_TXT"

say "Vulkan loader"
if ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  echo "libvulkan.so.1 is installed" | tee -a "$ENV_TXT"
elif ls .gl/*.deb >/dev/null 2>&1; then
  # As the device README prescribes: these few libraries only, into /.
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  echo "unpacked $(ls .gl/*.deb | wc -l) carried .deb files" | tee -a "$ENV_TXT"
elif [ -f .gl/lib/libvulkan.so.1 ]; then
  export LD_LIBRARY_PATH=$PWD/.gl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "using the carried .gl/lib/libvulkan.so.1" | tee -a "$ENV_TXT"
else
  echo "no libvulkan.so.1 and nothing carried in .gl: flint's webgpu side will find no adapter" |
    tee -a "$ENV_TXT"
fi
# NVIDIA's ICD names its library without a path; the driver's folder may not be in ld.so.cache.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done

say "Vulkan ICD"
ICD=""
for d in /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d \
  /usr/local/share/vulkan/icd.d; do
  for f in "$d"/nvidia_icd*.json; do
    if [ -f "$f" ]; then
      ICD=$f
      break 2
    fi
  done
done
if [ -z "$ICD" ]; then
  ICD=$(timeout 30 find /usr /etc /opt -name 'nvidia_icd*.json' 2>/dev/null | head -1)
fi
if [ -n "$ICD" ]; then
  # VK_DRIVER_FILES for current loaders, VK_ICD_FILENAMES for older ones: NVIDIA's only.
  export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD
  echo "Vulkan ICD: $ICD: $(tr -d '\n ' <"$ICD")" | tee -a "$ENV_TXT"
else
  echo "no nvidia_icd.json found: the Vulkan loader will look in its default places" |
    tee -a "$ENV_TXT"
fi
EGL_VENDOR=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$EGL_VENDOR" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$EGL_VENDOR

say "unpacking node and dawn.node"
unxz_to() {
  if command -v xz >/dev/null; then
    xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
NODE=/tmp/flint-node/node
mkdir -p /tmp/flint-node
unxz_to "$DEV/node.xz" "$NODE" && chmod +x "$NODE"
unxz_to "$DEV/dawn.node.xz" "$DAWN"
echo "node: $("$NODE" --version)" | tee -a "$ENV_TXT"

say "WebGPU adapter"
"$NODE" --input-type=module -e '
const { pathToFileURL } = await import("node:url");
const { create } = await import(pathToFileURL(process.argv[1]).href);
const gpu = create(["backend=vulkan"]);
const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!a) { console.log("adapter: none (Dawn found no Vulkan device)"); process.exit(0); }
const i = a.info;
console.log(`adapter: ${i.vendor} | ${i.architecture} | ${i.device} | ${i.description}`);
console.log(`limits: maxStorageBufferBindingSize ${a.limits.maxStorageBufferBindingSize}, maxBufferSize ${a.limits.maxBufferSize}, maxComputeWorkgroupStorageSize ${a.limits.maxComputeWorkgroupStorageSize}`);
process.exit(0);
' "$PWD/$DEV/bench/node_modules/webgpu/index.js" 2>&1 | grep -v '^Warning: ' | tee -a "$ENV_TXT"

say "PyTorch"
PY=${PYTHON:-python3}
if "$PY" -c 'import torch' 2>/dev/null; then
  "$PY" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuda available: {torch.cuda.is_available()}")' |
    tee -a "$ENV_TXT"
else
  echo "python3 has no torch here: the table will have no PyTorch column (skipped)" | tee -a "$ENV_TXT"
fi

say "benchmark: flint on webgpu, PyTorch on cuda (at most ${BENCH_TIMEOUT} s)"
# Each system is one child; --child-timeout stops a stuck one and keeps what it measured.
timeout -k 10 "$BENCH_TIMEOUT" "$NODE" "$DEV/bench/run.js" --device webgpu --python "$PY" \
  --child-timeout 200 --json "$OUT/webgpu.json" ${BENCH_ARGS:-} | tee "$OUT/webgpu.txt"
status=${PIPESTATUS[0]}
say "done (exit $status)"
exit "$status"
