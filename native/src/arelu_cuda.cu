// CUDA kernels of the C ABI in arelu.h. Everything is enqueued on the caller's stream; nothing here
// allocates or synchronizes.
//
// Determinism of the backward sums: the grid of the first stage depends on the element count (and
// channel count) only, every thread visits a fixed sequence of elements, blocks reduce in a fixed
// tree and write one partial each into the caller's workspace, and a second kernel folds the
// partials in a fixed order. The sequence a thread visits does not depend on pointer alignment:
// unaligned buffers take the same element order with scalar loads.
#include "arelu.h"
#include "arelu_elements.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int kThreads = 256;        // threads per block of every kernel here
constexpr int64_t kMaxBlocks = 2048; // enough resident threads to saturate HBM on sm_80/sm_90
constexpr int kFinalThreads = 256;   // the single block of the second stage

using arelu::kernel::Sums;

template <class T>
struct Vec;
template <>
struct Vec<float> {
  using type = float4;
  static constexpr int width = 4;
};
template <>
struct Vec<double> {
  using type = double2;
  static constexpr int width = 2;
};

// Elements of the vector types by index, so the loops below are written once for float4 and double2
// (k is a compile-time constant after unrolling, so these stay in registers).
__device__ __forceinline__ float& lane(float4& v, int k) { return (&v.x)[k]; }
__device__ __forceinline__ float lane(const float4& v, int k) { return (&v.x)[k]; }
__device__ __forceinline__ double& lane(double2& v, int k) { return (&v.x)[k]; }
__device__ __forceinline__ double lane(const double2& v, int k) { return (&v.x)[k]; }

template <class T>
__device__ __forceinline__ T forward1(T x, T a, T b) {
  // The NaN rule of arelu_elements.h; uniform across a warp.
  if (arelu::kernel::scales_make_output_nan(a, b)) return a + b;
  return arelu::kernel::forward1(x, a, b);
}

template <class T>
__device__ __forceinline__ T backward1(T g, T x, T a, T b, Sums& acc) {
  double pn, pp;
  const T r = arelu::kernel::backward1(g, x, a, b, pn, pp);
  acc.neg += pn;
  acc.pos += pp;
  return r;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

int64_t blocks_for(int64_t items) {
  const int64_t b = (items + kThreads - 1) / kThreads;
  return b < kMaxBlocks ? b : kMaxBlocks;
}

// What made this thread's last call fail with ARELU_ERR_CUDA, for arelu_error_string: the status alone would lose
// it ("no kernel image is available", "invalid configuration", a driver too old).
thread_local char last_error[192] = "";

int launch_status() {
  const cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) return ARELU_OK;
  std::snprintf(last_error, sizeof last_error, "%s: %s", cudaGetErrorName(error), cudaGetErrorString(error));
  return ARELU_ERR_CUDA;
}

// Block-wide sum in a fixed tree: shuffles within warps, then warp 0 over the warp results.
// The result is valid in thread 0.
__device__ Sums block_sum(Sums v) {
  __shared__ double sn[kThreads / 32];
  __shared__ double sp[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    v.neg += __shfl_down_sync(0xffffffffu, v.neg, off);
    v.pos += __shfl_down_sync(0xffffffffu, v.pos, off);
  }
  const int warp = threadIdx.x / 32;
  const int ln = threadIdx.x % 32;
  if (ln == 0) {
    sn[warp] = v.neg;
    sp[warp] = v.pos;
  }
  __syncthreads();
  if (warp == 0) {
    v.neg = ln < kThreads / 32 ? sn[ln] : 0.0;
    v.pos = ln < kThreads / 32 ? sp[ln] : 0.0;
    for (int off = 16; off > 0; off >>= 1) {
      v.neg += __shfl_down_sync(0xffffffffu, v.neg, off);
      v.pos += __shfl_down_sync(0xffffffffu, v.pos, off);
    }
  }
  return v;
}

// ---------------------------------------------------------------- scalar scales

template <class T>
__global__ void forward_vec(const T* x, T* y, int64_t n, T a, T b) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  const int64_t nv = n / W;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = tid; v < nv; v += stride) {
    V in = reinterpret_cast<const V*>(x)[v];
#pragma unroll
    for (int k = 0; k < W; ++k) lane(in, k) = forward1(lane(in, k), a, b);
    reinterpret_cast<V*>(y)[v] = in;
  }
  const int64_t i = nv * W + tid;
  if (i < n) y[i] = forward1(x[i], a, b);
}

