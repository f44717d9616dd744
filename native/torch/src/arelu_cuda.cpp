// CUDA tensors -> the fused CUDA kernels of the C ABI, on libtorch's current stream of the tensor's
// device. Nothing here synchronizes; the workspace comes from libtorch's caching allocator, which
// keeps it alive for this stream's queued work.
#include "arelu_internal.h"

#include <arelu.h>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace arelu {
namespace detail {
namespace {

int forward_call(const float* x, float* y, const Scales& s, const float* neg, const float* pos, void* stream) {
  return s.channelwise
             ? arelu_cuda_forward_channels_f32(x, y, s.outer, s.channels, s.inner, neg, pos, stream)
             : arelu_cuda_forward_f32(x, y, s.outer * s.channels * s.inner, static_cast<float>(s.neg),
                                      static_cast<float>(s.pos), stream);
}

int forward_call(const double* x, double* y, const Scales& s, const double* neg, const double* pos, void* stream) {
  return s.channelwise
             ? arelu_cuda_forward_channels_f64(x, y, s.outer, s.channels, s.inner, neg, pos, stream)
             : arelu_cuda_forward_f64(x, y, s.outer * s.channels * s.inner, s.neg, s.pos, stream);
}

int backward_call(const float* g, const float* x, float* gi, const Scales& s, const float* neg, const float* pos,
                  double* neg_sum, double* pos_sum, void* ws, size_t ws_bytes, void* stream) {
  return s.channelwise
             ? arelu_cuda_backward_channels_f32(g, x, gi, s.outer, s.channels, s.inner, neg, pos, neg_sum, pos_sum,
                                                ws, ws_bytes, stream)
             : arelu_cuda_backward_f32(g, x, gi, s.outer * s.channels * s.inner, static_cast<float>(s.neg),
                                       static_cast<float>(s.pos), neg_sum, pos_sum, ws, ws_bytes, stream);
}

int backward_call(const double* g, const double* x, double* gi, const Scales& s, const double* neg,
                  const double* pos, double* neg_sum, double* pos_sum, void* ws, size_t ws_bytes, void* stream) {
  return s.channelwise
             ? arelu_cuda_backward_channels_f64(g, x, gi, s.outer, s.channels, s.inner, neg, pos, neg_sum, pos_sum,
                                                ws, ws_bytes, stream)
             : arelu_cuda_backward_f64(g, x, gi, s.outer * s.channels * s.inner, s.neg, s.pos, neg_sum, pos_sum, ws,
                                       ws_bytes, stream);
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

}  // namespace

bool cuda_kernels_available() { return arelu_cuda_available() != 0; }

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

}  // namespace detail
}  // namespace arelu
