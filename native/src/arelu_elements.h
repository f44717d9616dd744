// The element functions of AReLU and the checks every entry point shares, written once for the CPU
// kernels (host) and the CUDA kernels (device). The semantics are those of arelu.h; a change here changes
// both back ends, so their results cannot drift apart.
#pragma once

#include "arelu.h"

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define ARELU_ELEMENT __host__ __device__ __forceinline__
#else
#define ARELU_ELEMENT inline
#endif

namespace arelu::kernel {

// The two parameter sums of backward, per side, in double.
struct Sums {
  double neg;
  double pos;
};

// The NaN rule: the reference relu(x) * b - relu(-x) * a is NaN everywhere once a or b is NaN (0 * NaN
// included), which the selects of forward1 would not give at x == 0 nor on the other side of 0. Kernels
// test it once per scale pair and write NaN to the whole range it covers.
template <class T>
ARELU_ELEMENT bool scales_make_output_nan(T a, T b) {
  return a != a || b != b;
}

// y for one element with non-NaN scales. Both products first, then selects: the compiler turns this into
// blends (a conditional multiply would be kept as a branch, since it may raise a floating-point exception).
// x == 0 keeps its signed zero; NaN stays NaN through x * b. For x < 0 the reference computes
// 0 * b - (-x) * a, which is +0 where (-x) * a underflows, while x * a is -0 there: a zero product is selected
// as +0 (a select, not "+ 0", which nvcc and FMA targets may contract into a multiply-add that keeps -0).
template <class T>
ARELU_ELEMENT T forward1(T x, T a, T b) {
  const T xa = x * a;
  const T xb = x * b;
  const T neg = x < T(0) ? (xa == T(0) ? T(0) : xa) : x;
  return x > T(0) ? xb : neg;
}

// Input gradient and the two product terms of one element. ReLU's backward lets NaN through on both
// branches, so "neg" means x < 0 or NaN and "pos" means x > 0 or NaN; the gradient terms are selected
// (not multiplied by 0/1), so an infinite g at x == 0 gives 0 as the reference's threshold_backward does.
// The unselected terms are the zeros of the reference's backward: +0 from ReLU's backward on the positive side,
// -0 on the negative side (relu(-x)'s +0 passes through neg's backward), so that a zero gradient has the
// reference's sign (g = -0 at x > 0 gives -0).
// The product terms are the reference's g * relu(x) and g * -relu(-x) for every element: x's factor is
// selected (x or 0), then multiplied by g, so an infinite or NaN g on the other side of 0 (or at 0) makes
// the sum NaN as the reference's 0 * Inf and 0 * NaN do. A finite g adds a zero there, which changes no sum.
template <class T>
ARELU_ELEMENT T backward1(T g, T x, T a, T b, double& pn, double& pp) {
  const bool neg = !(x >= T(0));
  const bool pos = !(x <= T(0));
  const double gd = static_cast<double>(g);
  const double xd = static_cast<double>(x);
  const T gb = g * b;
  const T ga = g * a;
  pn = gd * (neg ? xd : 0.0);
  pp = gd * (pos ? xd : 0.0);
  return (pos ? gb : T(0)) + (neg ? ga : -T(0));
}

// exp in the element type, as libtorch's element-wise sigmoid calls std::exp: expf for float.
ARELU_ELEMENT float exp_in_type(float v) { return expf(v); }
ARELU_ELEMENT double exp_in_type(double v) { return exp(v); }

// The effective scales of one parameter pair, formed in the element type as libtorch forms them for the
// reference: a = clamp(alpha, ARELU_ALPHA_MIN, ARELU_ALPHA_MAX) (exact in any type; NaN passes, as torch.clamp
// lets it), b = 1 + sigmoid(beta) with libtorch's element-wise sigmoid, 1 / (1 + exp(-beta)) in T, then the
// addition in T. For a one-element beta that is libtorch's own sigmoid to the bit (its vectorized loop, which
// takes longer tensors, has an exp of its own: channel-wise scales may differ from it by an ulp). A sigmoid in
// double rounded to T would round twice, and differ from the reference by an ulp for one float beta in nine,
// the default beta = 2 among them.
template <class T>
ARELU_ELEMENT void scales1(T alpha, T beta, T& neg, T& pos) {
  const T lo = static_cast<T>(ARELU_ALPHA_MIN);
  const T hi = static_cast<T>(ARELU_ALPHA_MAX);
  neg = alpha < lo ? lo : (alpha > hi ? hi : alpha);
  pos = T(1) + T(1) / (T(1) + exp_in_type(-beta));
}

// The last step of the parameter gradients, from the backward sums of one scale pair (arelu.h):
// d a / d alpha is 1 inside [ARELU_ALPHA_MIN, ARELU_ALPHA_MAX], bounds included, compared in alpha's own type
// as torch.clamp does, and 0 outside and for NaN; selected, not multiplied, so a clamped alpha gets 0 even
// for a NaN or infinite sum. d b / d beta as the reference's sigmoid backward computes it, in the element type:
// the sum rounded to T, times (1 - s), times s, with s = sigmoid(beta) as forward's b has it (scales1). In
// float32, s rounds to 1 from beta = 17 on, where the reference's gradient is 0 (and NaN for an infinite sum);
// sigmoid' in double would give small non-zero values there and differ by 15 % at beta = 15. A NaN beta gives a
// NaN gradient.
template <class T>
ARELU_ELEMENT void parameter_gradients1(double neg_sum, double pos_sum, T alpha, T beta, T& grad_alpha,
                                        T& grad_beta) {
  const bool in_range = alpha >= static_cast<T>(ARELU_ALPHA_MIN) && alpha <= static_cast<T>(ARELU_ALPHA_MAX);
  grad_alpha = static_cast<T>(in_range ? neg_sum : 0.0);
  const T s = T(1) / (T(1) + exp_in_type(-beta));
  grad_beta = static_cast<T>(pos_sum) * (T(1) - s) * s;
}

// n = outer * channels * inner, or ARELU_ERR_BAD_SIZE for a negative size or an overflowing product.
inline int check_shape(int64_t outer, int64_t channels, int64_t inner, int64_t& n) {
  if (outer < 0 || channels < 0 || inner < 0) return ARELU_ERR_BAD_SIZE;
  int64_t oc;
  if (__builtin_mul_overflow(outer, channels, &oc) || __builtin_mul_overflow(oc, inner, &n)) {
    return ARELU_ERR_BAD_SIZE;
  }
  return ARELU_OK;
}

// The argument checks of arelu_*scales_*.
template <class T>
int check_scales(const T* alpha, const T* beta, const T* neg, const T* pos, int64_t channels) {
  if (channels < 0) return ARELU_ERR_BAD_SIZE;
  if (channels > 0 && (alpha == nullptr || beta == nullptr || neg == nullptr || pos == nullptr)) {
    return ARELU_ERR_NULL_POINTER;
  }
  return ARELU_OK;
}

// The argument checks of arelu_*parameter_gradients_*.
template <class T>
int check_parameter_gradients(const double* neg_sum, const double* pos_sum, const T* alpha, const T* beta,
                              const T* grad_alpha, const T* grad_beta, int64_t channels) {
  if (channels < 0) return ARELU_ERR_BAD_SIZE;
  if (channels > 0 && (neg_sum == nullptr || pos_sum == nullptr || alpha == nullptr || beta == nullptr ||
                       grad_alpha == nullptr || grad_beta == nullptr)) {
    return ARELU_ERR_NULL_POINTER;
  }
  return ARELU_OK;
}

}  // namespace arelu::kernel
