// AReLU as a libtorch autograd function over the fused kernels of native/include/arelu.h, the
// torch::nn module around it, and the dispatcher operator arelu::arelu.
#include "arelu/arelu.h"

#include "arelu_internal.h"

#include <arelu.h>
#include <arelu_typed.h>

#include <ATen/ATen.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/library.h>

#include <sstream>
#include <utility>
#include <vector>

namespace arelu {

static_assert(kAlphaMin == ARELU_ALPHA_MIN && kAlphaMax == ARELU_ALPHA_MAX,
              "the op's clamp bounds are the kernels' (arelu.h)");

namespace detail {

void check_status(int status, const char* what) {
  TORCH_CHECK(status == ARELU_OK, "arelu: ", what, " failed: ", arelu_error_string(status), " (status ", status,
              ")");
}

namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool fused_dtype(at::ScalarType t) { return t == at::kFloat || t == at::kDouble; }

}  // namespace

bool strided(const Tensor& x) { return x.layout() == at::kStrided && !x.is_nested(); }

// The tensor's values in memory the kernels can read as they are: lazy negation applied (its memory holds the
// negated values), efficient zero tensors (no memory) made real, and the elements dense in memory in some order
// of dimensions (contiguous, channels_last, permuted), else copied to a contiguous tensor.
Tensor dense(const Tensor& t) {
  Tensor r = t.is_neg() ? t.resolve_neg() : t;
  if (r._is_zerotensor()) {
    r = at::zeros(r.sizes(), r.options());
  }
  return r.is_non_overlapping_and_dense() ? r : r.contiguous();
}

// Checks dtypes, devices and shapes; returns whether alpha and beta are channel-wise.
bool validate(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  TORCH_CHECK(x.defined() && alpha.defined() && beta.defined(), "arelu: x, alpha and beta must be defined tensors");
  const auto dtype = x.scalar_type();
  TORCH_CHECK(fused_dtype(dtype) || dtype == at::kHalf || dtype == at::kBFloat16,
              "arelu: expected an input of dtype Float, Double, Half or BFloat16, but got ", dtype);
  for (const auto& p : {std::make_pair("alpha", &alpha), std::make_pair("beta", &beta)}) {
    TORCH_CHECK(p.second->scalar_type() == dtype, "arelu: ", p.first, " must have the input's dtype ", dtype,
                ", but has dtype ", p.second->scalar_type());
    TORCH_CHECK(p.second->device() == x.device(), "arelu: ", p.first, " must be on the input's device ", x.device(),
                ", but is on ", p.second->device());
    TORCH_CHECK(strided(*p.second), "arelu: ", p.first, " must be a strided (dense) tensor, but has layout ",
                p.second->layout());
  }
  TORCH_CHECK(alpha.numel() == beta.numel(), "arelu: alpha and beta must have the same number of elements, but have ",
              alpha.numel(), " and ", beta.numel());
  TORCH_CHECK(alpha.numel() >= 1, "arelu: alpha and beta must not be empty");
  if (alpha.numel() == 1) {
    return false;
  }
  const int64_t channels = alpha.numel();
  TORCH_CHECK(alpha.dim() == 1 && beta.dim() == 1, "arelu: channel-wise alpha and beta must be 1-D, but have shapes ",
              alpha.sizes(), " and ", beta.sizes());
  TORCH_CHECK(x.dim() >= 2, "arelu: channel-wise alpha and beta have ", channels,
              " channels, but the input of shape ", x.sizes(), " has no channel dimension (dimension 1), so 1 channel");
  TORCH_CHECK(x.size(1) == channels, "arelu: channel-wise alpha and beta have ", channels,
              " channels, but the input has ", x.size(1), " channels (dimension 1 of shape ", x.sizes(), ")");
  return true;
}

namespace {

// Shape {1, C, 1, ...} with x's rank, so that per-channel values broadcast along dimension 1.
std::vector<int64_t> channel_shape(const Tensor& x, int64_t channels) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = channels;
  return shape;
}

}  // namespace

