#!/usr/bin/env bash
# Builds llama.cpp's own llama-server from the exact llama.cpp source node-llama-cpp
# bundles (its git bundle plus its patches), CPU only, Release, without curl or the
# web UI, into bench/llama-server/ (ignored by git). Offline; ~11 minutes on 2 cores.
#
#   bench/build-llama-server.sh            # then: npm run bench -- --llama-server bench/llama-server/bin/llama-server
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
nlc="$root/node_modules/node-llama-cpp/llama"
out="$root/bench/llama-server"
src="$out/src"
jobs="${JOBS:-$(nproc)}"

[ -f "$nlc/gitRelease.bundle" ] || { echo "node-llama-cpp's bundled llama.cpp source is missing; run npm ci first" >&2; exit 1; }

rm -rf "$src"
mkdir -p "$out"
git clone --quiet "$nlc/gitRelease.bundle" "$src"
for patch in "$nlc"/patches/*.diff; do
  [ -e "$patch" ] || continue
  git -C "$src" apply "$patch"
done

cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$src/build" --config Release --target llama-server -j "$jobs"

mkdir -p "$out/bin"
cp "$src/build/bin/llama-server" "$out/bin/llama-server"
echo "built $out/bin/llama-server ($(git -C "$src" rev-parse --short HEAD) + $(ls "$nlc"/patches/*.diff 2>/dev/null | wc -l) patch(es))"
