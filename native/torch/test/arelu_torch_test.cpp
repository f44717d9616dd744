// Tests of arelu_torch against libtorch autograd of the reference composition
// relu(x) * b - relu(-x) * a, a = clamp(alpha, 0.01, 0.99), b = 1 + sigmoid(beta).
// Every test runs on the CPU and on CUDA; the CUDA instances skip where no CUDA device is usable.
#include "arelu/arelu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/forward_grad.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using torch::Tensor;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using Fn = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

// The reference, built from torch ops on the raw parameters so that clamp's and sigmoid's gradients
// come from libtorch's autograd. Channel-wise parameters broadcast along dimension 1.
Tensor reference(const Tensor& x, const Tensor& alpha, const Tensor& beta) {
  Tensor a = torch::clamp(alpha, 0.01, 0.99);
  Tensor b = 1 + torch::sigmoid(beta);
  if (alpha.numel() > 1) {
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[1] = alpha.numel();
    a = a.view(shape);
    b = b.view(shape);
  } else {
    a = a.reshape({});
    b = b.reshape({});
  }
  return torch::relu(x) * b - torch::relu(-x) * a;
}

Tensor fused(const Tensor& x, const Tensor& alpha, const Tensor& beta) { return arelu::arelu(x, alpha, beta); }

// arelu::arelu from the dispatcher, typed.
const c10::TypedOperatorHandle<Tensor(const Tensor&, const Tensor&, const Tensor&)>& arelu_op() {
  static const auto handle = c10::Dispatcher::singleton()
                                 .findSchemaOrThrow("arelu::arelu", "")
                                 .typed<Tensor(const Tensor&, const Tensor&, const Tensor&)>();
  return handle;
}

struct Outcome {
  Tensor y, grad_x, grad_alpha, grad_beta;
};

// Output and gradients of f on fresh leaves, with upstream gradient w.
Outcome evaluate(const Fn& f, const Tensor& x, const Tensor& alpha, const Tensor& beta, const Tensor& w) {
  Tensor xl = x.detach().clone().requires_grad_(true);
  Tensor al = alpha.detach().clone().requires_grad_(true);
  Tensor bl = beta.detach().clone().requires_grad_(true);
  Tensor y = f(xl, al, bl);
  y.backward(w);
  return {y.detach(), xl.grad(), al.grad(), bl.grad()};
}

Tensor host(const Tensor& t) { return t.detach().to(torch::kCPU).to(torch::kDouble).contiguous(); }

// NaN-aware closeness: equal values (infinities included), both NaN, or |a - e| <= atol + rtol * max(|a|, |e|).
void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const Tensor a = host(actual).reshape({-1});
  const Tensor e = host(expected).reshape({-1});
  const double* ap = a.data_ptr<double>();
  const double* ep = e.data_ptr<double>();
  int failures = 0;
  for (int64_t i = 0; i < a.numel() && failures < 5; ++i) {
    const double av = ap[i];
    const double ev = ep[i];
    const bool ok = (std::isnan(av) && std::isnan(ev)) || av == ev ||
                    std::abs(av - ev) <= atol + rtol * std::max(std::abs(av), std::abs(ev));
    if (!ok) {
      ++failures;
      ADD_FAILURE() << what << "[" << i << "]: got " << av << ", expected " << ev;
    }
  }
}

// Absolute tolerance for a sum of the products w * x: relative to the sum of their finite magnitudes.
double sum_tolerance(const Tensor& w, const Tensor& x, double rtol) {
  const Tensor terms = (host(w) * host(x)).abs();
  return rtol * torch::where(torch::isfinite(terms), terms, torch::zeros_like(terms)).sum().item<double>() + 1e-300;
}

void expect_matches_reference(const Tensor& x, const Tensor& alpha, const Tensor& beta, const Tensor& w,
                              const std::string& what, double rtol = 1e-12) {
  const Outcome got = evaluate(fused, x, alpha, beta, w);
  const Outcome want = evaluate(reference, x, alpha, beta, w);
  const double atol = sum_tolerance(w, x, rtol);
  expect_close(got.y, want.y, rtol, 0.0, what + " y");
  expect_close(got.grad_x, want.grad_x, rtol, 0.0, what + " grad_x");
  expect_close(got.grad_alpha, want.grad_alpha, rtol, atol, what + " grad_alpha");
  expect_close(got.grad_beta, want.grad_beta, rtol, atol, what + " grad_beta");
  EXPECT_EQ(got.grad_alpha.scalar_type(), alpha.scalar_type()) << what;
  EXPECT_EQ(got.grad_beta.scalar_type(), beta.scalar_type()) << what;
}

// Runs f, expecting a c10::Error whose message contains every one of parts.
void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << what << ": \"" << part << "\" not in: " << message;
    }
  }
}

std::string label(double alpha, double beta) {
  std::ostringstream s;
  s << "alpha=" << alpha << " beta=" << beta;
  return s.str();
}

// Skips a CUDA instance where libtorch sees no CUDA device, and seeds the generator.
void prepare_device(torch::DeviceType device) {
  if (device == torch::kCUDA && !torch::cuda::is_available()) {
    // gpu-check-torch.sh sets ARELU_REQUIRE_FUSED_CUDA, so that a GPU run cannot pass by skipping.
    if (std::getenv("ARELU_REQUIRE_FUSED_CUDA") != nullptr) {
      GTEST_FAIL() << "ARELU_REQUIRE_FUSED_CUDA is set but libtorch sees no CUDA device";
    }
    GTEST_SKIP() << "no CUDA device";
  }
  torch::manual_seed(0);
}

torch::TensorOptions on(torch::DeviceType device, torch::Dtype dtype) {
  return torch::TensorOptions().dtype(dtype).device(device);
}

class AReLUTest : public ::testing::TestWithParam<torch::DeviceType> {
 protected:
  void SetUp() override { prepare_device(GetParam()); }

  torch::TensorOptions f64() const { return on(GetParam(), torch::kDouble); }
  torch::TensorOptions f32() const { return on(GetParam(), torch::kFloat); }
  Tensor scalar(double v) const { return torch::full({}, v, f64()); }
};

// The tests that hold for both parameter layouts, one instance per device and layout.
class AReLULayoutTest : public ::testing::TestWithParam<std::tuple<torch::DeviceType, bool>> {
 protected:
  void SetUp() override { prepare_device(device()); }

  torch::DeviceType device() const { return std::get<0>(GetParam()); }
  bool channelwise() const { return std::get<1>(GetParam()); }
  torch::TensorOptions f64() const { return on(device(), torch::kDouble); }
  Tensor scalar(double v) const { return torch::full({}, v, f64()); }
};

TEST_P(AReLUTest, RandomDataMatchesReference) {
  const std::vector<std::pair<double, double>> params = {{0.90, 2.0}, {0.3, -1.5}, {0.05, 0.0}};
  for (const auto& [a, b] : params) {
    const Tensor x = torch::randn({37, 53}, f64()) * 3;
    const Tensor w = torch::randn({37, 53}, f64());
    expect_matches_reference(x, scalar(a), scalar(b), w, "0-dim " + label(a, b));
    expect_matches_reference(x, torch::full({1}, a, f64()), torch::full({1}, b, f64()), w, "shape {1} " + label(a, b));
  }
  // Large enough for the kernels' parallel, chunked reductions.
  const Tensor x = torch::randn({3, 8, 120, 110}, f64());
  const Tensor w = torch::randn({3, 8, 120, 110}, f64());
  expect_matches_reference(x, scalar(0.7), scalar(0.5), w, "large scalar-form");
  expect_matches_reference(x, torch::rand({8}, f64()), torch::randn({8}, f64()), w, "large channel-wise");
}

TEST_P(AReLUTest, EdgePointsMatchReference) {
  const Tensor x = torch::tensor({0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, 1.0, -1.0, 2.5, -2.5}, f64());
  const Tensor w = torch::randn({x.numel()}, f64());
  for (double a : {0.005, 0.01, 0.5, 0.99, 1.2, kNaN, kInf, -kInf}) {
    for (double b : {2.0, -3.0, 0.0, kNaN, kInf, -kInf}) {
      expect_matches_reference(x, scalar(a), scalar(b), w, label(a, b));
    }
  }
  // Non-finite inputs: NaN goes through both branches of the reference's backward.
  for (const auto& values : {std::vector<double>{kNaN, 1.0, -1.0, 0.0}, std::vector<double>{kInf, -kInf, 2.0, -2.0}}) {
    const Tensor xs = torch::tensor(values, f64());
    const Tensor ws = torch::randn({xs.numel()}, f64());
    for (double a : {0.01, 0.5, 1.2}) {
      expect_matches_reference(xs, scalar(a), scalar(2.0), ws, "non-finite x, " + label(a, 2.0));
    }
  }
}