// The reference relu(x) * b - relu(-x) * a through libtorch ops, for dtypes and devices without
// fused kernels; libtorch's autograd differentiates it.
Tensor reference(const Tensor& x, const Tensor& alpha, const Tensor& beta, bool channelwise) {
  Tensor a = alpha.clamp(kAlphaMin, kAlphaMax);
  Tensor b = beta.sigmoid() + 1;
  if (channelwise) {
    const auto shape = channel_shape(x, alpha.numel());
    a = a.reshape(shape);
    b = b.reshape(shape);
  } else {
    // 0-dim, so the result keeps x's shape whatever the (one-element) shape of the parameters.
    a = a.reshape({});
    b = b.reshape({});
  }
  return at::relu(x) * b - at::relu(-x) * a;
}

Tensor reference_or_named_error(const Tensor& x, const Tensor& alpha, const Tensor& beta, bool channelwise) {
  if (fused_dtype(x.scalar_type())) {
    return reference(x, alpha, beta, channelwise);
  }
  try {
    return reference(x, alpha, beta, channelwise);
  } catch (const c10::Error& e) {
    TORCH_CHECK_TYPE(false, "arelu: inputs of dtype ", x.scalar_type(), " on ", x.device(),
                     " take the reference formula, whose libtorch operations fail on them here (",
                     e.what_without_backtrace(), "); convert the input and parameters to Float or Double");
  }
}

Tensor reference_of_other_layout(const Tensor& x, const Tensor& alpha, const Tensor& beta, bool channelwise) {
  try {
    return reference(x, alpha, beta, channelwise);
  } catch (const c10::Error& e) {
    TORCH_CHECK_VALUE(false, "arelu: inputs of layout ", x.layout(), (x.is_nested() ? " (nested)" : ""),
                      " are not supported: libtorch's operations of the reference formula fail on them (",
                      e.what_without_backtrace(), "); convert the input with to_dense()");
  }
}

