#!/usr/bin/env bash
# On the GPU machine: builds native/ (kernels with CUDA, sm_90) and native/torch against the PyTorch
# installed for python3, then runs the tests, with the CUDA instances of the native/torch tests
# required to use the fused CUDA kernels. Run from the repository root:
#   bash native/torch/gpu-check-torch.sh
# Exits non-zero if anything fails, including a build that came out without CUDA.
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-python3}"
# TorchConfig.cmake under share/cmake, and the PyTorch directory itself, whose lib/ then comes before the
# system's libraries (a libtorch-dev beside it would be refused by native/torch/CMakeLists.txt otherwise).
prefix="$("$python" -c 'import os, torch; print(torch.utils.cmake_prefix_path + ";" + os.path.dirname(torch.__file__))')"
torch_cuda="$("$python" -c 'import torch; print(torch.version.cuda or "")')"
if [ -z "$torch_cuda" ]; then
  echo "gpu-check-torch: the PyTorch of $python is not a CUDA build" >&2
  exit 1
fi
echo "gpu-check-torch: PyTorch $("$python" -c 'import torch; print(torch.__version__)') (CUDA $torch_cuda) at $prefix" >&2

# The op links the toolkit's CUDA runtime, PyTorch its own: of another major version, two runtimes would share
# the process (CUDA 13's also needs driver 580 or later). Said before the build, so that a failure below is
# read with it in mind.
nvcc_cuda="$("${CUDACXX:-nvcc}" --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' || true)"
if [ -n "$nvcc_cuda" ] && [ "${nvcc_cuda%%.*}" != "${torch_cuda%%.*}" ]; then
  echo "gpu-check-torch: WARNING: nvcc is CUDA $nvcc_cuda, PyTorch was built with CUDA $torch_cuda: the op" \
    "would run a CUDA $nvcc_cuda runtime beside PyTorch's; a failure below may come from that, not the code" >&2
fi
gtest_source="${ARELU_GTEST_SOURCE:-}"
if [ -z "$gtest_source" ] && [ -f build/googletest-src/CMakeLists.txt ]; then
  gtest_source="$PWD/build/googletest-src"
fi

build=build/native-torch-gpu
# Without it libtorch's CMake compiles a probe program to detect the architecture; H200 is sm_90.
export TORCH_CUDA_ARCH_LIST=9.0
cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=Release -DARELU_BUILD_TORCH=ON -DARELU_REQUIRE_TORCH=ON \
  -DARELU_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_PREFIX_PATH="$prefix" \
  -DARELU_GTEST_SOURCE="$gtest_source"
if ! grep -q '^ARELU_TORCH_WITH_CUDA:INTERNAL=ON$' "$build/CMakeCache.txt"; then
  echo "gpu-check-torch: native/torch was configured without CUDA (no CUDA language or a CPU libtorch)" >&2
  exit 1
fi
cmake --build "$build" -j "$(nproc)"
if ! ctest --test-dir "$build" -N -R '^torch\.' | grep -q 'Total Tests: [1-9]'; then
  echo "gpu-check-torch: no native/torch tests were built: no GoogleTest here (copy Debian's" \
    "/usr/src/googletest to build/googletest-src, or name its sources in ARELU_GTEST_SOURCE)" >&2
  exit 1
fi
ARELU_REQUIRE_FUSED_CUDA=1 ctest --test-dir "$build" --output-on-failure --no-tests=error
