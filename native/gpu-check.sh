#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds native/ with the CUDA kernels for sm_90 (H100/H200) in a fresh
# build directory, runs arelu_cuda_check (CUDA kernels against the CPU kernels, determinism, bandwidth
# against cudaMemcpy), then the CPU test suite and the libtorch op's tests on CUDA. Run from the repository
# root:
#   bash native/gpu-check.sh
# GoogleTest: an installed one, else its sources in ARELU_GTEST_SOURCE or build/googletest-src (a copy of
# Debian's /usr/src/googletest, for a machine without it: the GPU machine has Python, PyTorch, nvcc and
# CMake only). arelu_cuda_check needs none and runs first.
# Exits non-zero if anything fails, including a build that came out without CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/native-gpu
arch="${ARELU_CUDA_ARCH:-90}"
gtest_source="${ARELU_GTEST_SOURCE:-}"
if [ -z "$gtest_source" ] && [ -f build/googletest-src/CMakeLists.txt ]; then
  gtest_source="$PWD/build/googletest-src"
fi
rm -rf "$build"
cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=Release -DARELU_BUILD_TORCH=OFF -DARELU_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DARELU_GTEST_SOURCE="$gtest_source"
cmake --build "$build" -j "$(nproc)"
if [ ! -x "$build/arelu_cuda_check" ]; then
  echo "gpu-check: arelu_cuda_check was not built (no CUDA?)" >&2
  exit 1
fi
"$build/arelu_cuda_check"
if [ -x "$build/arelu_cpu_test" ]; then
  ctest --test-dir "$build" --output-on-failure --no-tests=error
else
  # CI runs this suite on every change; here it is a bonus.
  echo "gpu-check: no GoogleTest here (nor its sources in build/googletest-src): the CPU test suite did not run" >&2
fi

# ---- libtorch op (native/torch): its GoogleTest suite on CUDA tensors, against the machine's PyTorch.
if python3 -c 'import torch' 2>/dev/null; then
  ARELU_GTEST_SOURCE="$gtest_source" bash native/torch/gpu-check-torch.sh
else
  echo "gpu-check: no PyTorch for python3 here; the libtorch op's CUDA tests did not run" >&2
  exit 1
fi

echo "gpu-check: all passed"