namespace {

int num_threads() { return at::get_num_threads(); }

// The effective scales of one-element parameters, formed in T by the kernels' arelu_scales (the definition every
// binding uses), returned as doubles that hold T values.
template <typename T>
std::pair<double, double> host_scales(double raw_alpha, double raw_beta) {
  const T alpha = static_cast<T>(raw_alpha);
  const T beta = static_cast<T>(raw_beta);
  T neg;
  T pos;
  check_status(abi::scales(&alpha, &beta, &neg, &pos, 1), "arelu_scales");
  return {neg, pos};
}

// Effective scales a = clamp(alpha), b = 1 + sigmoid(beta) of one-element parameters, read on the host.
std::pair<double, double> scalar_scales(const Tensor& alpha, const Tensor& beta) {
  double raw_alpha = 0.0;
  double raw_beta = 0.0;
  if (alpha.is_cpu()) {
    raw_alpha = alpha.item<double>();
    raw_beta = beta.item<double>();
  } else {
    // The scalar CUDA kernels take host scalars: read both in one device-to-host copy.
    const Tensor host = at::stack({alpha.reshape({}), beta.reshape({})}).to(at::kCPU, at::kDouble);
    raw_alpha = host[0].item<double>();
    raw_beta = host[1].item<double>();
  }
  return alpha.scalar_type() == at::kFloat ? host_scales<float>(raw_alpha, raw_beta)
                                           : host_scales<double>(raw_alpha, raw_beta);
}

template <typename T>
void cpu_scales(const Tensor& alpha, const Tensor& beta, const Tensor& neg, const Tensor& pos) {
  check_status(abi::scales(alpha.data_ptr<T>(), beta.data_ptr<T>(), neg.data_ptr<T>(), pos.data_ptr<T>(),
                           alpha.numel()),
               "arelu_scales");
}

// Per-channel scales into neg and pos; all contiguous, alpha's dtype and device.
void run_scales(const Tensor& alpha, const Tensor& beta, const Tensor& neg, const Tensor& pos) {
#ifdef ARELU_TORCH_WITH_CUDA
  if (alpha.is_cuda()) {
    cuda_scales(alpha, beta, neg, pos);
    return;
  }
#endif
  if (alpha.scalar_type() == at::kFloat) {
    cpu_scales<float>(alpha, beta, neg, pos);
  } else {
    cpu_scales<double>(alpha, beta, neg, pos);
  }
}

// Launch parameters and scales for x (dense, as dense() returns it); alpha and beta resolved by dense().
// Channel-wise, the kernels view x's memory as (outer, channels, inner) with inner = x.stride(1): H * W
// consecutive elements of one channel for NCHW, 1 for channels_last.
Scales make_scales(const Tensor& x, const Tensor& alpha, const Tensor& beta, bool channelwise) {
  Scales s;
  s.channelwise = channelwise;
  if (!channelwise) {
    s.inner = x.numel();
    std::tie(s.neg, s.pos) = scalar_scales(alpha, beta);
    return s;
  }
  s.channels = x.size(1);
  s.inner = x.numel() == 0 ? 1 : x.stride(1);
  s.outer = x.numel() == 0 ? 0 : x.numel() / (s.channels * s.inner);
  const Tensor alpha_c = alpha.contiguous();
  const Tensor beta_c = beta.contiguous();
  s.neg_t = at::empty_like(alpha_c);
  s.pos_t = at::empty_like(beta_c);
  run_scales(alpha_c, beta_c, s.neg_t, s.pos_t);
  return s;
}

template <typename T>
void cpu_forward(const Tensor& x, const Tensor& y, const Scales& s) {
  const T* xp = x.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  check_status(s.channelwise ? abi::forward_channels(xp, yp, s.outer, s.channels, s.inner, s.neg_t.data_ptr<T>(),
                                                     s.pos_t.data_ptr<T>(), num_threads())
                             : abi::forward(xp, yp, s.inner, static_cast<T>(s.neg), static_cast<T>(s.pos),
                                            num_threads()),
               "arelu_forward");
}

template <typename T>
void cpu_backward(const Tensor& g, const Tensor& x, const Tensor& gi, const Scales& s, const Tensor& neg_sum,
                  const Tensor& pos_sum) {
  const T* gp = g.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  T* gip = gi.defined() ? gi.data_ptr<T>() : nullptr;
  double* ns = neg_sum.data_ptr<double>();
  double* ps = pos_sum.data_ptr<double>();
  check_status(s.channelwise ? abi::backward_channels(gp, xp, gip, s.outer, s.channels, s.inner,
                                                      s.neg_t.data_ptr<T>(), s.pos_t.data_ptr<T>(), ns, ps,
                                                      num_threads())
                             : abi::backward(gp, xp, gip, s.inner, static_cast<T>(s.neg), static_cast<T>(s.pos), ns,
                                             ps, num_threads()),
               "arelu_backward");
}

template <typename T>
void cpu_parameter_gradients(const Tensor& neg_sum, const Tensor& pos_sum, const Tensor& alpha, const Tensor& beta,
                             const Tensor& grad_alpha, const Tensor& grad_beta) {
  check_status(abi::parameter_gradients(neg_sum.data_ptr<double>(), pos_sum.data_ptr<double>(), alpha.data_ptr<T>(),
                                        beta.data_ptr<T>(), grad_alpha.data_ptr<T>(), grad_beta.data_ptr<T>(),
                                        alpha.numel()),
               "arelu_parameter_gradients");
}

void run_cpu_forward(const Tensor& x, const Tensor& y, const Scales& s) {
  if (x.scalar_type() == at::kFloat) {
    cpu_forward<float>(x, y, s);
  } else {
    cpu_forward<double>(x, y, s);
  }
}

void run_backward(const Tensor& g, const Tensor& x, const Tensor& gi, const Scales& s, const Tensor& neg_sum,
                  const Tensor& pos_sum) {
#ifdef ARELU_TORCH_WITH_CUDA
  if (x.is_cuda()) {
    cuda_backward(g, x, gi, s, neg_sum, pos_sum);
    return;
  }
#endif
  if (x.scalar_type() == at::kFloat) {
    cpu_backward<float>(g, x, gi, s, neg_sum, pos_sum);
  } else {
    cpu_backward<double>(g, x, gi, s, neg_sum, pos_sum);
  }
}

// Whether libtorch's clamp passes the gradient to an input lying exactly on its lower and on its upper bound. It
// has since 2018 (the subgradient 1 there), up to 2.13; 2.14 passes none (a bound counts as clamped). The
// reference's alpha gradient at exactly 0.01 or 0.99 follows the libtorch it runs on, and so does this op's: asked
// of libtorch once, for each bound.
struct ClampRule {
  bool passes_at_min;
  bool passes_at_max;
};

const ClampRule& clamp_rule() {
  static const ClampRule rule = [] {
    // Asked from a backward, or first from a caller in no-grad or inference mode: autograd on for the question.
    c10::InferenceMode not_inference(false);
    at::AutoGradMode grad_mode(true);
    const Tensor bounds = at::tensor(std::vector<double>{kAlphaMin, kAlphaMax}, at::TensorOptions().dtype(at::kDouble))
                              .requires_grad_(true);
    const Tensor grad = torch::autograd::grad({bounds.clamp(kAlphaMin, kAlphaMax).sum()}, {bounds})[0];
    return ClampRule{grad[0].item<double>() != 0.0, grad[1].item<double>() != 0.0};
  }();
  return rule;
}

// alpha compared in its own type, as the kernels and libtorch's clamp compare it.
void zero_alpha_gradient_where_clamp_passes_none(const Tensor& alpha, const Tensor& grad_alpha) {
  const ClampRule& rule = clamp_rule();
  if (!rule.passes_at_min) grad_alpha.masked_fill_(alpha.eq(kAlphaMin), 0);
  if (!rule.passes_at_max) grad_alpha.masked_fill_(alpha.eq(kAlphaMax), 0);
}

// All contiguous, alpha's dtype and device (sums: double). The kernels pass alpha's gradient on the bounds, as
// libtorch's clamp did up to 2.13; on a bound where the clamp of this libtorch passes none, it is zeroed.
void run_parameter_gradients(const Tensor& neg_sum, const Tensor& pos_sum, const Tensor& alpha, const Tensor& beta,
                             const Tensor& grad_alpha, const Tensor& grad_beta) {
#ifdef ARELU_TORCH_WITH_CUDA
  if (alpha.is_cuda()) {
    cuda_parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta);
    zero_alpha_gradient_where_clamp_passes_none(alpha, grad_alpha);
    return;
  }
#endif
  if (alpha.scalar_type() == at::kFloat) {
    cpu_parameter_gradients<float>(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta);
  } else {
    cpu_parameter_gradients<double>(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta);
  }
  zero_alpha_gradient_where_clamp_passes_none(alpha, grad_alpha);
}

