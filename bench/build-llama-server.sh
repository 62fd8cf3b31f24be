#!/usr/bin/env bash
# Builds llama.cpp's own llama-server from the exact llama.cpp source node-llama-cpp
# bundles (its git bundle plus its patches), CPU only, Release, without curl or the
# web UI, into bench/llama-server/ (ignored by git). Offline; ~11 minutes on 2 cores.
#
#   bench/build-llama-server.sh            # then: npm run bench -- --llama-server bench/llama-server/bin/llama-server
#   bench/build-llama-server.sh --with-quantize   # also llama-quantize (Q8_0 / Q4_K_M of a bench model), same tree
set -euo pipefail

targets=(llama-server)
for arg in "$@"; do
  case "$arg" in
    --with-quantize) targets+=(llama-quantize) ;;
    *) echo "unknown option: $arg (known: --with-quantize)" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
nlc="$root/node_modules/node-llama-cpp/llama"
out="$root/bench/llama-server"
src="$out/src"
jobs="${JOBS:-$(nproc)}"

[ -f "$nlc/gitRelease.bundle" ] || { echo "node-llama-cpp's bundled llama.cpp source is missing; run npm ci first" >&2; exit 1; }

# A tree cloned and patched before (an interrupted build) is reused, so cmake carries on
# where it stopped; delete bench/llama-server/src to start over.
mkdir -p "$out"
if [ -f "$src/.maas-patched" ] && [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" = "$(git ls-remote "$nlc/gitRelease.bundle" HEAD | cut -f1)" ]; then
  echo "reusing $src"
else
  rm -rf "$src"
  git -c advice.detachedHead=false clone --quiet "$nlc/gitRelease.bundle" "$src"
  for patch in "$nlc"/patches/*.diff; do
    [ -e "$patch" ] || continue
    git -C "$src" apply "$patch"
  done
  touch "$src/.maas-patched"
fi

# Built as our tuned engine is (engineInfo.ts): native code without AMX, which GCC 12 (Debian
# 12) miscompiles in llama.cpp's kernels (the tile shapes are dropped before ldtilecfg, so
# every quantized model crashes on Sapphire Rapids and later).
flags=()
if [ "$(uname -m)" = x86_64 ]; then
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  flags=(-DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx")
fi

cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON "${flags[@]}" \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$src/build" --config Release --target "${targets[@]}" -j "$jobs"

mkdir -p "$out/bin"
for target in "${targets[@]}"; do
  cp "$src/build/bin/$target" "$out/bin/$target"
  echo "built $out/bin/$target ($(git -C "$src" rev-parse --short HEAD) + $(ls "$nlc"/patches/*.diff 2>/dev/null | wc -l) patch(es))"
done
