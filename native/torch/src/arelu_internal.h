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

// Checks dtypes, devices and shapes (c10::Error naming the problem); returns whether alpha and beta are
// channel-wise.
bool validate(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta);

// Whether the kernels can serve x's layout: strided (not sparse, MKL-DNN or nested).
bool strided(const at::Tensor& x);

// The tensor's values in memory the kernels can read as they are (lazy negation applied, efficient zero tensors
// made real, elements dense in memory in some order of dimensions), itself when it already is.
at::Tensor dense(const at::Tensor& t);

// The reference relu(x) * b - relu(-x) * a through libtorch ops, for dtypes and devices without fused kernels.
at::Tensor reference(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta, bool channelwise);

// reference() for a strided input, with libtorch's error for a dtype its operations lack on the device (Half on
// the CPU in libtorch 1.13: no clamp) turned into one that names arelu, the dtype and the device.
at::Tensor reference_or_named_error(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta,
                                    bool channelwise);

// Sparse, MKL-DNN, nested inputs: libtorch's own operations of the reference where they support the layout, else a
// named error.
at::Tensor reference_of_other_layout(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta,
                                     bool channelwise);

// Runs a backend's fused forward kernel on dense x into y laid out like x.
using ForwardRunner = void (*)(const at::Tensor& x, const at::Tensor& y, const Scales& s);

// The body of a backend kernel of arelu::arelu: checks, the reference for dtypes without fused kernels (half,
// bfloat16: reached below autograd), else the scales and run on x made dense().
at::Tensor backend_forward(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& beta, ForwardRunner run);

#ifdef ARELU_TORCH_WITH_CUDA
// Whether the current device can run the kernels (arelu_cuda_available).
bool cuda_kernels_available();
// Whether the kernels run on x's device: not on a GPU older than every architecture built (an sm_70 GPU with the
// default 80;90), which has no kernel image for them; there arelu takes the reference formula.
bool cuda_kernels_serve(const at::Tensor& x);
// All tensors contiguous, on one CUDA device, of x's dtype (sums: double, one per channel).
// grad_in may be undefined when only the parameter sums are wanted.
void cuda_forward(const at::Tensor& x, const at::Tensor& y, const Scales& s);
void cuda_backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& grad_in, const Scales& s,
                   const at::Tensor& neg_sum, const at::Tensor& pos_sum);
// Per-channel effective scales (arelu_cuda_scales_*), all contiguous on one device.
void cuda_scales(const at::Tensor& alpha, const at::Tensor& beta, const at::Tensor& neg, const at::Tensor& pos);
// Parameter gradients from the backward sums (arelu_cuda_parameter_gradients_*), all contiguous on one device.
void cuda_parameter_gradients(const at::Tensor& neg_sum, const at::Tensor& pos_sum, const at::Tensor& alpha,
                              const at::Tensor& beta, const at::Tensor& grad_alpha, const at::Tensor& grad_beta);
#endif

}  // namespace detail
}  // namespace arelu