// The operator arelu::arelu, typed, for calls through the dispatcher.
const c10::TypedOperatorHandle<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op() {
  static const auto handle = c10::Dispatcher::singleton()
                                 .findSchemaOrThrow("arelu::arelu", "")
                                 .typed<Tensor(const Tensor&, const Tensor&, const Tensor&)>();
  return handle;
}

// Whether a fused kernel serves x's device: CPU always; CUDA in a CUDA build (arelu_cuda.cpp) on a device the
// kernels were built for, else the reference formula, as fused_cuda_available() tells.
bool fused_backend(const Tensor& x) {
  if (x.is_cpu()) return true;
#ifdef ARELU_TORCH_WITH_CUDA
  return x.is_cuda() && cuda_kernels_serve(x);
#else
  return false;
#endif
}

// Gradients of the right shapes and no data, for meta tensors (shape inference through autograd).
variable_list meta_gradients(const AutogradContext* ctx, const variable_list& saved) {
  return {ctx->needs_input_grad(0) ? at::empty_like(saved[0]) : Tensor(), at::empty_like(saved[1]),
          at::empty_like(saved[2])};
}

// `node` (the live input, or a view of it) where the input still holds forward's values; elsewhere forward's
// values with node's graph, at_forward + (node - node.detach()), whose derivative with respect to node is 1 (0
// where a changed element is not finite: the difference is NaN there and is taken as 0). Decided element by
// element, NaN counting as unchanged NaN, so that an unchanged NaN or infinite x keeps its gradient.
Tensor as_at_forward(const Tensor& node, const Tensor& live, const Tensor& at_forward) {
  if (live.is_same(at_forward) || at::equal(live, at_forward)) return node;
  const Tensor now = live.detach();
  const Tensor unchanged = (now == at_forward) | (now.isnan() & at_forward.isnan());
  // Unchanged but for NaNs, which at::equal counts as changed: the where below would add its other branch's +0 to
  // every gradient, and -0 would come back as +0.
  if (unchanged.all().item<bool>()) return node;
  return at::where(unchanged, node, at_forward + at::nan_to_num(node - now, 0.0, 0.0, 0.0));
}

// saved_data keys of the nodes x, alpha and beta came from (AReLUFunction::forward).
constexpr const char* kGradFnKeys[3] = {"x_grad_fn", "alpha_grad_fn", "beta_grad_fn"};