TEST_P(AReLULayoutTest, CentralFiniteDifferences) {
  // x kept away from 0, where AReLU has a kink; alpha inside (0.01, 0.99), where the clamp is the identity.
  const Tensor sign = torch::randint(0, 2, {3, 4}, f64()) * 2 - 1;
  const Tensor x = sign * (0.2 + torch::rand({3, 4}, f64()) * 1.8);
  const Tensor w = torch::randn({3, 4}, f64());
  const bool channelwise = this->channelwise();
  const Tensor alpha = channelwise ? torch::tensor({0.4, 0.2, 0.7, 0.95}, f64()) : scalar(0.4);
  const Tensor beta = channelwise ? torch::tensor({0.7, -1.0, 2.0, 0.0}, f64()) : scalar(0.7);
  const Outcome got = evaluate(fused, x, alpha, beta, w);
  const double h = 1e-6;
  // d/dt of sum(w * arelu(...)) with element i of `which` moved by t.
  auto check = [&](int which, const Tensor& analytic, const std::string& name) {
    const Tensor base[3] = {x, alpha, beta};
    const Tensor flat_grad = host(analytic).reshape({-1});
    for (int64_t i = 0; i < base[which].numel(); ++i) {
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        Tensor moved[3] = {base[0].clone(), base[1].clone(), base[2].clone()};
        moved[which].view({-1})[i] += side == 0 ? h : -h;
        torch::NoGradGuard no_grad;
        loss[side] = (arelu::arelu(moved[0], moved[1], moved[2]) * w).sum().item<double>();
      }
      const double numeric = (loss[0] - loss[1]) / (2 * h);
      const double exact = flat_grad[i].item<double>();
      EXPECT_NEAR(numeric, exact, 1e-6 * std::max(1.0, std::abs(exact)))
          << name << "[" << i << "]" << (channelwise ? " channel-wise" : "");
    }
  };
  check(0, got.grad_x, "x");
  check(1, got.grad_alpha, "alpha");
  check(2, got.grad_beta, "beta");
}

TEST_P(AReLULayoutTest, Float32CloseToFloat64) {
  const Tensor x = torch::randn({64, 33}, f64()) * 2;
  const Tensor w = torch::randn({64, 33}, f64());
  const bool channelwise = this->channelwise();
  const Tensor alpha = channelwise ? torch::rand({33}, f64()) : scalar(0.9);
  const Tensor beta = channelwise ? torch::randn({33}, f64()) : scalar(2.0);
  const Outcome d = evaluate(fused, x, alpha, beta, w);
  const Outcome f = evaluate(fused, x.to(torch::kFloat), alpha.to(torch::kFloat), beta.to(torch::kFloat),
                             w.to(torch::kFloat));
  EXPECT_EQ(f.y.scalar_type(), torch::kFloat);
  EXPECT_EQ(f.grad_alpha.scalar_type(), torch::kFloat);
  const std::string what = channelwise ? "channel-wise float32" : "float32";
  expect_close(f.y, d.y, 1e-6, 1e-7, what + " y");
  expect_close(f.grad_x, d.grad_x, 1e-6, 1e-7, what + " grad_x");
  const double atol = sum_tolerance(w, x, 1e-6);
  expect_close(f.grad_alpha, d.grad_alpha, 1e-5, atol, what + " grad_alpha");
  expect_close(f.grad_beta, d.grad_beta, 1e-5, atol, what + " grad_beta");
}

// In float32 the reference's sigmoid backward runs in float: from beta = 17 on, sigmoid(beta) rounds to 1 and beta's
// gradient is 0; at 12-15 it is well off sigmoid' in double. The fused op follows the reference, relative to the
// gradient itself (the sums' own rounding aside), not to the sum of the terms, which would hide all of it.
TEST_P(AReLUTest, Float32BetaGradientFollowsTheReferenceAtLargeBeta) {
  const Tensor x = torch::randn({1000}, f32());
  const Tensor w = torch::ones({1000}, f32());
  for (const double beta : {2.0, 10.0, 12.0, 15.0, 17.0, 20.0}) {
    const Tensor a = torch::full({1}, 0.5, f32());
    const Tensor b = torch::full({1}, beta, f32());
    const Outcome got = evaluate(fused, x, a, b, w);
    const Outcome want = evaluate(reference, x, a, b, w);
    expect_close(got.grad_beta, want.grad_beta, 1e-5, 0.0, "float32 grad_beta " + label(0.5, beta));
    if (beta >= 17) {
      EXPECT_EQ(host(got.grad_beta).item<double>(), 0.0) << label(0.5, beta);
    }
  }
}

TEST_P(AReLUTest, EmptyAndZeroDimTensors) {
  for (const auto& shape : {std::vector<int64_t>{0}, std::vector<int64_t>{3, 0}, std::vector<int64_t>{0, 4, 2}}) {
    const Tensor x = torch::randn(shape, f64());
    const Outcome got = evaluate(fused, x, scalar(0.9), scalar(2.0), torch::ones(shape, f64()));
    EXPECT_EQ(got.y.sizes(), x.sizes());
    EXPECT_EQ(got.grad_x.sizes(), x.sizes());
    EXPECT_EQ(got.grad_alpha.item<double>(), 0.0);
    EXPECT_EQ(got.grad_beta.item<double>(), 0.0);
  }
  const Tensor empty_batch = torch::randn({0, 3, 2}, f64());
  const Outcome ch = evaluate(fused, empty_batch, torch::full({3}, 0.5, f64()), torch::full({3}, 1.0, f64()),
                              torch::ones({0, 3, 2}, f64()));
  expect_close(ch.grad_alpha, torch::zeros({3}, f64()), 0, 0, "empty channel-wise grad_alpha");
  for (double v : {-2.5, 0.0, 1.5}) {
    const Tensor x = torch::full({}, v, f64());
    expect_matches_reference(x, scalar(0.9), scalar(2.0), torch::full({}, 0.75, f64()), "0-dim x=" + std::to_string(v));
    EXPECT_EQ(arelu::arelu(x, torch::full({1}, 0.9, f64()), torch::full({1}, 2.0, f64())).dim(), 0);
  }
}

TEST_P(AReLUTest, NonContiguousInputAndGradient) {
  const Tensor base = torch::randn({20, 30}, f64());
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> views = {
      {"transposed", [](const Tensor& t) { return t.t(); }},
      {"strided", [](const Tensor& t) { return t.slice(1, 0, 30, 3); }},
      {"expanded", [](const Tensor& t) { return t.select(0, 0).unsqueeze(0).expand({4, 30}); }}};
  for (const auto& [name, view] : views) {
    Tensor got_base = base.clone().requires_grad_(true);
    Tensor want_base = base.clone().requires_grad_(true);
    const Tensor alpha = scalar(0.4);
    const Tensor beta = scalar(-0.5);
    const Tensor got = arelu::arelu(view(got_base), alpha, beta);
    const Tensor want = reference(view(want_base), alpha, beta);
    ASSERT_FALSE(view(base).is_contiguous()) << name;
    expect_close(got, want, 1e-12, 0, name + " y");
    // A transposed upstream gradient, and through sum() an expanded one.
    const Tensor w = torch::randn({got.size(1), got.size(0)}, f64()).t();
    (got * w).sum().backward();
    (want * w).sum().backward();
    expect_close(got_base.grad(), want_base.grad(), 1e-12, 0, name + " grad");
  }
}