template <class T>
__global__ void forward_scalar(const T* x, T* y, int64_t n, T a, T b) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = forward1(x[i], a, b);
  }
}

// Stage 1 of the scalar backward. Thread t of the grid takes vectors t, t + stride, ... (each vector's
// W elements in order), then tail element nv * W + t. Vectorized loads only when every pointer is
// 16-byte aligned; otherwise the same elements in the same order with scalar loads.
template <class T, bool Vectorized>
__global__ void backward_partials(const T* g, const T* x, T* gi, int64_t n, T a, T b, Sums* partials) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  const int64_t nv = n / W;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  Sums acc{0.0, 0.0};
  for (int64_t v = tid; v < nv; v += stride) {
    if constexpr (Vectorized) {
      const V gv = reinterpret_cast<const V*>(g)[v];
      const V xv = reinterpret_cast<const V*>(x)[v];
      V out;
#pragma unroll
      for (int k = 0; k < W; ++k) lane(out, k) = backward1(lane(gv, k), lane(xv, k), a, b, acc);
      if (gi != nullptr) reinterpret_cast<V*>(gi)[v] = out;
    } else {
#pragma unroll
      for (int k = 0; k < W; ++k) {
        const int64_t i = v * W + k;
        const T r = backward1(g[i], x[i], a, b, acc);
        if (gi != nullptr) gi[i] = r;
      }
    }
  }
  const int64_t i = nv * W + tid;
  if (i < n) {
    const T r = backward1(g[i], x[i], a, b, acc);
    if (gi != nullptr) gi[i] = r;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// Stage 2: one block per output (blockIdx.x = channel); thread t folds partials t, t + 256, ... in
// order, then the fixed block tree.
__global__ void fold_partials(const Sums* partials, int64_t per_output, int64_t outputs, double* neg_sum,
                              double* pos_sum) {
  for (int64_t c = blockIdx.x; c < outputs; c += gridDim.x) {
    Sums acc{0.0, 0.0};
    for (int64_t p = threadIdx.x; p < per_output; p += blockDim.x) {
      acc.neg += partials[c * per_output + p].neg;
      acc.pos += partials[c * per_output + p].pos;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
      neg_sum[c] = acc.neg;
      pos_sum[c] = acc.pos;
    }
    __syncthreads();  // block_sum's shared memory is reused by the next channel
  }
}

// Blocks of the first stage of the scalar backward: a function of n alone.
int64_t scalar_partials(int64_t n) {
  const int64_t nv = n / Vec<float>::width;
  return blocks_for(nv > 0 ? nv : 1);
}

template <class T>
int cuda_forward(const T* x, T* y, int64_t n, T a, T b, void* stream) {
  if (n < 0) return ARELU_ERR_BAD_SIZE;
  if (n == 0) return ARELU_OK;
  if (x == nullptr || y == nullptr) return ARELU_ERR_NULL_POINTER;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (aligned16(x) && aligned16(y)) {
    const int64_t nv = n / Vec<T>::width;
    forward_vec<T><<<static_cast<unsigned>(blocks_for(nv > 0 ? nv : 1)), kThreads, 0, s>>>(x, y, n, a, b);
  } else {
    forward_scalar<T><<<static_cast<unsigned>(blocks_for(n)), kThreads, 0, s>>>(x, y, n, a, b);
  }
  return launch_status();
}

template <class T>
int cuda_backward(const T* g, const T* x, T* gi, int64_t n, T a, T b, double* neg_sum, double* pos_sum,
                  void* workspace, size_t workspace_bytes, void* stream) {
  if (n < 0) return ARELU_ERR_BAD_SIZE;
  if (neg_sum == nullptr || pos_sum == nullptr) return ARELU_ERR_NULL_POINTER;
  if (n > 0 && (g == nullptr || x == nullptr)) return ARELU_ERR_NULL_POINTER;
  const size_t need = arelu_cuda_workspace_bytes(n, 1);
  if (workspace_bytes < need) return ARELU_ERR_WORKSPACE;
  if (need > 0 && workspace == nullptr) return ARELU_ERR_NULL_POINTER;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  Sums* partials = static_cast<Sums*>(workspace);
  // The grid is the same for float and double (sized by float4 vectors), so it depends on n alone.
  const int64_t blocks = n > 0 ? scalar_partials(n) : 0;
  if (blocks > 0) {
    const bool vec = aligned16(g) && aligned16(x) && (gi == nullptr || aligned16(gi));
    if (vec) {
      backward_partials<T, true><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(g, x, gi, n, a, b, partials);
    } else {
      backward_partials<T, false><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(g, x, gi, n, a, b, partials);
    }
    if (const int st = launch_status()) return st;
  }
  fold_partials<<<1, kFinalThreads, 0, s>>>(partials, blocks, 1, neg_sum, pos_sum);
  return launch_status();
}

// ---------------------------------------------------------------- one scale per channel
//
// Index math in 32 bits when the whole buffer allows it: 64-bit division is several times slower on
// the GPU and channel-wise kernels divide per element.

template <class T, class I>
__global__ void forward_channels_kernel(const T* x, T* y, I n, I channels, I inner, const T* a, const T* b) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const I c = (i / inner) % channels;
    y[i] = forward1(x[i], a[c], b[c]);
  }
}