class AReLUFunction : public torch::autograd::Function<AReLUFunction> {
 public:
  // x, alpha, beta are validated (one device, matching shapes; float/double, or meta tensors of any dtype) by
  // the autograd kernel.
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor alpha, Tensor beta) {
    // The backend kernel of x's device (CPU or CUDA), below autograd.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    Tensor y = op().call(x, alpha, beta);
    // x itself, not the copy the backend kernel may make: under create_graph, backward differentiates through
    // it. An inference tensor cannot be saved (it has no version counter); it requires no grad, so a copy
    // serves.
    const auto keep = [](const Tensor& t) { return t.is_inference() ? t.clone() : t; };
    // And alpha and beta as this forward read them, for the kernels' backward: an optimizer's step may write the
    // parameters between a forward and its backward without bumping their versions (libtorch's SGD does), and the
    // reference's graph keeps forward's scales.
    // x too where its memory may be a parameter's, for the same reason: the reference keeps relu(x) and relu(-x),
    // so its backward never reads x again. That is a leaf that requires grad or a view of one, and an x that
    // requires no grad only where its memory is shared (p.detach() is no view). An activation between trained
    // layers, the result of an operation, is not copied.
    const bool leaf_memory = x.requires_grad() ? x.is_leaf() || (x.is_view() && x._base().is_leaf())
                                               : x.has_storage() && x.storage().use_count() > 1;
    const Tensor kept_x = keep(x);
    ctx->save_for_backward({kept_x, keep(alpha), keep(beta), alpha.clone(), beta.clone(),
                            leaf_memory ? x.clone() : kept_x});
    // The nodes x, alpha and beta came from (none for a leaf): one detached in place (detach_()) after this has
    // lost the graph it was computed from, and a backward under create_graph refuses it rather than silently
    // leaving the derivatives through it out of the gradients. Compared by address: this node's edges keep those
    // nodes alive, and an unpacked detached input comes back with no grad_fn (libtorch 1.13) or with this very
    // node's (libtorch 2.x hands a saved non-leaf without one the node it is saved for).
    const Tensor inputs[3] = {x, alpha, beta};
    for (size_t i = 0; i < 3; ++i) {
      ctx->saved_data[kGradFnKeys[i]] = static_cast<int64_t>(reinterpret_cast<intptr_t>(inputs[i].grad_fn().get()));
    }
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    // From forward's copy of alpha (saved[3]), which the kernels read: the live alpha (saved[1]) may have been
    // replaced by set_data since, and a one-element alpha taken as channel-wise would have the kernels read x.size(1)
    // scales from, and write as many sums into, one-element tensors.
    const bool channelwise = saved[3].numel() > 1;
    if (saved[0].is_meta()) {
      return meta_gradients(ctx, saved);
    }
    // set_data (PyTorch's x.data = ...) replaces a tensor's data, shape and dtype without a version bump: the
    // kernels would read x's new number of elements of the gradient, past its end, and the differentiable
    // backward would broadcast them. Under create_graph the live x (saved[0]) is read, else forward's (saved[5]).
    const Tensor& read_x = at::GradMode::is_enabled() ? saved[0] : saved[5];
    TORCH_CHECK(read_x.sizes() == grad_outputs[0].sizes() && read_x.scalar_type() == grad_outputs[0].scalar_type() &&
                    read_x.device() == grad_outputs[0].device(),
                "arelu backward: its saved input is now ", read_x.scalar_type(), read_x.sizes(), " on ",
                read_x.device(), " where its output's gradient is ", grad_outputs[0].scalar_type(),
                grad_outputs[0].sizes(), " on ", grad_outputs[0].device(),
                ": the input's data was replaced after forward without a version bump (set_data, PyTorch's x.data = "
                "...); keep an input as it is until its backward");
    // The live parameters too: the differentiable backward reads them, and their shape decides the form.
    for (size_t i = 1; i < 3; ++i) {
      TORCH_CHECK(saved[i].sizes() == saved[i + 2].sizes() && saved[i].scalar_type() == saved[i + 2].scalar_type() &&
                      saved[i].device() == saved[i + 2].device(),
                  "arelu backward: its saved ", (i == 1 ? "alpha" : "beta"), " is now ", saved[i].scalar_type(),
                  saved[i].sizes(), " where forward read ", saved[i + 2].scalar_type(), saved[i + 2].sizes(),
                  ": its data was replaced after forward without a version bump (set_data); keep an input as it is "
                  "until its backward");
    }
    if (at::GradMode::is_enabled()) {
      // Only here is the inputs' graph read: without create_graph the kernels read forward's values, and the
      // engine passes the gradients on along the edges recorded at forward, which detach_() leaves in place.
      for (size_t i = 0; i < 3; ++i) {
        TORCH_CHECK(ctx->saved_data[kGradFnKeys[i]].toInt() ==
                        static_cast<int64_t>(reinterpret_cast<intptr_t>(saved[i].grad_fn().get())),
                    "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_(). This is "
                    "not supported under create_graph, please use out-of-place `.detach()` instead (input ", i,
                    " of arelu)");
      }
      // create_graph: the gradients must themselves be differentiable, and the kernels are not. libtorch's
      // autograd of the reference formula, at forward's values and connected to the saved inputs' graph, gives
      // them exactly.
      return differentiable_backward(ctx, grad_outputs[0], saved, channelwise);
    }
    // Forward-over-reverse (Hessian-vector products): an output gradient that carries a forward-mode AD tangent.
    // The kernels would return the gradients without theirs; the reference formula's operations carry it.
    if (grad_outputs[0]._fw_grad(/*level=*/0).defined()) {
      return gradients_at(ctx, grad_outputs[0], saved[5], saved[3], saved[4], channelwise);
    }
    const Tensor x = dense(saved[5]);
    const Tensor alpha = dense(saved[3]);
    const Tensor beta = dense(saved[4]);
    // Upstream gradients may be expanded or strided views (e.g. the gradient of a sum), or dense in another
    // order than x: the kernels walk g and x as one flat array each, so g takes x's layout.
    Tensor g = dense(grad_outputs[0]);
    if (g.strides() != x.strides()) {
      g = at::empty_like(x).copy_(g);
    }

    const Scales s = make_scales(x, alpha, beta, channelwise);
    // empty_like keeps x's (dense) strides: the input gradient is laid out as the input.
    Tensor grad_x = ctx->needs_input_grad(0) ? at::empty_like(x) : Tensor();
    const auto sum_options = x.options().dtype(at::kDouble);
    Tensor neg_sum = at::zeros({alpha.numel()}, sum_options);
    Tensor pos_sum = at::zeros({alpha.numel()}, sum_options);
    if (x.numel() > 0) {
      run_backward(g, x, grad_x, s, neg_sum, pos_sum);
    }
    // The clamp-range select of alpha, sigmoid'(beta) and the NaN handling: the kernels' one definition.
    const Tensor alpha_c = alpha.contiguous();
    const Tensor beta_c = beta.contiguous();
    Tensor grad_alpha = at::empty_like(alpha_c);
    Tensor grad_beta = at::empty_like(beta_c);
    run_parameter_gradients(neg_sum, pos_sum, alpha_c, beta_c, grad_alpha, grad_beta);
    return {grad_x, grad_alpha, grad_beta};
  }

 private:
  // The gradients at forward's values (x, alpha, beta), by libtorch's autograd of the reference formula without
  // create_graph: recorded on detached copies whatever the grad mode, so they have no graph of their own, and their
  // operations carry a forward-mode AD tangent of grad_output to them.
  static variable_list gradients_at(AutogradContext* ctx, const Tensor& grad_output, const Tensor& x,
                                    const Tensor& alpha, const Tensor& beta, bool channelwise) {
    at::AutoGradMode recording(true);
    Tensor leaves[3] = {x.detach(), alpha.detach(), beta.detach()};
    std::vector<Tensor> wrt;
    for (size_t i = 0; i < 3; ++i) {
      if (ctx->needs_input_grad(i)) wrt.push_back(leaves[i].requires_grad_(true));
    }
    variable_list result(3);
    if (wrt.empty()) return result;
    const Tensor y = reference(leaves[0], leaves[1], leaves[2], channelwise);
    const variable_list grads = torch::autograd::grad({y}, wrt, {grad_output}, /*retain_graph=*/false,
                                                      /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0, k = 0; i < 3; ++i) {
      if (ctx->needs_input_grad(i)) result[i] = grads[k++];
    }
    return result;
  }

  // The grad is taken with respect to a node of each input's own (a view), not the input: grad sums every path
  // from y to what it is asked about, so where alpha lies upstream of x (one AReLU applied twice, x = alpha * z)
  // alpha's gradient would hold the path through x too, which the engine then adds again through x's gradient;
  // and one tensor given in two places would get both places' gradients in each.
  static variable_list differentiable_backward(AutogradContext* ctx, const Tensor& grad_output,
                                               const variable_list& saved, bool channelwise) {
    constexpr size_t kAtForward[3] = {5, 3, 4};  // where forward's x, alpha and beta are saved
    std::vector<Tensor> wrt;
    Tensor nodes[3];
    for (size_t i = 0; i < 3; ++i) {
      const bool needed = ctx->needs_input_grad(i);
      nodes[i] = needed ? saved[i].view_as(saved[i]) : saved[i];
      if (needed) wrt.push_back(nodes[i]);
    }
    variable_list result(3);
    if (wrt.empty()) return result;
    Tensor at[3];
    for (size_t i = 0; i < 3; ++i) {
      at[i] = as_at_forward(nodes[i], saved[i], saved[kAtForward[i]]);
    }
    const Tensor y = reference(at[0], at[1], at[2], channelwise);
    const variable_list grads = torch::autograd::grad({y}, wrt, {grad_output}, /*retain_graph=*/true,
                                                      /*create_graph=*/true, /*allow_unused=*/true);
    for (size_t i = 0, k = 0; i < 3; ++i) {
      if (ctx->needs_input_grad(i)) result[i] = grads[k++];
    }
    return result;
  }
};