// Every input libtorch accepts gets the reference's answer: inputs and parameters that are lazily negated views,
// non-finite upstream gradients, channels_last memory, inference tensors, and a product that underflows.
TEST_P(AReLUTest, LazilyNegatedInputsAndParametersAreReadAsTheirValues) {
  const Tensor base = torch::randn({6, 7}, f64()) * 2;
  const Tensor alpha_stored = torch::full({1}, -0.4, f64());  // logically 0.4 as a negated view
  for (bool negated_alpha : {false, true}) {
    Tensor xl = base.clone().requires_grad_(true);
    Tensor xr = base.clone().requires_grad_(true);
    Tensor al = (negated_alpha ? alpha_stored : -alpha_stored).clone().requires_grad_(true);
    Tensor ar = al.detach().clone().requires_grad_(true);
    const Tensor bl = scalar(0.5);
    const Tensor xn = xl._neg_view();
    ASSERT_TRUE(xn.is_neg());
    const Tensor an = negated_alpha ? al._neg_view() : al;
    const Tensor arn = negated_alpha ? ar._neg_view() : ar;
    const Tensor got = arelu::arelu(xn, an, bl);
    const Tensor want = reference(xr._neg_view(), arn, bl);
    const std::string what = negated_alpha ? "negated x and alpha" : "negated x";
    expect_close(got, want, 1e-12, 0, what + " y");
    const Tensor w = torch::randn({6, 7}, f64());
    got.backward(w);
    want.backward(w);
    expect_close(xl.grad(), xr.grad(), 1e-12, 0, what + " grad_x");
    expect_close(al.grad(), ar.grad(), 1e-12, 1e-12, what + " grad_alpha");
  }
}

TEST_P(AReLUTest, NonFiniteUpstreamGradientsPropagateAsInTheReference) {
  const Tensor x = torch::tensor({-1.5, 0.0, 2.0, -0.5, 3.0, -0.0}, f64());
  for (double special : {kNaN, kInf, -kInf}) {
    for (int64_t at = 0; at < x.numel(); ++at) {
      Tensor w = torch::ones({x.numel()}, f64());
      w[at] = special;
      expect_matches_reference(x, scalar(0.3), scalar(1.0), w,
                               "g=" + std::to_string(special) + " at x=" + std::to_string(x[at].item<double>()));
      expect_matches_reference(x.reshape({1, 6}), torch::tensor({0.3}, f64()), torch::tensor({1.0}, f64()),
                               w.reshape({1, 6}), "shape [1, 6] g=" + std::to_string(special));
    }
  }
}

TEST_P(AReLUTest, ChannelsLastStaysChannelsLast) {
  const std::vector<std::pair<std::vector<int64_t>, c10::MemoryFormat>> cases = {
      {{2, 3, 4, 5}, c10::MemoryFormat::ChannelsLast}, {{2, 3, 2, 4, 5}, c10::MemoryFormat::ChannelsLast3d}};
  for (const auto& [shape, format] : cases) {
    for (bool channelwise : {false, true}) {
      const Tensor x = (torch::randn(shape, f64()) * 2).contiguous(format);
      const Tensor alpha = channelwise ? torch::tensor({0.2, 0.5, 0.8}, f64()) : scalar(0.3);
      const Tensor beta = channelwise ? torch::tensor({-1.0, 0.5, 2.0}, f64()) : scalar(1.0);
      const Tensor w = torch::randn(shape, f64());
      const std::string what = std::string(channelwise ? "channel-wise " : "scalar ") + c10::toString(format);
      expect_matches_reference(x, alpha, beta, w, what);
      Tensor xl = x.detach().clone().requires_grad_(true);
      const Tensor y = arelu::arelu(xl, alpha, beta);
      EXPECT_TRUE(y.is_contiguous(format)) << what << ": output strides " << y.strides();
      y.backward(w.contiguous(format));
      EXPECT_TRUE(xl.grad().is_contiguous(format)) << what << ": gradient strides " << xl.grad().strides();
    }
  }
}

TEST_P(AReLUTest, InferenceTensorInputTrainsTheParameters) {
  Tensor x;
  {
    c10::InferenceMode guard;
    x = torch::randn({5, 3}, f64()) * 2;
  }
  ASSERT_TRUE(x.is_inference());
  const Tensor w = torch::randn({5, 3}, f64());
  for (bool channelwise : {false, true}) {
    const Tensor a0 = channelwise ? torch::tensor({0.2, 0.5, 0.8}, f64()) : torch::tensor({0.3}, f64());
    const Tensor b0 = channelwise ? torch::tensor({-1.0, 0.5, 2.0}, f64()) : torch::tensor({1.0}, f64());
    Tensor al = a0.clone().requires_grad_(true), bl = b0.clone().requires_grad_(true);
    Tensor ar = a0.clone().requires_grad_(true), br = b0.clone().requires_grad_(true);
    const Tensor got = arelu::arelu(x, al, bl);
    const Tensor want = reference(x, ar, br);
    expect_close(got, want, 1e-12, 0, "inference input y");
    got.backward(w);
    want.backward(w);
    expect_close(al.grad(), ar.grad(), 1e-12, 1e-12, "inference input grad_alpha");
    expect_close(bl.grad(), br.grad(), 1e-12, 1e-12, "inference input grad_beta");
  }
}

TEST_P(AReLUTest, UnderflowingNegativeProductIsPlusZeroAsInTheReference) {
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const double tiny = dtype == torch::kFloat ? std::numeric_limits<float>::denorm_min()
                                               : std::numeric_limits<double>::denorm_min();
    const Tensor x = torch::full({40}, -tiny, on(GetParam(), dtype));
    const Tensor alpha = torch::full({1}, 0.3, on(GetParam(), dtype));
    const Tensor beta = torch::full({1}, 1.0, on(GetParam(), dtype));
    const Tensor got = host(arelu::arelu(x, alpha, beta));
    const Tensor want = host(reference(x, alpha, beta));
    EXPECT_TRUE(torch::equal(torch::signbit(got), torch::signbit(want))) << got << want;
    EXPECT_FALSE(torch::signbit(got).any().item<bool>());
  }
}

TEST_P(AReLUTest, SparseInputsTakeLibtorchsOperationsOrANamedError) {
  const Tensor dense = torch::tensor({{0.0, -1.5, 0.0}, {2.0, 0.0, -0.5}}, f64());
  const Tensor alpha = scalar(0.3);
  const Tensor beta = scalar(1.0);
  const Tensor want = reference(dense, alpha, beta);
  const Tensor sparse = dense.to_sparse();
  bool libtorch_supports = true;
  try {
    reference(sparse, alpha, beta);
  } catch (const c10::Error&) {
    libtorch_supports = false;
  }
  if (libtorch_supports) {
    expect_close(arelu::arelu(sparse, alpha, beta).to_dense(), want, 1e-12, 0, "sparse COO y");
  } else {
    expect_error([&] { arelu::arelu(sparse, alpha, beta); }, {"layout", "to_dense()"}, "sparse COO");
  }
  expect_error([&] { arelu::arelu(dense, alpha.to_sparse(), beta); }, {"alpha", "strided", "layout"},
               "sparse alpha");
  // Through the dispatcher below autograd, a backend without a kernel of its own: the reference composition too.
  c10::InferenceMode inference;
  if (libtorch_supports) {
    expect_close(arelu_op().call(sparse, alpha, beta).to_dense(), want, 1e-12, 0, "sparse COO y, inference mode");
  } else {
    expect_error([&] { arelu_op().call(sparse, alpha, beta); }, {"layout", "to_dense()"},
                 "sparse COO, inference mode");
  }
}

TEST_P(AReLUTest, ChannelwiseMatchesReference) {
  const Tensor alpha = torch::tensor({0.005, 0.01, 0.5, 0.99, 1.2}, f64());
  const Tensor beta = torch::tensor({2.0, -1.0, 0.0, 3.5, -0.5}, f64());
  for (const auto& shape : {std::vector<int64_t>{3, 5, 4, 6}, std::vector<int64_t>{7, 5}, std::vector<int64_t>{2, 5, 9}}) {
    const Tensor x = torch::randn(shape, f64()) * 2;
    x.view({-1})[0] = 0.0;
    const Tensor w = torch::randn(shape, f64());
    expect_matches_reference(x, alpha, beta, w, "channel-wise rank " + std::to_string(shape.size()));
  }
  const Tensor x = torch::randn({2, 3, 4}, f64());
  expect_matches_reference(x, torch::tensor({0.5, kNaN, 0.2}, f64()), torch::tensor({1.0, 2.0, kInf}, f64()),
                           torch::randn({2, 3, 4}, f64()), "channel-wise with NaN alpha");
}