// Stage 1 of the channel-wise backward: block (c, s) with s < slices takes channel c's elements
// j = s * 256 + t, j += slices * 256, where j enumerates the channel's (outer, inner) positions.
template <class T, class I>
__global__ void backward_channels_partials(const T* g, const T* x, T* gi, I outer, I channels, I inner,
                                           I slices, const T* a, const T* b, Sums* partials) {
  const I total_blocks = channels * slices;
  const I per_channel = outer * inner;
  for (I blk = blockIdx.x; blk < total_blocks; blk += gridDim.x) {
    const I c = blk / slices;
    const I s = blk % slices;
    const T ac = a[c];
    const T bc = b[c];
    Sums acc{0.0, 0.0};
    for (I j = s * blockDim.x + threadIdx.x; j < per_channel; j += slices * blockDim.x) {
      const I i = ((j / inner) * channels + c) * inner + j % inner;
      const T r = backward1(g[i], x[i], ac, bc, acc);
      if (gi != nullptr) gi[i] = r;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partials[blk] = acc;
    __syncthreads();  // block_sum's shared memory is reused by the next block index
  }
}

// Slices per channel for the channel-wise backward: a function of (n, channels) alone, aiming at
// about kMaxBlocks blocks in all without making slices smaller than one block's worth of elements.
int64_t channel_slices(int64_t n, int64_t channels) {
  if (channels <= 0) return 0;
  const int64_t per_channel = n / channels;
  int64_t slices = (per_channel + kThreads - 1) / kThreads;
  const int64_t cap = kMaxBlocks / channels > 1 ? kMaxBlocks / channels : 1;
  if (slices > cap) slices = cap;
  return slices > 0 ? slices : 1;
}

// Grid for grid-stride loops over n items, in a 32-bit-safe unsigned.
unsigned grid_for(int64_t n) { return static_cast<unsigned>(blocks_for(n > 0 ? n : 1)); }

template <class T>
int cuda_forward_channels(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner, const T* a,
                          const T* b, void* stream) {
  int64_t n;
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, n)) return st;
  if (n == 0) return ARELU_OK;
  if (x == nullptr || y == nullptr || a == nullptr || b == nullptr) return ARELU_ERR_NULL_POINTER;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  // Grid-stride indices reach n + grid threads, which must still fit the index type.
  if (n < INT32_MAX / 2) {
    forward_channels_kernel<T, uint32_t><<<grid_for(n), kThreads, 0, s>>>(
        x, y, static_cast<uint32_t>(n), static_cast<uint32_t>(channels), static_cast<uint32_t>(inner), a, b);
  } else {
    forward_channels_kernel<T, int64_t><<<grid_for(n), kThreads, 0, s>>>(x, y, n, channels, inner, a, b);
  }
  return launch_status();
}