// The CPU kernel of arelu::arelu.
Tensor forward_cpu(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  return backend_forward(x, alpha, beta, &run_cpu_forward);
}

// The Meta kernel: the checks and the output's shape, strides, dtype and device, without data. Laid out as the
// backend kernels lay it out: like a dense input, else contiguous.
Tensor forward_meta(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  validate(x, alpha, beta);
  return at::empty_like(x.is_non_overlapping_and_dense() ? x : x.contiguous());
}

// The kernel of every backend without its own (CompositeExplicitAutograd): CUDA tensors in a build without the
// CUDA kernels, sparse inputs through the dispatcher. The Autograd kernel sends them to the reference composition;
// reached below autograd (InferenceMode) they get the same, rather than the dispatcher's "could not run".
Tensor forward_other(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  const bool channelwise = validate(x, alpha, beta);
  return strided(x) ? reference_or_named_error(x, alpha, beta, channelwise)
                    : reference_of_other_layout(x, alpha, beta, channelwise);
}

// The Autograd kernel: the fused function (one node, fused backward) where a fused kernel serves x, libtorch's
// autograd of the reference composition elsewhere (half, bfloat16, devices without fused kernels). Meta tensors
// of every dtype take the function too, so that they reach the Meta kernel (libtorch 1.13 has no Meta relu).
Tensor forward_autograd(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  const bool channelwise = validate(x, alpha, beta);
  // Forward-mode AD (dual tensors): the fused function has no jvp, and the backend kernel alone would return the
  // output without its tangent; the reference composition carries it. Level 0, the one level libtorch's own
  // kernels look at, since it supports no nesting.
  const bool tangents = x._fw_grad(0).defined() || alpha._fw_grad(0).defined() || beta._fw_grad(0).defined();
  if (!tangents && (x.is_meta() || (fused_dtype(x.scalar_type()) && fused_backend(x) && strided(x)))) {
    const bool records =
        at::GradMode::is_enabled() && (x.requires_grad() || alpha.requires_grad() || beta.requires_grad());
    if (!records && !x.is_meta()) {
      // Nothing to record: the backend kernel alone, without the copies that forward keeps for a backward.
      at::AutoDispatchBelowADInplaceOrView below_autograd;
      return op().call(x, alpha, beta);
    }
    return AReLUFunction::apply(x, alpha, beta);
  }
  return reference_or_named_error(x, alpha, beta, channelwise);
}

}  // namespace

