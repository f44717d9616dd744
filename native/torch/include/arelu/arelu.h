// AReLU (Chen et al., "AReLU: Attention-based Rectified Linear Unit") for libtorch C++.
//
//   f(x) = b * x for x > 0,  a * x for x < 0,  a = clamp(alpha, 0.01, 0.99),  b = 1 + sigmoid(beta)
//
// with the gradients of the reference composition relu(x) * b - relu(-x) * a: d f / d x is 0 at
// exactly x == 0, and alpha gets no gradient while it lies outside [0.01, 0.99] (bounds included,
// as torch.clamp does). Float and double tensors on the CPU (and on CUDA in a CUDA build) run the
// fused kernels of native/include/arelu.h: one pass forward, one pass backward. Half and bfloat16
// tensors, and devices without fused kernels, run the reference composition through libtorch ops (where
// those lack the dtype, as libtorch 1.13's CPU clamp lacks Half, an error names arelu, the dtype and the device).
// The fused backward reads x, alpha and beta, which forward saves as libtorch saves variables: changing one in
// place between forward and backward fails with libtorch's "modified by an inplace operation" error, as for
// built-in PReLU, where the reference composition, which keeps relu(x) and sigmoid(beta), would run.
//
// This library must run with exactly the libtorch it was compiled against (see README.md).
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/serialize/input-archive.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <type_traits>

namespace arelu {

// Paper defaults.
constexpr double kDefaultAlpha = 0.90;
constexpr double kDefaultBeta = 2.0;
// torch.clamp bounds of alpha.
constexpr double kAlphaMin = 0.01;
constexpr double kAlphaMax = 0.99;

// AReLU of x with learnable alpha and beta (same dtype and device as x).
// Scalar form: alpha and beta hold one element each (0-dim or any shape of one element).
// Channel-wise form: alpha and beta are 1-D of size C == x.size(1), applied along dimension 1
// (as PReLU's num_parameters does). Differentiable with respect to x, alpha and beta; gradients of
// alpha and beta have their shapes and dtypes. Under create_graph the backward is libtorch's autograd of the
// reference formula at forward's values, so second derivatives (double backward) are exact.
// Also registered with the dispatcher as the operator arelu::arelu(Tensor x, Tensor alpha, Tensor beta).
torch::Tensor arelu(const torch::Tensor& x, const torch::Tensor& alpha, const torch::Tensor& beta);

// True when this build calls the fused CUDA kernels on CUDA tensors and the current CUDA device can run them;
// a GPU older than every architecture built takes the reference formula instead.
bool fused_cuda_available();

struct AReLUOptions {
  // 1: one alpha and one beta; C: one of each per channel of dimension 1.
  AReLUOptions(int64_t num_parameters = 1) : num_parameters_(num_parameters) {}  // NOLINT: implicit, a count
  // AReLU(2.0), meant as a value of alpha or beta, would otherwise build two channels: set values with
  // AReLUOptions().alpha(a).beta(b). A template, so that an int argument still takes the count without ambiguity.
  template <typename T, typename = std::enable_if_t<std::is_floating_point_v<T>>>
  AReLUOptions(T) = delete;
  TORCH_ARG(int64_t, num_parameters);
  TORCH_ARG(double, alpha) = kDefaultAlpha;
  TORCH_ARG(double, beta) = kDefaultBeta;
};

// Module holding parameters "alpha" and "beta" of shape {num_parameters} (default dtype; move them
// with to(dtype/device) like any module).
class AReLUImpl : public torch::nn::Cloneable<AReLUImpl> {
 public:
  explicit AReLUImpl(const AReLUOptions& options_ = {});

  torch::Tensor forward(const torch::Tensor& input);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  // Module::load points each parameter at the checkpoint's tensor whatever its dtype and shape: a float64
  // checkpoint loaded into a float32 module reads each 8-byte value as a 4-byte float (garbage values, no error;
  // torch::nn::Linear too). This load refuses a checkpoint whose alpha or beta differs from the module's in dtype
  // or shape, naming both, and then loads as Module::load does. torch::load(module, path) and a loaded parent
  // module call it.
  void load(torch::serialize::InputArchive& archive) override;

  AReLUOptions options;
  torch::Tensor alpha;
  torch::Tensor beta;
};

TORCH_MODULE(AReLU);

}  // namespace arelu
