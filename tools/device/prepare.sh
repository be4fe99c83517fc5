#!/usr/bin/env bash
# Gathers what tools/device/run_h200.sh needs on the GPU machine, which has no
# Node.js and reaches no registry. Run it here (not there), from any folder:
#
#   bash tools/device/prepare.sh
#
# It writes two folders at the repository root, both kept out of git through
# .git/info/exclude, both to be named in the device tool's `carry`:
#   .device/  node.xz        this machine's Node 20 binary, xz-compressed
#             dawn.node.xz   the `webgpu` package's native module (Dawn), xz-compressed
#             bench/         run.js, flint_bench.js, gemm_worker.js: esbuild bundles of
#                            bench/run.ts, bench/flint_bench.ts (flint's src/ inside) and
#                            the CPU GEMM worker; torch_bench.py and torch_models.py; node_modules/webgpu
#                            (its JavaScript; run_h200.sh unpacks dawn.node beside it)
#             MANIFEST.txt   what was packed, from which commit, and the sizes
#   .gl/      the Vulkan loader and GL vendor-neutral libraries as Debian amd64
#             .deb files, as /work/.library/device/README.md prescribes; unpacked
#             there only when the machine has no libvulkan.so.1
# and checks that they and the working tree stay under the tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DEV=.device
LIMIT=$((64 * 1024 * 1024))

say() { echo "prepare: $*"; }

NODE_BIN=$(command -v node)
NODE_MAJOR=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 20 ] || say "warning: node here is $("$NODE_BIN" --version), not 20"
[ "$(uname -m)" = x86_64 ] || { say "this machine is $(uname -m); the GPU machine needs x86-64 binaries"; exit 1; }
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || { say "no $DAWN: run npm install (webgpu is an optional dependency)"; exit 1; }

# Ignored, so they travel only as `carry` and never get committed.
EXCLUDE=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$EXCLUDE")"
for p in /.device/ /.gl/; do
  grep -qxF "$p" "$EXCLUDE" 2>/dev/null || echo "$p" >>"$EXCLUDE"
done

rm -rf "$DEV"
mkdir -p "$DEV/bench/node_modules/webgpu/dist/linux-x64" .gl

say "bundling the benchmark with esbuild"
# gemm_worker.js sits beside the bundle because flint's thread pool loads
# ./gemm_worker.js next to its own module when it does not run from .ts sources.
node_modules/.bin/esbuild bench/run.ts bench/flint_bench.ts \
  src/backend/cpu/threads/gemm_worker.ts \
  --bundle --platform=node --format=esm --target=node20 \
  --outdir="$DEV/bench" --entry-names='[name]' --log-level=warning
echo '{ "type": "module" }' >"$DEV/bench/package.json"
cp bench/torch_bench.py bench/torch_models.py "$DEV/bench/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md \
  "$DEV/bench/node_modules/webgpu/"

say "compressing node ($NODE_BIN, $("$NODE_BIN" --version)) and dawn.node with xz (about a minute)"
xz -T0 -6 -c "$NODE_BIN" >"$DEV/node.xz"
xz -T0 -6 -c "$DAWN" >"$DEV/dawn.node.xz"

say "fetching the Vulkan loader and GL libraries (.deb, amd64)"
rm -f .gl/*.deb
LISTS=/tmp/flint-device-apt
mkdir -p "$LISTS/partial"
APT=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$LISTS")
if apt-get "${APT[@]}" update >/dev/null 2>&1 &&
  (cd .gl && apt-get "${APT[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 \
    >/dev/null 2>&1); then
  say "got $(ls .gl/*.deb | wc -l) packages"
else
  # Without a registry: this machine's own loader, put on LD_LIBRARY_PATH there.
  say "apt-get download failed; carrying this machine's libvulkan.so.1 instead"
  mkdir -p .gl/lib
  cp -L "$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')" .gl/lib/libvulkan.so.1
fi

tree_bytes=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
carry_bytes=$(du -sb "$DEV" .gl | awk '{s += $1} END {print s}')
total=$((tree_bytes + carry_bytes))
{
  echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo ' (with uncommitted changes in src/ or bench/)')"
  echo "node $("$NODE_BIN" --version); webgpu $("$NODE_BIN" -p 'require("./node_modules/webgpu/package.json").version')"
  echo "working tree $tree_bytes bytes + carry $carry_bytes bytes = $total bytes (limit $LIMIT)"
  (cd "$DEV" && ls -l node.xz dawn.node.xz bench/*.js bench/torch_bench.py bench/torch_models.py)
  ls -l .gl
} >"$DEV/MANIFEST.txt"
cat "$DEV/MANIFEST.txt"
if [ "$total" -ge "$LIMIT" ]; then
  say "TOO BIG: $total bytes travel, the device tool takes at most $LIMIT"
  exit 1
fi
say "ready: carry [\".device\", \".gl\"] and run bash tools/device/run_h200.sh (docs/benchmarks.md)"