Tensor backend_forward(const Tensor& x, const Tensor& alpha, const Tensor& beta, ForwardRunner run) {
  const bool channelwise = validate(x, alpha, beta);
  if (!fused_dtype(x.scalar_type())) {
    // Reached below autograd (inference mode): the same reference composition as the Autograd kernel uses.
    return reference_or_named_error(x, alpha, beta, channelwise);
  }
  const Tensor xc = dense(x);
  // empty_like keeps a dense tensor's strides: a channels_last input gives a channels_last output.
  Tensor y = at::empty_like(xc);
  const Scales s = make_scales(xc, dense(alpha), dense(beta), channelwise);
  // The kernels give the reference's NaN everywhere when a scale is NaN (arelu.h).
  if (xc.numel() > 0) {
    run(xc, y, s);
  }
  return y;
}

}  // namespace detail

torch::Tensor arelu(const torch::Tensor& x, const torch::Tensor& alpha, const torch::Tensor& beta) {
  // Named errors first: the dispatcher cannot route undefined tensors.
  const bool channelwise = detail::validate(x, alpha, beta);
  if (!detail::strided(x)) {
    return detail::reference_of_other_layout(x, alpha, beta, channelwise);
  }
  return detail::op().call(x, alpha, beta);
}

bool fused_cuda_available() {
#ifdef ARELU_TORCH_WITH_CUDA
  return torch::cuda::is_available() && detail::cuda_kernels_available();
#else
  return false;
#endif
}

