#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds native/ with the CUDA kernels for sm_90 (H100/H200) in a fresh
# build directory, runs the CPU test suite and arelu_cuda_check (CUDA kernels against the CPU kernels,
# determinism, bandwidth against cudaMemcpy). Run from the repository root:
#   bash native/gpu-check.sh
# Exits non-zero if anything fails, including a build that came out without CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/native-gpu
arch="${ARELU_CUDA_ARCH:-90}"
rm -rf "$build"
cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=Release -DARELU_BUILD_TORCH=OFF -DARELU_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch"
cmake --build "$build" -j "$(nproc)"
if [ ! -x "$build/arelu_cuda_check" ]; then
  echo "gpu-check: arelu_cuda_check was not built (no CUDA?)" >&2
  exit 1
fi
ctest --test-dir "$build" --output-on-failure --no-tests=error
"$build/arelu_cuda_check"

# ---- libtorch op (native/torch): its GoogleTest suite on CUDA tensors, against the machine's PyTorch.
if python3 -c 'import torch' 2>/dev/null; then
  bash native/torch/gpu-check-torch.sh
else
  echo "gpu-check: no PyTorch for python3 here; the libtorch op's CUDA tests did not run" >&2
  exit 1
fi

echo "gpu-check: all passed"