// Where a fused kernel serves the input, the call records the fused function's one node: the value tests compare
// with the reference and would pass as well if every call took the reference composition.
TEST_P(AReLUTest, FusedInputsRecordTheFusedNode) {
  if (GetParam() == torch::kCUDA && !arelu::fused_cuda_available()) {
    GTEST_SKIP() << "no fused CUDA kernels in this build";
  }
  for (const auto type : {torch::kFloat, torch::kDouble}) {
    const auto options = torch::TensorOptions().dtype(type).device(GetParam());
    for (const bool channelwise : {false, true}) {
      const int64_t n = channelwise ? 5 : 1;
      const Tensor x = torch::randn({4, 5, 3}, options).requires_grad_(true);
      const Tensor y = arelu::arelu(x, torch::full({n}, 0.9, options), torch::full({n}, 2.0, options));
      ASSERT_NE(y.grad_fn(), nullptr);
      EXPECT_NE(y.grad_fn()->name().find("AReLUFunction"), std::string::npos)
          << c10::toString(type) << (channelwise ? " channel-wise" : " scalar") << ": " << y.grad_fn()->name();
    }
  }
}

TEST_P(AReLUTest, BFloat16AndHalfUseTheReference) {
  std::vector<torch::ScalarType> types = {torch::kBFloat16};
  if (GetParam() == torch::kCUDA) {
    types.push_back(torch::kHalf);  // libtorch 1.13 lacks some Half kernels on the CPU
  }
  for (const auto type : types) {
    const auto options = torch::TensorOptions().dtype(type).device(GetParam());
    const Tensor x = torch::randn({8, 5}, options);
    const Tensor alpha = torch::full({}, 0.9, options);
    const Tensor beta = torch::full({}, 2.0, options);
    const Tensor w = torch::randn({8, 5}, options);
    const Outcome got = evaluate(fused, x, alpha, beta, w);
    const Outcome want = evaluate(reference, x, alpha, beta, w);
    EXPECT_EQ(got.y.scalar_type(), type);
    EXPECT_EQ(got.grad_alpha.scalar_type(), type);
    expect_close(got.y, want.y, 0, 0, "low precision y");
    expect_close(got.grad_x, want.grad_x, 0, 0, "low precision grad_x");
  }
}

TEST_P(AReLUTest, ClearErrors) {
  const auto device = GetParam();
  for (const auto& [type, name] : {std::make_pair(torch::kLong, "Long"), std::make_pair(torch::kInt, "Int"),
                                   std::make_pair(torch::kBool, "Bool"), std::make_pair(torch::kByte, "Byte")}) {
    const auto options = torch::TensorOptions().dtype(type).device(device);
    expect_error([&] { arelu::arelu(torch::ones({3}, options), torch::ones({}, options), torch::ones({}, options)); },
                 {"Float, Double", name}, std::string("integer input ") + name);
  }
  const Tensor x = torch::randn({2, 4, 5}, f64());
  expect_error([&] { arelu::arelu(x, torch::full({}, 0.9, f32()), scalar(2.0)); }, {"alpha", "Double", "Float"},
               "alpha dtype");
  expect_error([&] { arelu::arelu(x, scalar(0.9), torch::full({}, 2.0, f32())); }, {"beta", "Double", "Float"},
               "beta dtype");
  expect_error([&] { arelu::arelu(x, torch::full({3}, 0.9, f64()), torch::full({3}, 2.0, f64())); },
               {"3 channels", "4 channels"}, "channel count");
  expect_error([&] { arelu::arelu(x, torch::full({4}, 0.9, f64()), scalar(2.0)); }, {"4", "1"},
               "alpha and beta sizes");
  expect_error([&] { arelu::arelu(torch::randn({4}, f64()), torch::full({4}, 0.9, f64()), torch::full({4}, 2.0, f64())); },
               {"4 channels", "no channel dimension"}, "1-D input, channel-wise parameters");
  if (device == torch::kCUDA) {
    expect_error([&] { arelu::arelu(x, torch::full({}, 0.9, torch::kDouble), scalar(2.0)); }, {"alpha", "cpu", "cuda"},
                 "alpha device");
  }
}

// Half takes the reference formula. Where libtorch's CPU operations lack Half (1.13 has no Half clamp), the error
// names arelu, the dtype and the device, in the module's forward and below autograd alike; where they have it,
// the values are the reference's.
TEST(AReLUHalfOnCpu, ReferenceValuesOrANamedError) {
  const auto half = torch::TensorOptions().dtype(torch::kHalf);
  const Tensor x = torch::randn({3, 4}).to(torch::kHalf);
  const Tensor alpha = torch::full({}, 0.9, half);
  const Tensor beta = torch::full({}, 2.0, half);
  const auto call = [&](bool below_autograd) {
    if (!below_autograd) return arelu::arelu(x, alpha, beta);
    c10::InferenceMode inference;
    return arelu::arelu(x, alpha, beta);
  };
  bool reference_runs = true;
  try {
    reference(x, alpha, beta);
  } catch (const c10::Error&) {
    reference_runs = false;
  }
  for (const bool below : {false, true}) {
    const std::string what = below ? "CPU Half below autograd" : "CPU Half";
    if (reference_runs) {
      EXPECT_TRUE(call(below).equal(reference(x, alpha, beta))) << what;
    } else {
      expect_error([&] { call(below); }, {"arelu", "Half", "cpu", "Float or Double"}, what);
    }
  }
}