template <class T>
int cuda_backward_channels(const T* g, const T* x, T* gi, int64_t outer, int64_t channels, int64_t inner,
                           const T* a, const T* b, double* neg_sum, double* pos_sum, void* workspace,
                           size_t workspace_bytes, void* stream) {
  int64_t n;
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, n)) return st;
  if (channels == 0) return ARELU_OK;
  if (neg_sum == nullptr || pos_sum == nullptr) return ARELU_ERR_NULL_POINTER;
  if (n > 0 && (g == nullptr || x == nullptr || a == nullptr || b == nullptr)) return ARELU_ERR_NULL_POINTER;
  // The partials this launch writes, checked against the buffer itself (not against the size function, whose
  // answer for one channel is the scalar kernels' need too).
  const int64_t slices = n > 0 ? channel_slices(n, channels) : 0;
  const size_t need = static_cast<size_t>(channels * slices) * sizeof(Sums);
  if (workspace_bytes < need) return ARELU_ERR_WORKSPACE;
  if (need > 0 && workspace == nullptr) return ARELU_ERR_NULL_POINTER;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  Sums* partials = static_cast<Sums*>(workspace);
  if (slices > 0) {
    const int64_t blocks = channels * slices;
    const unsigned grid = static_cast<unsigned>(blocks < (1 << 20) ? blocks : (1 << 20));
    // j + slices * 256 and the element index must fit: n plus one grid stride.
    if (n + slices * kThreads < INT32_MAX) {
      backward_channels_partials<T, uint32_t><<<grid, kThreads, 0, s>>>(
          g, x, gi, static_cast<uint32_t>(outer), static_cast<uint32_t>(channels), static_cast<uint32_t>(inner),
          static_cast<uint32_t>(slices), a, b, partials);
    } else {
      backward_channels_partials<T, int64_t><<<grid, kThreads, 0, s>>>(g, x, gi, outer, channels, inner, slices,
                                                                       a, b, partials);
    }
    if (const int st = launch_status()) return st;
  }
  const unsigned fold_grid = static_cast<unsigned>(channels < (1 << 20) ? channels : (1 << 20));
  fold_partials<<<fold_grid, kFinalThreads, 0, s>>>(partials, slices, channels, neg_sum, pos_sum);
  return launch_status();
}

template <class T>
__global__ void scales_kernel(const T* alpha, const T* beta, T* neg, T* pos, int64_t channels) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < channels; c += stride) {
    arelu::kernel::scales1(alpha[c], beta[c], neg[c], pos[c]);
  }
}

template <class T>
int cuda_scales(const T* alpha, const T* beta, T* neg, T* pos, int64_t channels, void* stream) {
  if (const int st = arelu::kernel::check_scales(alpha, beta, neg, pos, channels)) return st;
  if (channels == 0) return ARELU_OK;
  scales_kernel<T><<<grid_for(channels), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(alpha, beta, neg, pos,
                                                                                           channels);
  return launch_status();
}

template <class T>
__global__ void parameter_gradients_kernel(const double* neg_sum, const double* pos_sum, const T* alpha,
                                           const T* beta, T* grad_alpha, T* grad_beta, int64_t channels) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < channels; c += stride) {
    arelu::kernel::parameter_gradients1(neg_sum[c], pos_sum[c], alpha[c], beta[c], grad_alpha[c], grad_beta[c]);
  }
}

template <class T>
int cuda_parameter_gradients(const double* neg_sum, const double* pos_sum, const T* alpha, const T* beta,
                             T* grad_alpha, T* grad_beta, int64_t channels, void* stream) {
  if (const int st = arelu::kernel::check_parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta,
                                                              channels)) {
    return st;
  }
  if (channels == 0) return ARELU_OK;
  parameter_gradients_kernel<T><<<grid_for(channels), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
  return launch_status();
}

}  // namespace

namespace arelu::detail {
const char* last_cuda_error() { return last_error; }
}  // namespace arelu::detail

extern "C" {

int arelu_cuda_available(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear it, so it does not surface as the status of a later launch
    return 0;
  }
  if (count == 0) return 0;
  // A device older than every architecture this library was built for (sm_80 and sm_90 by default; an sm_70
  // GPU, say) would fail every launch: it is no device for these kernels, so callers take their fallback
  // instead. Asked of the device's attributes, which, unlike a kernel's, create no CUDA context.
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  constexpr int kBuilt[] = {__CUDA_ARCH_LIST__};  // nvcc's list of the architectures compiled, e.g. 800,900
  int oldest = kBuilt[0];
  for (const int arch : kBuilt) oldest = arch < oldest ? arch : oldest;
  return major * 100 + minor * 10 >= oldest ? 1 : 0;
}

