// CUDA tensors -> the fused CUDA kernels of the C ABI, on libtorch's current stream of the tensor's
// device. Nothing here synchronizes; the workspace comes from libtorch's caching allocator, which
// keeps it alive for this stream's queued work.
#include "arelu_internal.h"

#include <arelu.h>
#include <arelu_typed.h>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <array>
#include <atomic>

namespace arelu {
namespace detail {
namespace {

template <typename T>
int forward_call(const T* x, T* y, const Scales& s, const T* neg, const T* pos, void* stream) {
  return s.channelwise ? abi::cuda_forward_channels(x, y, s.outer, s.channels, s.inner, neg, pos, stream)
                       : abi::cuda_forward(x, y, s.outer * s.channels * s.inner, static_cast<T>(s.neg),
                                           static_cast<T>(s.pos), stream);
}

template <typename T>
int backward_call(const T* g, const T* x, T* gi, const Scales& s, const T* neg, const T* pos, double* neg_sum,
                  double* pos_sum, void* ws, size_t ws_bytes, void* stream) {
  return s.channelwise ? abi::cuda_backward_channels(g, x, gi, s.outer, s.channels, s.inner, neg, pos, neg_sum,
                                                     pos_sum, ws, ws_bytes, stream)
                       : abi::cuda_backward(g, x, gi, s.outer * s.channels * s.inner, static_cast<T>(s.neg),
                                            static_cast<T>(s.pos), neg_sum, pos_sum, ws, ws_bytes, stream);
}

template <typename T>
const T* scale_ptr(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <typename T>
void forward_typed(const at::Tensor& x, const at::Tensor& y, const Scales& s) {
  void* stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  check_status(forward_call(x.data_ptr<T>(), y.data_ptr<T>(), s, scale_ptr<T>(s.neg_t), scale_ptr<T>(s.pos_t), stream),
               "arelu_cuda_forward");
}

template <typename T>
void backward_typed(const at::Tensor& g, const at::Tensor& x, const at::Tensor& gi, const Scales& s,
                    const at::Tensor& neg_sum, const at::Tensor& pos_sum) {
  const int64_t n = x.numel();
  const size_t bytes = arelu_cuda_workspace_bytes(n, s.channelwise ? s.channels : 1);
  at::Tensor workspace = at::empty({static_cast<int64_t>(bytes)}, x.options().dtype(at::kByte));
  void* stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  check_status(backward_call(g.data_ptr<T>(), x.data_ptr<T>(), gi.defined() ? gi.data_ptr<T>() : nullptr, s,
                             scale_ptr<T>(s.neg_t), scale_ptr<T>(s.pos_t), neg_sum.data_ptr<double>(),
                             pos_sum.data_ptr<double>(), workspace.data_ptr(), bytes, stream),
               "arelu_cuda_backward");
}

template <typename T>
void scales_typed(const at::Tensor& alpha, const at::Tensor& beta, const at::Tensor& neg, const at::Tensor& pos) {
  void* stream = c10::cuda::getCurrentCUDAStream(alpha.device().index()).stream();
  check_status(abi::cuda_scales(alpha.data_ptr<T>(), beta.data_ptr<T>(), neg.data_ptr<T>(), pos.data_ptr<T>(),
                                alpha.numel(), stream),
               "arelu_cuda_scales");
}

template <typename T>
void parameter_gradients_typed(const at::Tensor& neg_sum, const at::Tensor& pos_sum, const at::Tensor& alpha,
                               const at::Tensor& beta, const at::Tensor& grad_alpha, const at::Tensor& grad_beta) {
  void* stream = c10::cuda::getCurrentCUDAStream(alpha.device().index()).stream();
  check_status(abi::cuda_parameter_gradients(neg_sum.data_ptr<double>(), pos_sum.data_ptr<double>(),
                                             alpha.data_ptr<T>(), beta.data_ptr<T>(), grad_alpha.data_ptr<T>(),
                                             grad_beta.data_ptr<T>(), alpha.numel(), stream),
               "arelu_cuda_parameter_gradients");
}

// The CUDA kernel of arelu::arelu; the reference formula on a device the kernels cannot run on.
at::Tensor forward_cuda(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta) {
  if (!cuda_kernels_serve(x)) {
    return reference_or_named_error(x, alpha, beta, validate(x, alpha, beta));
  }
  return backend_forward(x, alpha, beta, &cuda_forward);
}

}  // namespace

bool cuda_kernels_available() { return arelu_cuda_available() != 0; }

bool cuda_kernels_serve(const at::Tensor& x) {
  // Asked once per device, on that device (arelu_cuda_available asks the current one). x lives there, so its
  // context exists already; no other device's is created.
  constexpr int kDevices = 64;
  static std::array<std::atomic<int>, kDevices> known{};  // 0: not asked yet, 1: served, 2: not served
  const int device = x.device().index();
  const auto ask = [&x] {
    c10::cuda::CUDAGuard guard(x.device());
    return arelu_cuda_available() != 0 ? 1 : 2;
  };
  if (device < 0 || device >= kDevices) return ask() == 1;
  int answer = known[device].load(std::memory_order_relaxed);
  if (answer == 0) {
    answer = ask();
    known[device].store(answer, std::memory_order_relaxed);
  }
  return answer == 1;
}

void cuda_forward(const at::Tensor& x, const at::Tensor& y, const Scales& s) {
  // The kernels launch on the current device; make it the tensor's.
  c10::cuda::CUDAGuard guard(x.device());
  if (x.scalar_type() == at::kFloat) {
    forward_typed<float>(x, y, s);
  } else {
    forward_typed<double>(x, y, s);
  }
}

void cuda_backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& grad_in, const Scales& s,
                   const at::Tensor& neg_sum, const at::Tensor& pos_sum) {
  c10::cuda::CUDAGuard guard(x.device());
  if (x.scalar_type() == at::kFloat) {
    backward_typed<float>(grad_out, x, grad_in, s, neg_sum, pos_sum);
  } else {
    backward_typed<double>(grad_out, x, grad_in, s, neg_sum, pos_sum);
  }
}

void cuda_scales(const at::Tensor& alpha, const at::Tensor& beta, const at::Tensor& neg, const at::Tensor& pos) {
  c10::cuda::CUDAGuard guard(alpha.device());
  if (alpha.scalar_type() == at::kFloat) {
    scales_typed<float>(alpha, beta, neg, pos);
  } else {
    scales_typed<double>(alpha, beta, neg, pos);
  }
}

void cuda_parameter_gradients(const at::Tensor& neg_sum, const at::Tensor& pos_sum, const at::Tensor& alpha,
                              const at::Tensor& beta, const at::Tensor& grad_alpha, const at::Tensor& grad_beta) {
  c10::cuda::CUDAGuard guard(alpha.device());
  if (alpha.scalar_type() == at::kFloat) {
    parameter_gradients_typed<float>(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta);
  } else {
    parameter_gradients_typed<double>(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta);
  }
}

}  // namespace detail
}  // namespace arelu

TORCH_LIBRARY_IMPL(arelu, CUDA, m) { m.impl("arelu", TORCH_FN(arelu::detail::forward_cuda)); }