// create_graph: second derivatives through the fused function equal those through the reference (its
// backward then differentiates the reference formula), for x, alpha and beta, scalar and channel-wise.
TEST_P(AReLULayoutTest, SecondOrderGradientsMatchReference) {
  const int64_t channels = channelwise() ? 3 : 1;
  const Tensor x0 = torch::randn({4, 3, 5}, f64()) * 2;
  const Tensor w = torch::randn({4, 3, 5}, f64());
  const Tensor a0 = channels == 1 ? torch::full({1}, 0.3, f64()) : torch::tensor({0.3, 0.005, 0.9}, f64());
  const Tensor b0 = channels == 1 ? torch::full({1}, 0.8, f64()) : torch::tensor({0.8, -1.0, 2.0}, f64());
  std::vector<Tensor> second[2];
  for (int k = 0; k < 2; ++k) {
    const Tensor x = x0.clone().requires_grad_(true);
    const Tensor a = a0.clone().requires_grad_(true);
    const Tensor b = b0.clone().requires_grad_(true);
    const Tensor y = k == 0 ? arelu::arelu(x, a, b) : reference(x, a, b);
    const Tensor loss = (y * y * w).sum();
    const auto first = torch::autograd::grad({loss}, {x, a, b}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    const Tensor penalty = first[0].pow(2).sum() + first[1].sum() + (first[2] * first[2]).sum();
    second[k] = torch::autograd::grad({penalty}, {x, a, b});
  }
  for (size_t i = 0; i < 3; ++i) {
    expect_close(second[0][i], second[1][i], 1e-12, 1e-12, "second-order gradient " + std::to_string(i) +
                 " with " + std::to_string(channels) + " channel(s)");
  }
}

// Under create_graph the fused backward differentiates the reference formula with grad, which sums every path to
// what it is asked about: where alpha or beta also lies upstream of x (the same AReLU twice in a row, x computed
// from alpha or beta, alpha computed from x), the path through x was counted there and again by the engine, and one
// tensor given in two places got both places' gradients twice. First and second derivatives with respect to every
// leaf, against the reference.
TEST_P(AReLULayoutTest, CreateGraphWithTheParametersUpstreamOfTheInputMatchesReference) {
  const bool cw = channelwise();
  const Tensor z0 = torch::randn({4, 3}, f64());
  const Tensor w = torch::randn({4, 3}, f64());
  const Tensor a0 = cw ? torch::tensor({0.3, 0.6, 0.95}, f64()) : torch::full({1}, 0.3, f64());
  const Tensor b0 = cw ? torch::tensor({0.8, -0.5, 2.0}, f64()) : torch::full({1}, 0.8, f64());
  const std::string wirings[] = {"the same AReLU twice", "x = alpha * z", "x = z + beta",
                                 "alpha = a * (1 + mean(x) / 10)", "beta = alpha (one tensor in two places)"};
  for (const std::string& wiring : wirings) {
    std::vector<Tensor> results[2];
    for (int k = 0; k < 2; ++k) {
      const auto f = [k](const Tensor& x, const Tensor& a, const Tensor& b) {
        return k == 0 ? arelu::arelu(x, a, b) : reference(x, a, b);
      };
      const Tensor z = z0.clone().requires_grad_(true);
      const Tensor a = a0.clone().requires_grad_(true);
      const Tensor b = b0.clone().requires_grad_(true);
      const Tensor y = wiring == wirings[0]   ? f(f(z, a, b), a, b)
                       : wiring == wirings[1] ? f(z * a, a, b)
                       : wiring == wirings[2] ? f(z + b, a, b)
                       : wiring == wirings[3] ? f(z, a * (1 + z.mean() / 10), b)
                                              : f(z * b, a, a);
      const Tensor loss = (y * y * w).sum();
      const auto first = torch::autograd::grad({loss}, {z, a, b}, {}, /*retain_graph=*/true, /*create_graph=*/true);
      const Tensor penalty = first[0].pow(2).sum() + first[1].pow(2).sum() + (first[2] * first[2]).sum();
      const auto second = torch::autograd::grad({penalty}, {z, a, b});
      results[k] = {first[0], first[1], first[2], second[0], second[1], second[2]};
    }
    for (size_t i = 0; i < 6; ++i) {
      expect_close(results[0][i], results[1][i], 1e-12, 1e-12,
                   std::string(cw ? "channel-wise, " : "scalar, ") + wiring + ": " + (i < 3 ? "first" : "second") +
                       " derivative " + std::to_string(i % 3));
    }
  }
}

// An input that is the result of an operation, detached in place after forward, has lost the graph it was
// computed from: under create_graph, the parameter gradients came back without their derivatives through x
// (d(dL/dbeta)/dw undefined where the reference gives [0, 0.44, 0.44]). Refused, as newer libtorch refuses such
// saved tensors in its own nodes.
TEST_P(AReLUTest, AnInputDetachedInPlaceAfterForwardIsRefused) {
  const Tensor w = torch::tensor({-1.5, 0.5, 2.0}, f64()).reshape({1, 3}).requires_grad_(true);
  const Tensor a = torch::full({1}, 0.3, f64()).requires_grad_(true);
  const Tensor b = torch::full({1}, 0.7, f64()).requires_grad_(true);
  Tensor x = w * 2;
  const Tensor y = arelu::arelu(x, a, b);
  x.detach_();
  EXPECT_THROW(
      {
        const auto g = torch::autograd::grad({y.sum()}, {b}, {}, /*retain_graph=*/true, /*create_graph=*/true);
        torch::autograd::grad({g[0].sum()}, {w}, {}, /*retain_graph=*/true, /*create_graph=*/false,
                              /*allow_unused=*/true);
      },
      c10::Error);
  // Without create_graph, backward reads x's values only: the gradients are the reference's.
  const Tensor w2 = w.detach().clone().requires_grad_(true);
  Tensor x2 = w2 * 2;
  const Tensor y2 = arelu::arelu(x2, a, b);
  x2.detach_();
  y2.sum().backward();
  const Tensor w3 = w.detach().clone().requires_grad_(true);
  reference(w3 * 2, a.detach().requires_grad_(true), b.detach().requires_grad_(true)).sum().backward();
  expect_close(w2.grad(), w3.grad(), 1e-14, 1e-15, "dw after x.detach_() without create_graph");
}

// set_data replaces a saved input's data, shape and dtype without a version bump: the kernels read the new x's
// number of elements of the output's gradient, past its end (garbage parameter gradients, no error). Refused, for
// more elements, as many in another shape, and another dtype, with and without create_graph.
TEST_P(AReLUTest, ASavedInputWhoseDataWasReplacedIsRefused) {
  const Tensor replacements[] = {torch::ones({64, 65}, f64()), torch::ones({4096}, f64()),
                                 torch::ones({64, 64}, f64().dtype(torch::kFloat))};
  for (const Tensor& replacement : replacements) {
    for (const bool create_graph : {false, true}) {
      Tensor x = torch::randn({64, 64}, f64());
      const Tensor a = torch::full({1}, 0.3, f64()).requires_grad_(true);
      const Tensor b = torch::full({1}, 0.2, f64()).requires_grad_(true);
      const Tensor y = arelu::arelu(x, a, b);
      x.set_data(replacement);
      EXPECT_THROW(torch::autograd::grad({y.sum()}, {a, b}, {}, /*retain_graph=*/true, create_graph), c10::Error)
          << replacement.sizes() << " " << replacement.scalar_type() << " create_graph " << create_graph;
    }
  }
}

// The same for one-element parameters replaced by set_data with one per channel: backward took the form from the
// live alpha and the scales and sums from forward's one-element copy, and the channel-wise kernel wrote x.size(1)
// sums into one-element tensors (munmap_chunk(): invalid pointer, or SIGSEGV). Refused, naming set_data.
TEST_P(AReLUTest, ASavedParameterWhoseDataWasReplacedIsRefused) {
  for (const bool create_graph : {false, true}) {
    const Tensor x = torch::randn({8, 64}, f64());
    const Tensor a = torch::full({1}, 0.3, f64()).requires_grad_(true);
    const Tensor b = torch::full({1}, 0.2, f64()).requires_grad_(true);
    const Tensor y = arelu::arelu(x, a, b);
    a.set_data(torch::full({64}, 0.3, f64()));
    b.set_data(torch::full({64}, 0.2, f64()));
    EXPECT_THROW(torch::autograd::grad({y.sum()}, {a, b}, {}, /*retain_graph=*/true, create_graph), c10::Error)
        << "create_graph " << create_graph;
  }
}

// A NaN in x or in a parameter made the unchanged input look stepped (NaN never equals itself), and the gradients
// under create_graph came back +0 where the reference gives -0. Compared bit for bit, signs of zeros included.
TEST_P(AReLUTest, CreateGraphKeepsSignedZerosWithNaNsInTheInputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const bool channelwise : {false, true}) {
    std::vector<Tensor> got[2];
    for (int k = 0; k < 2; ++k) {
      const Tensor x = (channelwise ? torch::tensor({1.0, 1.0, 2.0, -2.0}, f64()).reshape({1, 2, 2})
                                    : torch::tensor({1.0, nan, -2.0, 0.0}, f64()))
                           .requires_grad_(true);
      const Tensor a = (channelwise ? torch::tensor({0.5, nan}, f64()) : torch::full({1}, 0.5, f64())).requires_grad_(true);
      const Tensor b = (channelwise ? torch::tensor({100.0, 0.5}, f64()) : torch::full({1}, 0.5, f64())).requires_grad_(true);
      const Tensor y = k == 0 ? arelu::arelu(x, a, b) : reference(x, a, b);
      got[k] = torch::autograd::grad({y}, {x, a, b}, {torch::full_like(y, -0.0)}, /*retain_graph=*/true,
                                     /*create_graph=*/true);
    }
    for (size_t i = 0; i < 3; ++i) {
      // Bit for bit but for NaN payloads (the kernels' NaN is the canonical one).
      const Tensor fused = host(got[0][i]);
      const Tensor expected = host(got[1][i]);
      const Tensor nan_in_both = fused.isnan() & expected.isnan();
      EXPECT_TRUE(torch::equal(fused.view(torch::kLong).masked_fill(nan_in_both, 0),
                               expected.view(torch::kLong).masked_fill(nan_in_both, 0)))
          << (channelwise ? "channel-wise" : "scalar") << " gradient " << i << ": fused " << host(got[0][i])
          << ", reference " << host(got[1][i]);
    }
  }
}