size_t arelu_cuda_workspace_bytes(int64_t n, int64_t channels) {
  if (n <= 0 || channels <= 0) return 0;
  // One channel may go either way (the scalar kernels, or the channel kernels with one channel): enough for both.
  const int64_t by_channel = channels * channel_slices(n, channels);
  const int64_t partials = channels == 1 ? std::max(scalar_partials(n), by_channel) : by_channel;
  return static_cast<size_t>(partials) * sizeof(Sums);
}

int arelu_cuda_forward_f32(const float* x, float* y, int64_t n, float neg_scale, float pos_scale, void* stream) {
  return cuda_forward(x, y, n, neg_scale, pos_scale, stream);
}
int arelu_cuda_forward_f64(const double* x, double* y, int64_t n, double neg_scale, double pos_scale,
                           void* stream) {
  return cuda_forward(x, y, n, neg_scale, pos_scale, stream);
}
int arelu_cuda_backward_f32(const float* grad_out, const float* x, float* grad_in, int64_t n, float neg_scale,
                            float pos_scale, double* neg_sum, double* pos_sum, void* workspace,
                            size_t workspace_bytes, void* stream) {
  return cuda_backward(grad_out, x, grad_in, n, neg_scale, pos_scale, neg_sum, pos_sum, workspace,
                       workspace_bytes, stream);
}
int arelu_cuda_backward_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                            double neg_scale, double pos_scale, double* neg_sum, double* pos_sum,
                            void* workspace, size_t workspace_bytes, void* stream) {
  return cuda_backward(grad_out, x, grad_in, n, neg_scale, pos_scale, neg_sum, pos_sum, workspace,
                       workspace_bytes, stream);
}
int arelu_cuda_forward_channels_f32(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                                    const float* neg_scale, const float* pos_scale, void* stream) {
  return cuda_forward_channels(x, y, outer, channels, inner, neg_scale, pos_scale, stream);
}
int arelu_cuda_forward_channels_f64(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                                    const double* neg_scale, const double* pos_scale, void* stream) {
  return cuda_forward_channels(x, y, outer, channels, inner, neg_scale, pos_scale, stream);
}
int arelu_cuda_backward_channels_f32(const float* grad_out, const float* x, float* grad_in, int64_t outer,
                                     int64_t channels, int64_t inner, const float* neg_scale,
                                     const float* pos_scale, double* neg_sum, double* pos_sum, void* workspace,
                                     size_t workspace_bytes, void* stream) {
  return cuda_backward_channels(grad_out, x, grad_in, outer, channels, inner, neg_scale, pos_scale, neg_sum,
                                pos_sum, workspace, workspace_bytes, stream);
}
int arelu_cuda_backward_channels_f64(const double* grad_out, const double* x, double* grad_in, int64_t outer,
                                     int64_t channels, int64_t inner, const double* neg_scale,
                                     const double* pos_scale, double* neg_sum, double* pos_sum,
                                     void* workspace, size_t workspace_bytes, void* stream) {
  return cuda_backward_channels(grad_out, x, grad_in, outer, channels, inner, neg_scale, pos_scale, neg_sum,
                                pos_sum, workspace, workspace_bytes, stream);
}

int arelu_cuda_scales_f32(const float* alpha, const float* beta, float* neg_scale, float* pos_scale,
                          int64_t channels, void* stream) {
  return cuda_scales(alpha, beta, neg_scale, pos_scale, channels, stream);
}
int arelu_cuda_scales_f64(const double* alpha, const double* beta, double* neg_scale, double* pos_scale,
                          int64_t channels, void* stream) {
  return cuda_scales(alpha, beta, neg_scale, pos_scale, channels, stream);
}
int arelu_cuda_parameter_gradients_f32(const double* neg_sum, const double* pos_sum, const float* alpha,
                                       const float* beta, float* grad_alpha, float* grad_beta, int64_t channels,
                                       void* stream) {
  return cuda_parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels, stream);
}
int arelu_cuda_parameter_gradients_f64(const double* neg_sum, const double* pos_sum, const double* alpha,
                                       const double* beta, double* grad_alpha, double* grad_beta, int64_t channels,
                                       void* stream) {
  return cuda_parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels, stream);
}

}  // extern "C"