AReLUImpl::AReLUImpl(const AReLUOptions& options_) : options(options_) { reset(); }

void AReLUImpl::reset() {
  TORCH_CHECK(options.num_parameters() >= 1, "arelu: AReLU needs num_parameters >= 1, got ",
              options.num_parameters());
  alpha = register_parameter("alpha", torch::full({options.num_parameters()}, options.alpha()));
  beta = register_parameter("beta", torch::full({options.num_parameters()}, options.beta()));
}

torch::Tensor AReLUImpl::forward(const torch::Tensor& input) { return arelu(input, alpha, beta); }

void AReLUImpl::load(torch::serialize::InputArchive& archive) {
  for (const auto& [name, held] : {std::pair<const char*, const torch::Tensor*>{"alpha", &alpha}, {"beta", &beta}}) {
    c10::IValue value;
    // Refused here, not left to Module::load: it would read alpha before failing on a missing beta, and leave the
    // module with the checkpoint's alpha and its own beta after the error.
    TORCH_CHECK(archive.try_read(name, value) && value.isTensor(), "arelu: the checkpoint has no tensor ", name,
                ": it is no AReLU's checkpoint, or not this module's part of a network's");
    const torch::Tensor saved = value.toTensor();
    const bool same_dtype = saved.scalar_type() == held->scalar_type();
    const bool same_shape = saved.sizes() == held->sizes();
    std::ostringstream advice;
    if (!same_dtype) {
      advice << "Module::load would read its bytes as " << held->scalar_type()
             << "; convert the module first (to(torch::k" << saved.scalar_type() << "))"
             << (same_shape ? "" : ", and ");
    }
    if (!same_shape) {
      if (saved.dim() == 1) {
        advice << "build the module as it was saved (AReLUOptions(" << saved.numel() << "))";
      } else {
        advice << "an AReLU's parameters have shape {C}; reshape the checkpoint's";
      }
    }
    TORCH_CHECK(same_dtype && same_shape, "arelu: the checkpoint holds ", name, " as ", saved.scalar_type(),
                saved.sizes(), ", this module's ", name, " is ", held->scalar_type(), held->sizes(), ": ",
                advice.str());
  }
  torch::nn::Module::load(archive);
}

void AReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "arelu::AReLU(num_parameters=" << options.num_parameters() << ", alpha=" << options.alpha()
         << ", beta=" << options.beta() << ")";
}

}  // namespace arelu

// The operator arelu::arelu for dispatcher users (TorchScript, torch.ops after load_library), registered as
// PyTorch's extension guide does: one kernel per backend key (CPU here, CUDA in arelu_cuda.cpp, Meta for
// shapes, the reference composition for the other backends), and the autograd function for the Autograd key, which calls the backend kernel below autograd.
TORCH_LIBRARY(arelu, m) { m.def("arelu(Tensor x, Tensor alpha, Tensor beta) -> Tensor"); }

TORCH_LIBRARY_IMPL(arelu, CPU, m) { m.impl("arelu", TORCH_FN(arelu::detail::forward_cpu)); }

TORCH_LIBRARY_IMPL(arelu, Meta, m) { m.impl("arelu", TORCH_FN(arelu::detail::forward_meta)); }

TORCH_LIBRARY_IMPL(arelu, CompositeExplicitAutograd, m) {
  m.impl("arelu", TORCH_FN(arelu::detail::forward_other));
}

TORCH_LIBRARY_IMPL(arelu, Autograd, m) { m.impl("arelu", TORCH_FN(arelu::detail::forward_autograd)); }