// Forward-mode AD (dual tensors): the output's tangent equals the reference's, whichever inputs carry a tangent
// and whether or not they also require grad; the fused function has no jvp, so these calls take the reference.
TEST_P(AReLULayoutTest, ForwardModeTangentsMatchReference) {
  const int64_t channels = channelwise() ? 3 : 1;
  const Tensor x0 = torch::randn({4, 3, 5}, f64()) * 2;
  const Tensor a0 = channels == 1 ? torch::full({1}, 0.3, f64()) : torch::tensor({0.3, 0.005, 0.9}, f64());
  const Tensor b0 = channels == 1 ? torch::full({1}, 0.8, f64()) : torch::tensor({0.8, -1.0, 2.0}, f64());
  const Tensor primals[3] = {x0, a0, b0};
  const Tensor directions[3] = {torch::randn_like(x0), torch::randn_like(a0), torch::randn_like(b0)};
  for (const bool requires_grad : {false, true}) {
    for (int dual_mask = 1; dual_mask < 8; ++dual_mask) {
      const std::string what = std::string("tangents of") + ((dual_mask & 1) ? " x" : "") +
                               ((dual_mask & 2) ? " alpha" : "") + ((dual_mask & 4) ? " beta" : "") +
                               (requires_grad ? ", inputs requiring grad" : "");
      Tensor tangents[2];
      for (int k = 0; k < 2; ++k) {
        const uint64_t level = torch::autograd::ForwardADLevel::get_next_idx();
        std::vector<Tensor> inputs;
        for (int i = 0; i < 3; ++i) {
          Tensor t = primals[i].clone().requires_grad_(requires_grad);
          inputs.push_back((dual_mask & (1 << i)) ? at::_make_dual(t, directions[i], level) : t);
        }
        const Tensor y = k == 0 ? arelu::arelu(inputs[0], inputs[1], inputs[2])
                                : reference(inputs[0], inputs[1], inputs[2]);
        tangents[k] = std::get<1>(at::_unpack_dual(y, level));
        torch::autograd::ForwardADLevel::release_idx(level);
      }
      ASSERT_TRUE(tangents[0].defined()) << what << ": the output has no tangent";
      expect_close(tangents[0], tangents[1], 1e-12, 1e-12, what);
    }
  }
}

// Forward-over-reverse (Hessian-vector products): backward with an output gradient that carries a tangent gives
// the reference's gradients and their tangents, with and without create_graph.
TEST_P(AReLULayoutTest, ForwardOverReverseTangentsMatchReference) {
  const int64_t channels = channelwise() ? 3 : 1;
  const Tensor x0 = torch::randn({4, 3, 5}, f64()) * 2;
  const Tensor a0 = channels == 1 ? torch::full({1}, 0.3, f64()) : torch::tensor({0.3, 0.005, 0.9}, f64());
  const Tensor b0 = channels == 1 ? torch::full({1}, 0.8, f64()) : torch::tensor({0.8, -1.0, 2.0}, f64());
  const Tensor v = torch::randn_like(x0);
  const Tensor tv = torch::randn_like(x0);
  for (const bool create_graph : {false, true}) {
    std::vector<Tensor> got[2];
    for (int k = 0; k < 2; ++k) {
      const uint64_t level = torch::autograd::ForwardADLevel::get_next_idx();
      const Tensor x = x0.clone().requires_grad_(true);
      const Tensor a = a0.clone().requires_grad_(true);
      const Tensor b = b0.clone().requires_grad_(true);
      const Tensor y = k == 0 ? arelu::arelu(x, a, b) : reference(x, a, b);
      const auto grads = torch::autograd::grad({y}, {x, a, b}, {at::_make_dual(v, tv, level)},
                                               /*retain_graph=*/create_graph, create_graph);
      for (const Tensor& g : grads) {
        got[k].push_back(g.detach().clone());
        got[k].push_back(std::get<1>(at::_unpack_dual(g, level)));
      }
      torch::autograd::ForwardADLevel::release_idx(level);
    }
    for (size_t i = 0; i < got[0].size(); ++i) {
      const std::string what = std::string(create_graph ? "create_graph, " : "") + (i % 2 ? "tangent of " : "") +
                               "gradient " + std::to_string(i / 2);
      ASSERT_TRUE(got[0][i].defined()) << what << " is undefined";
      expect_close(got[0][i], got[1][i], 1e-12, 1e-12, what);
    }
  }
}

TEST_P(AReLUTest, DispatcherOperator) {
  const auto& op = arelu_op();
  const Fn via_dispatcher = [&op](const Tensor& x, const Tensor& a, const Tensor& b) { return op.call(x, a, b); };
  const Tensor x = torch::randn({6, 7}, f64());
  const Tensor w = torch::randn({6, 7}, f64());
  const Outcome got = evaluate(via_dispatcher, x, scalar(0.3), scalar(1.0), w);
  const Outcome want = evaluate(reference, x, scalar(0.3), scalar(1.0), w);
  expect_close(got.y, want.y, 1e-12, 0, "operator y");
  expect_close(got.grad_x, want.grad_x, 1e-12, 0, "operator grad_x");
  expect_close(got.grad_alpha, want.grad_alpha, 1e-12, sum_tolerance(w, x, 1e-12), "operator grad_alpha");
  expect_close(got.grad_beta, want.grad_beta, 1e-12, sum_tolerance(w, x, 1e-12), "operator grad_beta");
}

TEST_P(AReLUTest, ModuleParametersAndOptions) {
  arelu::AReLU act;
  const auto params = act->named_parameters();
  ASSERT_TRUE(params.contains("alpha"));
  ASSERT_TRUE(params.contains("beta"));
  EXPECT_EQ(params.size(), 2u);
  EXPECT_DOUBLE_EQ(act->alpha.item<double>(), static_cast<float>(0.90));
  EXPECT_DOUBLE_EQ(act->beta.item<double>(), 2.0);

  arelu::AReLU channels(arelu::AReLUOptions(4).alpha(0.5).beta(1.0));
  channels->to(GetParam(), torch::kDouble);
  EXPECT_EQ(channels->alpha.sizes(), torch::IntArrayRef({4}));
  EXPECT_EQ(channels->alpha.scalar_type(), torch::kDouble);
  const Tensor x = torch::randn({2, 4, 3}, f64());
  expect_close(channels(x), reference(x, channels->alpha, channels->beta), 1e-12, 0, "channel-wise module");

  const auto copy = std::dynamic_pointer_cast<arelu::AReLUImpl>(channels->clone());
  ASSERT_TRUE(copy);
  torch::NoGradGuard no_grad;
  copy->alpha.fill_(0.25);
  EXPECT_EQ(channels->alpha[0].item<double>(), 0.5) << "clone shares parameters";
  std::ostringstream printed;
  printed << *channels;
  EXPECT_NE(printed.str().find("num_parameters=4"), std::string::npos) << printed.str();
}

// A floating-point argument is no channel count: AReLU(2.0) meant a value and would have built two channels.
static_assert(std::is_constructible_v<arelu::AReLUOptions, int>);
static_assert(std::is_constructible_v<arelu::AReLUOptions, int64_t>);
static_assert(!std::is_constructible_v<arelu::AReLUOptions, double>);
static_assert(!std::is_constructible_v<arelu::AReLUOptions, float>);
static_assert(!std::is_constructible_v<arelu::AReLUImpl, double>);

// Module::load points a parameter at the checkpoint's tensor whatever its dtype: a float64 checkpoint loaded into a
// float32 module read alpha 0.3 and beta -1.25 as 2 and 0, silently; one of another shape replaced the module's.
// AReLU's load refuses both, alone and inside a loaded network, and loads its own dtype and shape exactly.
TEST(AReLUModule, ACheckpointOfAnotherDtypeOrShapeIsRefused) {
  arelu::AReLU doubles(arelu::AReLUOptions().alpha(0.3).beta(-1.25));
  doubles->to(torch::kDouble);
  std::stringstream saved_doubles;
  torch::save(doubles, saved_doubles);
  arelu::AReLU floats;
  try {
    torch::load(floats, saved_doubles);
    FAIL() << "a float64 checkpoint loaded into a float32 AReLU";
  } catch (const c10::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("holds alpha as Double[1], this module's alpha is Float[1]"), std::string::npos)
        << message;
  }
  EXPECT_FLOAT_EQ(floats->alpha.item<float>(), static_cast<float>(arelu::kDefaultAlpha)) << "values kept";

  arelu::AReLU four(arelu::AReLUOptions(4));
  std::stringstream saved_four;
  torch::save(four, saved_four);
  arelu::AReLU one;
  EXPECT_THROW(torch::load(one, saved_four), c10::Error);
  EXPECT_EQ(one->alpha.sizes(), torch::IntArrayRef({1}));

  torch::nn::Sequential net_doubles(torch::nn::Linear(3, 2), arelu::AReLU());
  net_doubles->to(torch::kDouble);
  std::stringstream saved_net;
  torch::save(net_doubles, saved_net);
  torch::nn::Sequential net(torch::nn::Linear(3, 2), arelu::AReLU());
  try {
    torch::load(net, saved_net);
    FAIL() << "a float64 network checkpoint loaded into a float32 network";
  } catch (const c10::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("holds alpha as Double[1], this module's alpha is Float[1]"), std::string::npos)
        << message;
  }
  // A network's own checkpoint loads its AReLU child, found in the nested archive.
  torch::nn::Sequential net_saved(torch::nn::Linear(3, 2), arelu::AReLU(arelu::AReLUOptions().alpha(0.3)));
  std::stringstream saved_same;
  torch::save(net_saved, saved_same);
  torch::load(net, saved_same);
  EXPECT_FLOAT_EQ(net->ptr<arelu::AReLUImpl>(1)->alpha.item<float>(), 0.3f);

  floats->to(torch::kDouble);
  saved_doubles.seekg(0);
  torch::load(floats, saved_doubles);
  EXPECT_EQ(floats->alpha.item<double>(), static_cast<double>(static_cast<float>(0.3)));
  EXPECT_EQ(floats->beta.item<double>(), -1.25);
}

