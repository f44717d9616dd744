// Shared between the CPU translation unit and the CUDA one (compiled only with ARELU_TORCH_WITH_CUDA).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace arelu {
namespace detail {

// What one kernel call needs besides the buffers. The scalar form passes the effective scales as
// doubles (rounded to the element type at the call); the channel-wise form passes them as contiguous
// tensors of the input's dtype on the input's device, and views the input as (outer, channels, inner).
struct Scales {
  bool channelwise = false;
  double neg = 0.0;
  double pos = 0.0;
  at::Tensor neg_t;
  at::Tensor pos_t;
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};

// Throws a c10::Error naming the failed call unless status is ARELU_OK.
void check_status(int status, const char* what);

#ifdef ARELU_TORCH_WITH_CUDA
bool cuda_kernels_available();
// All tensors contiguous, on one CUDA device, of x's dtype (sums: double, one per channel).
// grad_in may be undefined when only the parameter sums are wanted.
void cuda_forward(const at::Tensor& x, const at::Tensor& y, const Scales& s);
void cuda_backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& grad_in, const Scales& s,
                   const at::Tensor& neg_sum, const at::Tensor& pos_sum);
// Parameter gradients from the backward sums (arelu_cuda_parameter_gradients_*), all contiguous on one device.
void cuda_parameter_gradients(const at::Tensor& neg_sum, const at::Tensor& pos_sum, const at::Tensor& alpha,
                              const at::Tensor& beta, const at::Tensor& grad_alpha, const at::Tensor& grad_beta);
#endif

}  // namespace detail
}  // namespace arelu