// Module::load would replace alpha before failing on a missing beta: refused first, the module left as it was.
TEST(AReLUModule, ACheckpointWithoutBetaIsRefusedBeforeAlphaIsLoaded) {
  torch::serialize::OutputArchive alpha_only;
  alpha_only.write("alpha", torch::full({1}, 0.125));
  std::stringstream saved;
  alpha_only.save_to(saved);
  torch::serialize::InputArchive archive;
  archive.load_from(saved);
  arelu::AReLU module;
  try {
    module->load(archive);
    FAIL() << "a checkpoint without beta was loaded";
  } catch (const c10::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("the checkpoint has no tensor beta"), std::string::npos) << message;
  }
  EXPECT_FLOAT_EQ(module->alpha.item<float>(), static_cast<float>(arelu::kDefaultAlpha)) << "alpha replaced";
}

TEST_P(AReLUTest, TinyNetworkTrains) {
  torch::nn::Sequential net(torch::nn::Linear(6, 16), arelu::AReLU(), torch::nn::Linear(16, 1));
  net->to(GetParam());
  const Tensor inputs = torch::randn({64, 6}, f32());
  const Tensor targets = torch::sin(inputs.sum(1, /*keepdim=*/true));
  auto act = net->ptr<arelu::AReLUImpl>(1);
  const Tensor alpha0 = act->alpha.detach().clone();
  const Tensor beta0 = act->beta.detach().clone();
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05));
  double first = 0.0;
  double last = 0.0;
  for (int step = 0; step < 30; ++step) {
    sgd.zero_grad();
    const Tensor loss = torch::mse_loss(net->forward(inputs), targets);
    loss.backward();
    sgd.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.9 * first) << "first " << first << ", last " << last;
  EXPECT_GT((act->alpha - alpha0).abs().item<double>(), 1e-6) << "alpha did not move";
  EXPECT_GT((act->beta - beta0).abs().item<double>(), 1e-6) << "beta did not move";
}

// Two forwards, the first one's backward and an SGD step, then the second one's backward: libtorch's SGD writes
// the parameters without bumping their versions, so nothing refuses the second backward, and it must give the
// gradients of the parameters its forward used, as the reference's graph (which keeps forward's scales) does.
TEST_P(AReLUTest, BackwardAfterAnOptimizerStepUsesItsForwardsParameters) {
  for (const bool channelwise : {false, true}) {
    const int64_t c = channelwise ? 3 : 1;
    const Tensor alpha = torch::full({c}, 0.9, f64()).requires_grad_(true);
    const Tensor beta = torch::full({c}, 2.0, f64()).requires_grad_(true);
    const Tensor alpha_ref = alpha.detach().clone().requires_grad_(true);
    const Tensor beta_ref = beta.detach().clone().requires_grad_(true);
    const Tensor x1 = torch::randn({4, 3, 5}, f64());
    const Tensor x2 = torch::randn({4, 3, 5}, f64()).requires_grad_(true);
    const Tensor x2_ref = x2.detach().clone().requires_grad_(true);
    const Tensor g = torch::randn({4, 3, 5}, f64());
    torch::optim::SGD sgd({alpha, beta}, torch::optim::SGDOptions(0.5));
    const Tensor y1 = arelu::arelu(x1, alpha, beta);
    const Tensor y2 = arelu::arelu(x2, alpha, beta);
    y1.sum().backward();
    sgd.step();
    ASSERT_FALSE(torch::equal(alpha.detach(), alpha_ref.detach())) << "the step moved alpha";
    sgd.zero_grad();
    y2.backward(g);
    reference(x2_ref, alpha_ref, beta_ref).backward(g);
    const std::string what = channelwise ? "channel-wise" : "scalar";
    EXPECT_TRUE(torch::allclose(x2.grad(), x2_ref.grad(), 1e-12, 1e-12)) << what << ": grad x";
    EXPECT_TRUE(torch::allclose(alpha.grad(), alpha_ref.grad(), 1e-12, 1e-12)) << what << ": grad alpha";
    EXPECT_TRUE(torch::allclose(beta.grad(), beta_ref.grad(), 1e-12, 1e-12)) << what << ": grad beta";
  }
}

// The same for x where it is a parameter (or a view or detached alias of one) that a step moves between forward
// and backward: the reference saved relu(x) and relu(-x), so its gradients are those of forward's x.
TEST_P(AReLUTest, BackwardAfterAnOptimizerStepOfTheInputUsesForwardsInput) {
  for (const char* input : {"leaf", "view", "detached"}) {
    for (const bool channelwise : {false, true}) {
      const int64_t c = channelwise ? 3 : 1;
      const std::string what = std::string(input) + (channelwise ? " channel-wise" : " scalar");
      Tensor got[2][3];
      for (int k = 0; k < 2; ++k) {
        torch::manual_seed(5);
        const Tensor p = torch::randn({4, 3, 5}, f64()).requires_grad_(true);
        const Tensor g = torch::randn({4, 3, 5}, f64());
        const Tensor alpha = torch::full({c}, 0.5, f64()).requires_grad_(true);
        const Tensor beta = torch::full({c}, 1.0, f64()).requires_grad_(true);
        const std::string kind = input;
        const Tensor x = kind == "leaf" ? p : kind == "view" ? p.narrow(2, 1, 3) : p.detach();
        const Tensor y = k == 0 ? arelu::arelu(x, alpha, beta) : reference(x, alpha, beta);
        const Tensor loss = (y * g.narrow(2, 0, x.size(2))).sum();
        p.mutable_grad() = torch::ones_like(p);
        torch::optim::SGD({p}, torch::optim::SGDOptions(1.0)).step();
        p.mutable_grad() = Tensor();
        loss.backward();
        got[k][0] = alpha.grad();
        got[k][1] = beta.grad();
        got[k][2] = p.grad();
      }
      EXPECT_TRUE(torch::allclose(got[0][0], got[1][0], 1e-12, 1e-12)) << what << ": grad alpha";
      EXPECT_TRUE(torch::allclose(got[0][1], got[1][1], 1e-12, 1e-12)) << what << ": grad beta";
      if (got[1][2].defined()) {
        EXPECT_TRUE(torch::allclose(got[0][2], got[1][2], 1e-12, 1e-12)) << what << ": grad x";
      }
    }
  }
}

// And under create_graph, with alpha and beta stepped: first and second derivatives at forward's values.
TEST_P(AReLUTest, CreateGraphAfterAStepOfTheParametersDifferentiatesAtForwardsValues) {
  for (const bool channelwise : {false, true}) {
    const int64_t c = channelwise ? 3 : 1;
    std::vector<Tensor> got[2];
    for (int k = 0; k < 2; ++k) {
      torch::manual_seed(6);
      const Tensor x = (torch::randn({5, 3}, f64()) * 2).requires_grad_(true);
      const Tensor w = torch::randn({5, 3}, f64());
      const Tensor alpha = torch::full({c}, 0.5, f64()).requires_grad_(true);
      const Tensor beta = torch::full({c}, 1.0, f64()).requires_grad_(true);
      const Tensor y = k == 0 ? arelu::arelu(x, alpha, beta) : reference(x, alpha, beta);
      const Tensor loss = (y * y * w).sum();
      alpha.mutable_grad() = torch::ones_like(alpha);
      beta.mutable_grad() = torch::ones_like(beta);
      torch::optim::SGD({alpha, beta}, torch::optim::SGDOptions(0.1)).step();
      alpha.mutable_grad() = Tensor();
      beta.mutable_grad() = Tensor();
      const auto first = torch::autograd::grad({loss}, {x, alpha, beta}, {}, true, true);
      const Tensor penalty = first[0].pow(2).sum() + first[1].sum() + (first[2] * first[2]).sum();
      const auto second = torch::autograd::grad({penalty}, {x, alpha, beta});
      got[k] = {first[0], first[1], first[2], second[0], second[1], second[2]};
    }
    for (size_t i = 0; i < got[0].size(); ++i) {
      EXPECT_TRUE(torch::allclose(got[0][i], got[1][i], 1e-12, 1e-12))
          << (channelwise ? "channel-wise" : "scalar") << " gradient " << i;
    }
  }
}

// Under create_graph, unchanged NaN and infinite elements of a copied (leaf) input keep their gradients: the
// comparison with forward's copy is element by element, NaN counting as unchanged NaN.
TEST_P(AReLUTest, CreateGraphKeepsTheGradientOfUnchangedNonFiniteInputs) {
  std::vector<Tensor> got;
  for (int k = 0; k < 2; ++k) {
    const Tensor x = torch::tensor({kNaN, kInf, -kInf, 1.5, -2.0, -0.0, 0.25}, f64()).requires_grad_(true);
    const Tensor alpha = torch::full({1}, 0.5, f64()).requires_grad_(true);
    const Tensor beta = torch::full({1}, 1.0, f64()).requires_grad_(true);
    const Tensor y = k == 0 ? arelu::arelu(x, alpha, beta) : reference(x, alpha, beta);
    got.push_back(torch::autograd::grad({(y * y).sum()}, {x}, {}, true, true)[0]);
  }
  expect_close(got[0], got[1], 1e-12, 0.0, "create_graph gradient of x with NaN and infinities");
}

TEST_P(AReLUTest, FusedCudaKernelsWhenRequired) {
  // A GPU build that silently fell back to the reference composition fails here.
  if (GetParam() != torch::kCUDA || std::getenv("ARELU_REQUIRE_FUSED_CUDA") == nullptr) {
    GTEST_SKIP() << "fused CUDA kernels not required";
  }
  EXPECT_TRUE(arelu::fused_cuda_available());
}

INSTANTIATE_TEST_SUITE_P(Devices, AReLUTest, ::testing::Values(torch::kCPU, torch::kCUDA),
                         [](const ::testing::TestParamInfo<torch::DeviceType>& info) {
                           return info.param == torch::kCUDA ? std::string("CUDA") : std::string("CPU");
                         });

INSTANTIATE_TEST_SUITE_P(DevicesAndLayouts, AReLULayoutTest,
                         ::testing::Combine(::testing::Values(torch::kCPU, torch::kCUDA), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<torch::DeviceType, bool>>& info) {
                           return std::string(std::get<0>(info.param) == torch::kCUDA ? "CUDA" : "CPU") +
                                  (std::get<1>(info.param) ? "_channelwise" : "_scalar");
                         });

// The dispatcher's op checks (torch.library.opcheck in Python; libtorch 1.13's C++ API has none), written
// here for arelu::arelu on the CPU: its kernels per dispatch key, the Meta kernel against the real output,
// the schema's promise (no input mutated, a new output), and autograd registered, for each kind of call.
struct OpCase {
  const char* name;
  std::vector<int64_t> shape;
  int64_t channels;  // 1: scalar parameters
  torch::Dtype dtype;
};

class DispatcherOpCheck : public ::testing::TestWithParam<OpCase> {
 protected:
  static const c10::TypedOperatorHandle<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op() {
    return arelu_op();
  }
  Tensor x() const { return torch::randn(GetParam().shape, torch::kDouble).to(GetParam().dtype); }
  Tensor alpha() const { return parameter(0.3, 0.7); }
  Tensor beta() const { return parameter(-0.5, 1.5); }

 private:
  // One element, or `channels` values from `first` to `last`.
  Tensor parameter(double first, double last) const {
    const int64_t c = GetParam().channels;
    const Tensor t = c == 1 ? torch::full({1}, first, torch::kDouble) : torch::linspace(first, last, c, torch::kDouble);
    return t.to(GetParam().dtype);
  }
};

TEST(DispatcherRegistration, KernelsPerDispatchKey) {
  const auto& op = arelu_op();
  EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CPU));
  EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::Meta));
  EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::Autograd));
  // Not one composite kernel with a device switch any more; the reference composition for other backends.
  EXPECT_FALSE(op.hasKernelForDispatchKey(c10::DispatchKey::CompositeImplicitAutograd));
  EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutograd));
  if (arelu::fused_cuda_available()) {
    EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CUDA));
  }
}

// Meta tensors give the real call's shape and dtype, below autograd (the Meta kernel) and through it.
TEST_P(DispatcherOpCheck, MetaKernelMatchesTheRealOutput) {
  // The input as made, with its first and last dimensions swapped (dense, not contiguous: the output keeps that
  // layout), and with a gap (every other element of the last dimension: the output is contiguous).
  const Tensor made = x();
  std::vector<std::pair<const char*, Tensor>> inputs = {{"as made", made}};
  if (made.dim() >= 2) inputs.emplace_back("transposed", made.transpose(0, made.dim() - 1));
  inputs.emplace_back("with a gap", made.slice(made.dim() - 1, 0, made.size(made.dim() - 1), 2));
  const auto meta = [](const Tensor& t) {
    // to(kMeta) would make a contiguous copy: the same sizes and strides, on the meta device.
    return at::empty_strided(t.sizes(), t.strides(), t.options().device(torch::kMeta));
  };
  for (const auto& [name, input] : inputs) {
    const Tensor real = op().call(input, alpha(), beta());
    Tensor below, through;
    {
      c10::InferenceMode inference;
      below = op().call(meta(input), meta(alpha()), meta(beta()));
    }
    through = op().call(meta(input), meta(alpha()), meta(beta()));
    for (const Tensor& m : {below, through}) {
      EXPECT_TRUE(m.is_meta()) << name;
      EXPECT_EQ(m.sizes(), real.sizes()) << name;
      EXPECT_EQ(m.strides(), real.strides()) << name;
      EXPECT_EQ(m.scalar_type(), real.scalar_type()) << name;
    }
  }
}

// The schema promises new output and untouched inputs: no input is written, the output aliases none.
TEST_P(DispatcherOpCheck, NoInputMutatedAndNoAliasing) {
  const Tensor xs = x(), as = alpha(), bs = beta();
  const Tensor x0 = xs.clone(), a0 = as.clone(), b0 = bs.clone();
  const Tensor y = op().call(xs, as, bs);
  EXPECT_TRUE(xs.equal(x0) && as.equal(a0) && bs.equal(b0));
  if (y.numel() > 0) {
    EXPECT_FALSE(y.is_alias_of(xs) || y.is_alias_of(as) || y.is_alias_of(bs));
  }
}

// Autograd is registered (a grad_fn for inputs that require grad) and the backend kernel reached below it, in
// inference mode, gives the same values.
TEST_P(DispatcherOpCheck, AutogradRegisteredAndBackendKernelAgrees) {
  const Tensor xs = x().requires_grad_(true);
  const Tensor y = op().call(xs, alpha(), beta());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_NE(y.grad_fn(), nullptr);
  Tensor below;
  {
    c10::InferenceMode inference;
    below = op().call(xs.detach(), alpha(), beta());
  }
  EXPECT_TRUE(below.equal(y.detach()));
}

// The Meta kernel checks as the others do: a channel count that does not match fails on meta tensors too.
TEST(DispatcherMeta, WrongChannelCountFailsOnMeta) {
  const auto& op = arelu_op();
  const auto meta = torch::TensorOptions().dtype(torch::kFloat).device(torch::kMeta);
  c10::InferenceMode inference;
  expect_error([&] { op.call(torch::empty({2, 4, 5}, meta), torch::empty({3}, meta), torch::empty({3}, meta)); },
               {"3 channels", "4 channels"}, "meta channel count");
}

INSTANTIATE_TEST_SUITE_P(Calls, DispatcherOpCheck,
                         ::testing::Values(OpCase{"ScalarFloat", {4, 3, 5}, 1, torch::kFloat},
                                           OpCase{"ChannelwiseDouble", {2, 3, 4}, 3, torch::kDouble},
                                           // The reference path (libtorch 1.13 lacks Half clamp on the CPU).
                                           OpCase{"ScalarBFloat16", {6}, 1, torch::kBFloat16},
                                           OpCase{"Empty", {0, 3}, 1, torch::kFloat}),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return std::string(info.param.name); });

}  // namespace
