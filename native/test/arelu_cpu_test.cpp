// CPU kernels against a plain double-precision loop of the semantics in arelu.h.
#include "arelu.h"
#include "arelu_typed.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// Hidden test hook in arelu_cpu_dispatch.cpp (not part of the C ABI): caps the ISA level (0 SSE2, 1 AVX2,
// 2 AVX-512; 2 restores the detected one) and returns the level this machine has; and how an ARELU_DISABLE_*
// value is read.
namespace arelu::detail {
int set_max_isa(int level);
int64_t set_lanes_in_cache(int64_t bytes);
bool flag_value_set(const char* value);
}

namespace {

constexpr double kA = 0.3;   // a = clamp(alpha, 0.01, 0.99)
constexpr double kB = 1.7;   // b = 1 + sigmoid(beta)
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

double ref_forward(double x, double a, double b) { return x > 0 ? x * b : (x < 0 ? 0.0 - (-x) * a : x); }

struct RefBackward {
  std::vector<double> gi;
  double neg = 0.0, pos = 0.0;
};

// The reference's input gradient of one element: ReLU's backward lets NaN through on both sides; the unselected
// zeros are +0 (positive side) and -0 (negative side).
double ref_grad(double g, double x, double a, double b) {
  const bool neg = x < 0 || std::isnan(x);
  const bool pos = x > 0 || std::isnan(x);
  return (pos ? g * b : 0.0) + (neg ? g * a : -0.0);
}

// The semantics of arelu.h with one element at a time, in index order.
RefBackward ref_backward(const std::vector<double>& g, const std::vector<double>& x, double a, double b) {
  RefBackward r;
  r.gi.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const bool neg = x[i] < 0 || std::isnan(x[i]);
    const bool pos = x[i] > 0 || std::isnan(x[i]);
    r.gi[i] = ref_grad(g[i], x[i], a, b);
    r.neg += g[i] * (neg ? x[i] : 0.0);
    r.pos += g[i] * (pos ? x[i] : 0.0);
  }
  return r;
}

// The reference's two sums alone (and the sum of the finite |terms|, for the tolerance), in index order with
// long double accumulators, so that on ten million terms and more the reference's own rounding stays far below
// the tolerance of expect_sum_near. No vectors of n doubles: the large sizes stay cheap.
struct RefSums {
  double neg = 0.0, pos = 0.0, abs_terms = 0.0;
};
template <class T>
RefSums ref_sums(const std::vector<T>& g, const std::vector<T>& x) {
  long double neg = 0.0L, pos = 0.0L, abs_terms = 0.0L;
  for (size_t i = 0; i < x.size(); ++i) {
    const double gd = g[i], xd = x[i];
    const bool is_neg = xd < 0 || std::isnan(xd);
    const bool is_pos = xd > 0 || std::isnan(xd);
    neg += gd * (is_neg ? xd : 0.0);
    pos += gd * (is_pos ? xd : 0.0);
    if (std::isfinite(gd * xd)) abs_terms += std::fabs(gd * xd);
  }
  return {static_cast<double>(neg), static_cast<double>(pos), static_cast<double>(abs_terms)};
}

// |sum - ref| within rounding of a sum of |terms| (summation order differs from the reference).
void expect_sum_near(double got, double want, double abs_terms) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << got;
    return;
  }
  if (std::isinf(want)) {
    EXPECT_EQ(got, want);
    return;
  }
  EXPECT_NEAR(got, want, 1e-13 * abs_terms + 1e-300);
}

bool same_value(double got, double want) { return (std::isnan(got) && std::isnan(want)) || got == want; }

// same_value, and a zero has the wanted sign (== takes -0 for +0).
bool same_value_and_sign(double got, double want) {
  return (std::isnan(got) && std::isnan(want)) || (got == want && std::signbit(got) == std::signbit(want));
}

bool bits_equal(double u, double v) { return std::memcmp(&u, &v, sizeof u) == 0; }

const std::vector<double> kEdges = {0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, kNaN, kInf, -kInf, 1.0, -1.0};

// Random data with the edge points scattered in (only when there is room).
std::vector<double> make_data(size_t n, uint32_t seed, bool with_edges) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 2.0);
  std::vector<double> v(n);
  for (auto& e : v) e = dist(rng);
  if (with_edges && n >= kEdges.size()) {
    for (size_t k = 0; k < kEdges.size(); ++k) v[(k * 7919 + seed) % n] = kEdges[k];
  }
  return v;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}
// From a temporary: double takes it over (no copy of the large sizes' data).
template <class T>
std::vector<T> cast(std::vector<double>&& v) {
  if constexpr (std::is_same_v<T, double>) {
    return std::move(v);
  } else {
    return std::vector<T>(v.begin(), v.end());
  }
}

// v with its NaN and infinities replaced by finite values of both signs; the other edge points (signed zeros,
// tiny and large values) stay. On data with a NaN or an infinity the sums are NaN (or infinite), and
// expect_sum_near then only checks that both are NaN: the sums' values are checked on this data.
template <class T>
std::vector<T> finite_only(std::vector<T> v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) v[i] = (i % 2 == 0) ? T(2.25) : T(-1.75);
  }
  return v;
}
template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <class T>
class AreluCpu : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AreluCpu, Types);

// One element of the input gradient against the reference's (in double): exact, signed zeros included, except
// where x is NaN and float rounds the non-zero g*b and g*a separately.
template <class T>
::testing::AssertionResult grad_element_matches(T got, double want_in_double, double x) {
  const double w = static_cast<double>(static_cast<T>(want_in_double));
  if (std::isnan(x) && std::isfinite(w) && w != 0) {
    if (std::fabs(got - w) <= 1e-6 * std::fabs(w)) return ::testing::AssertionSuccess();
  } else if (same_value_and_sign(got, w)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "got " << got << " want " << w << " (signbit " << std::signbit(got)
                                       << " want " << std::signbit(w) << ") at x=" << x;
}

// The input gradient against the reference's.
template <class T>
void expect_grad(const std::vector<T>& got, const RefBackward& want, const std::vector<double>& x) {
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(grad_element_matches(got[i], want.gi[i], x[i])) << "i=" << i;
  }
}

// The same, with the reference computed element by element (no vectors of n doubles).
template <class T>
void expect_grad_of(const std::vector<T>& got, const std::vector<T>& g, const std::vector<T>& x, T a, T b) {
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(grad_element_matches(got[i], ref_grad(g[i], x[i], a, b), x[i])) << "i=" << i;
  }
}

// Forward and backward against the reference loop, for one size and thread count. x holds the edge points
// (signed zeros, tiny and large values, NaN, infinities) from n = kEdges.size() on, so the element outputs are
// checked on them, and the sums there are NaN, which expect_sum_near can only check as "both NaN". So the
// backward runs a second time, on the same x with its NaN and infinities replaced by finite values (the zeros
// and the tiny and large values kept), where the sums must be finite and match the reference's values.
template <class T>
void check_scalar_matches_reference(int64_t n, int nt) {
  const T a = static_cast<T>(kA), b = static_cast<T>(kB);
  const std::vector<T> x = cast<T>(make_data(n, 1, true));
  const std::vector<T> g = cast<T>(make_data(n, 2, false));

  std::vector<T> out(n);
  ASSERT_EQ(arelu::abi::forward(x.data(), out.data(), n, a, b, nt), ARELU_OK);
  for (int64_t i = 0; i < n; ++i) {
    const double w = static_cast<double>(static_cast<T>(ref_forward(x[i], a, b)));
    ASSERT_TRUE(same_value_and_sign(out[i], w)) << i << ": " << x[i] << " -> " << out[i];
  }

  // The edge points: the input gradient, and the sums as the reference's (NaN from n = kEdges.size() on).
  double ns = -1, ps = -1;
  ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), out.data(), n, a, b, &ns, &ps, nt), ARELU_OK);
  expect_grad_of(out, g, x, a, b);
  const RefSums ref = ref_sums(g, x);
  expect_sum_near(ns, ref.neg, ref.abs_terms);
  expect_sum_near(ps, ref.pos, ref.abs_terms);

  // Finite data: the sums' values.
  const std::vector<T> xf = finite_only(x);
  ns = ps = -1;
  ASSERT_EQ(arelu::abi::backward(g.data(), xf.data(), out.data(), n, a, b, &ns, &ps, nt), ARELU_OK);
  expect_grad_of(out, g, xf, a, b);
  const RefSums fin = ref_sums(g, xf);
  ASSERT_TRUE(std::isfinite(fin.neg) && std::isfinite(fin.pos)) << fin.neg << " " << fin.pos;
  expect_sum_near(ns, fin.neg, fin.abs_terms);
  expect_sum_near(ps, fin.pos, fin.abs_terms);
}

// (size, thread count): sizes 0 to 10^7 (the size sweep of this project lives here, not in the JVM tests).
using SizeAndThreads = std::tuple<int64_t, int>;
class ScalarSizes : public ::testing::TestWithParam<SizeAndThreads> {};

TEST_P(ScalarSizes, Float32MatchesReference) {
  check_scalar_matches_reference<float>(std::get<0>(GetParam()), std::get<1>(GetParam()));
}
TEST_P(ScalarSizes, Float64MatchesReference) {
  check_scalar_matches_reference<double>(std::get<0>(GetParam()), std::get<1>(GetParam()));
}

std::string size_and_threads_name(const ::testing::TestParamInfo<SizeAndThreads>& info) {
  return "n" + std::to_string(std::get<0>(info.param)) + "_threads" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Small, ScalarSizes,
                         ::testing::Combine(::testing::Values<int64_t>(0, 1, 7, 31, 1000003), ::testing::Values(1, 2, 3)),
                         size_and_threads_name);
INSTANTIATE_TEST_SUITE_P(TenMillion, ScalarSizes, ::testing::Values(SizeAndThreads{10000019, 2}),
                         size_and_threads_name);

// Finite data in [-4, 4), one value in 256 a zero of either sign, from a cheap generator (splitmix64) that gives
// the same sequence again for the same seed.
template <class T>
class DataStream {
 public:
  explicit DataStream(uint64_t seed) : state_(seed) {}
  T next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    if ((z & 0xff) == 0) return (z & 0x100) ? -T(0) : T(0);
    return static_cast<T>((static_cast<double>(z >> 11) * 0x1p-53 - 0.5) * 8.0);
  }
  void fill(std::vector<T>& v) {
    for (T& e : v) e = next();
  }

 private:
  uint64_t state_;
};

// The scalar backward collects its chunk sums (32768 elements a chunk) 512 chunks at a time, one wave after the
// other (kChunk and kWave in arelu_cpu.cpp), which no size of ScalarSizes reaches: 2^24 + 200003 elements take a
// second wave of 7 chunks, the last one partial. Sums against the reference's values on finite data, in one
// thread and in two, without grad_in and in place (grad_in over grad_out); the input gradient too. Memory is what
// costs here (first touches of pages): two buffers of n elements, no more, and grad_out generated again for each
// run and for the check of the input gradient.
template <class T>
void check_sums_over_two_reduction_waves() {
  const int64_t n = int64_t{512} * 32768 + 200003;
  const uint64_t x_seed = 29, g_seed = 31;
  std::vector<T> x(n), g(n);
  DataStream<T>(x_seed).fill(x);
  DataStream<T>(g_seed).fill(g);
  const T a = static_cast<T>(kA), b = static_cast<T>(kB);
  const RefSums ref = ref_sums(g, x);
  ASSERT_TRUE(std::isfinite(ref.neg) && std::isfinite(ref.pos));
  for (const int nt : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(nt));
    DataStream<T>(g_seed).fill(g);
    double ns = -1, ps = -1, ns_in_place = -1, ps_in_place = -1;
    ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), nullptr, n, a, b, &ns, &ps, nt), ARELU_OK);
    expect_sum_near(ns, ref.neg, ref.abs_terms);
    expect_sum_near(ps, ref.pos, ref.abs_terms);
    ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), g.data(), n, a, b, &ns_in_place, &ps_in_place, nt), ARELU_OK);
    EXPECT_TRUE(bits_equal(ns, ns_in_place) && bits_equal(ps, ps_in_place))
        << ns << " " << ns_in_place << ", " << ps << " " << ps_in_place;
    DataStream<T> grad_out(g_seed);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(grad_element_matches(g[i], ref_grad(grad_out.next(), x[i], a, b), x[i])) << "i=" << i;
    }
  }
}
TEST(ScalarTwoReductionWaves, Float32SumsMatchReference) { check_sums_over_two_reduction_waves<float>(); }
TEST(ScalarTwoReductionWaves, Float64SumsMatchReference) { check_sums_over_two_reduction_waves<double>(); }

TYPED_TEST(AreluCpu, SumsWithoutNaNAreFinite) {
  using T = TypeParam;
  const std::vector<T> x = cast<T>(make_data(100000, 3, false));
  const std::vector<T> g = cast<T>(make_data(100000, 4, false));
  const RefBackward ref = ref_backward(widen(g), widen(x), kA, kB);
  double abs_terms = 0.0;
  for (size_t i = 0; i < x.size(); ++i) abs_terms += std::fabs(double(g[i]) * double(x[i]));
  double ns, ps;
  ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), nullptr, x.size(), T(kA), T(kB), &ns, &ps, 2), ARELU_OK);
  expect_sum_near(ns, ref.neg, abs_terms);
  expect_sum_near(ps, ref.pos, abs_terms);
  EXPECT_TRUE(std::isfinite(ns) && std::isfinite(ps));
}

TYPED_TEST(AreluCpu, EdgePointsOneByOne) {
  using T = TypeParam;
  const T a = T(kA), b = T(kB);
  for (double xv : kEdges) {
    for (double gv : {1.0, -2.5, 0.0, -0.0, kInf, kNaN}) {
      const T x = T(xv), g = T(gv);
      T y, gi;
      double ns, ps;
      ASSERT_EQ(arelu::abi::forward(&x, &y, 1, a, b, 1), ARELU_OK);
      const double wy = ref_forward(xv, a, b);
      EXPECT_TRUE(same_value(y, T(wy)) && std::signbit(y) == std::signbit(T(wy))) << xv;
      ASSERT_EQ(arelu::abi::backward(&g, &x, &gi, 1, a, b, &ns, &ps, 1), ARELU_OK);
      const RefBackward r = ref_backward({double(g)}, {double(x)}, a, b);
      // Signed zeros included (g = -0 at x > 0 gives -0): a tolerance only where x is NaN.
      EXPECT_TRUE(grad_element_matches(gi, r.gi[0], double(x))) << "x=" << xv << " g=" << gv;
      EXPECT_TRUE(same_value_and_sign(ns, r.neg)) << "x=" << xv << " g=" << gv << " neg_sum " << ns;
      EXPECT_TRUE(same_value_and_sign(ps, r.pos)) << "x=" << xv << " g=" << gv << " pos_sum " << ps;
    }
  }
  // The cases the header spells out.
  const T nan = T(kNaN), zero = T(0), inf = T(kInf), one = T(1);
  T gi;
  double ns, ps;
  ASSERT_EQ(arelu::abi::backward(&one, &nan, &gi, 1, a, b, &ns, &ps, 1), ARELU_OK);
  EXPECT_EQ(gi, one * b + one * a);  // NaN passes through both branches
  EXPECT_TRUE(std::isnan(ns) && std::isnan(ps));
  ASSERT_EQ(arelu::abi::backward(&inf, &zero, &gi, 1, a, b, &ns, &ps, 1), ARELU_OK);
  EXPECT_EQ(gi, T(0));  // selected, not multiplied: no Inf * 0
  EXPECT_TRUE(std::isnan(ns) && std::isnan(ps));  // but the sums' terms are Inf * relu(0) = Inf * 0
}

// A non-finite upstream gradient reaches the sums as in the reference, which multiplies every g by relu(x) and
// by relu(-x): NaN on the side where x's factor is 0 (0 * Inf and 0 * NaN), g * x on x's own side. One such g
// among finite ones, at the start, middle and end of buffers that cover the SIMD steps, their tails and
// several chunks.
TYPED_TEST(AreluCpu, NonFiniteGradientReachesBothSumsAsInTheReference) {
  using T = TypeParam;
  for (int64_t n : {int64_t{1}, int64_t{16}, int64_t{37}, int64_t{70001}}) {
    const std::vector<double> x0 = make_data(n, 5, false), g0 = make_data(n, 6, false);
    for (double gv : {kNaN, kInf, -kInf}) {
      for (double xv : {-1.5, 0.0, -0.0, 2.0, kNaN}) {
        for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
          std::vector<T> x = cast<T>(x0), g = cast<T>(g0);
          x[at] = T(xv);
          g[at] = T(gv);
          const RefBackward ref = ref_backward(widen(g), widen(x), kA, kB);
          double abs_terms = 0.0;
          for (int64_t i = 0; i < n; ++i) {
            if (i != at) abs_terms += std::fabs(double(g[i]) * double(x[i]));
          }
          double ns, ps;
          ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), nullptr, n, T(kA), T(kB), &ns, &ps, 2), ARELU_OK);
          SCOPED_TRACE("n=" + std::to_string(n) + " g=" + std::to_string(gv) + " x=" + std::to_string(xv));
          // Both sums are non-finite here: NaN on the far side (and at 0), +-Inf or NaN on x's own side.
          EXPECT_FALSE(std::isfinite(ref.neg) || std::isfinite(ref.pos));
          expect_sum_near(ns, ref.neg, abs_terms);
          expect_sum_near(ps, ref.pos, abs_terms);
        }
      }
    }
  }
}

// The reference's input gradient is the sum of its two branches' gradients, whose unselected zeros are +0
// (ReLU's backward) and -0 (relu(-x)'s +0 through neg's backward): g = -0 at x > 0 gives -0, at x < 0 and at
// x == 0 +0. Every ISA path (the ISA tests compare them bit for bit) and both sides.
TYPED_TEST(AreluCpu, ZeroGradientsHaveTheReferencesSign) {
  using T = TypeParam;
  for (int64_t n : {int64_t{1}, int64_t{16}, int64_t{40}}) {
    for (double gv : {0.0, -0.0}) {
      for (double xv : {2.0, -2.0, 0.0, -0.0}) {
        const std::vector<T> x(n, T(xv)), g(n, T(gv));
        std::vector<T> gi(n, T(1));
        double ns, ps;
        ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), gi.data(), n, T(kA), T(kB), &ns, &ps, 1), ARELU_OK);
        const bool negative = std::signbit(gv) && xv > 0;
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_TRUE(gi[i] == T(0) && std::signbit(gi[i]) == negative)
              << "n=" << n << " g=" << gv << " x=" << xv << " gi=" << gi[i];
        }
      }
    }
  }
}

// A NaN sum is the canonical quiet NaN (arelu.h), whatever sign and payload the NaN that made it had: here a
// negative NaN in x, which multiplies and adds through to the sums with its sign. Scalar and channel-wise.
TYPED_TEST(AreluCpu, NaNSumsAreTheCanonicalQuietNaN) {
  using T = TypeParam;
  const double canonical = std::numeric_limits<double>::quiet_NaN();
  for (int64_t n : {int64_t{1}, int64_t{16}, int64_t{37}}) {
    const std::vector<T> x(n, std::copysign(std::numeric_limits<T>::quiet_NaN(), T(-1))), g(n, T(1.5));
    double ns = 0, ps = 0;
    ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), static_cast<T*>(nullptr), n, T(kA), T(kB), &ns, &ps, 1),
              ARELU_OK);
    EXPECT_TRUE(bits_equal(ns, canonical) && bits_equal(ps, canonical)) << "n=" << n << " " << ns << " " << ps;
    const T a[] = {T(kA)}, b[] = {T(kB)};
    ASSERT_EQ(arelu::abi::backward_channels(g.data(), x.data(), static_cast<T*>(nullptr), n, 1, 1, a, b, &ns, &ps, 1),
              ARELU_OK);
    EXPECT_TRUE(bits_equal(ns, canonical) && bits_equal(ps, canonical)) << "channel-wise, n=" << n;
  }
}

// The reference's y for x < 0 is 0 * b - (-x) * a: +0, not -0, where the product underflows.
TYPED_TEST(AreluCpu, UnderflowingNegativeProductIsPlusZero) {
  using T = TypeParam;
  for (int64_t n : {int64_t{1}, int64_t{40}, int64_t{70001}}) {
    std::vector<T> x(n, -std::numeric_limits<T>::denorm_min()), y(n, T(1));
    ASSERT_EQ(arelu::abi::forward(x.data(), y.data(), n, T(kA), T(kB), 2), ARELU_OK);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(y[i] == T(0) && !std::signbit(y[i])) << "n=" << n << " i=" << i << " y=" << y[i];
    }
  }
}

// The reference relu(x) * b - relu(-x) * a with a NaN scale: NaN for every x, 0 and both signs included
// (0 * NaN is NaN). Scalar and channel-wise (only the NaN channel), sizes that cover the parallel and
// vector paths, and y == x.
template <class T>
void check_nan_scales(int64_t n, int nt) {
  const T nan = T(kNaN), a = T(kA), b = T(kB);
  std::vector<T> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = T((i % 3) - 1);  // -1, 0, 1, ...
  for (const auto& [na, nb] : {std::pair<T, T>{nan, b}, std::pair<T, T>{a, nan}, std::pair<T, T>{nan, nan}}) {
    std::vector<T> y(n, T(7));
    ASSERT_EQ(arelu::abi::forward(x.data(), y.data(), n, na, nb, nt), ARELU_OK);
    for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(std::isnan(y[i])) << "i=" << i;
    std::vector<T> inplace = x;
    ASSERT_EQ(arelu::abi::forward(inplace.data(), inplace.data(), n, na, nb, nt), ARELU_OK);
    for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(std::isnan(inplace[i])) << "in place, i=" << i;
  }
}

// The reference relu(x) * b - relu(-x) * a with a NaN scale: NaN for every x, 0 and both signs included
// (0 * NaN is NaN), for alpha, beta or both NaN, in place too, at sizes that cover the parallel and vector
// paths.
class NaNScales : public ::testing::TestWithParam<SizeAndThreads> {};
TEST_P(NaNScales, Float32EveryOutputNaN) { check_nan_scales<float>(std::get<0>(GetParam()), std::get<1>(GetParam())); }
TEST_P(NaNScales, Float64EveryOutputNaN) {
  check_nan_scales<double>(std::get<0>(GetParam()), std::get<1>(GetParam()));
}
INSTANTIATE_TEST_SUITE_P(AreluCpu, NaNScales,
                         ::testing::Combine(::testing::Values<int64_t>(1, 7, 65537), ::testing::Values(1, 2)),
                         size_and_threads_name);

// Channel-wise: channel 1 of 3 has a NaN alpha, the others are finite and follow the usual rule.
TYPED_TEST(AreluCpu, NaNScaleMakesItsChannelNaN) {
  using T = TypeParam;
  const T nan = T(kNaN), a = T(kA), b = T(kB);
  const int64_t outer = 2, channels = 3, inner = 5, n = outer * channels * inner;
  std::vector<T> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = T((i % 3) - 1);
  const T as[] = {a, nan, a}, bs[] = {b, b, b};
  ASSERT_EQ(arelu::abi::forward_channels(x.data(), y.data(), outer, channels, inner, as, bs, 2), ARELU_OK);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = (i / inner) % channels;
    if (c == 1) {
      ASSERT_TRUE(std::isnan(y[i])) << "i=" << i;
    } else {
      ASSERT_TRUE(same_value_and_sign(y[i], T(ref_forward(x[i], a, b)))) << "i=" << i;
    }
  }
}

template <class T>
void check_in_place_and_null_grad_in_on(const std::vector<T>& x, const std::vector<T>& g, int nt, bool finite) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<T> y(n);
  ASSERT_EQ(arelu::abi::forward(x.data(), y.data(), n, T(kA), T(kB), nt), ARELU_OK);
  std::vector<T> inplace = x;
  ASSERT_EQ(arelu::abi::forward(inplace.data(), inplace.data(), n, T(kA), T(kB), nt), ARELU_OK);
  ASSERT_EQ(0, std::memcmp(y.data(), inplace.data(), n * sizeof(T)));

  std::vector<T> gi(n);
  double ns, ps, ns2, ps2, ns3, ps3;
  ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), gi.data(), n, T(kA), T(kB), &ns, &ps, nt), ARELU_OK);
  std::vector<T> gio = g;
  ASSERT_EQ(arelu::abi::backward(gio.data(), x.data(), gio.data(), n, T(kA), T(kB), &ns2, &ps2, nt), ARELU_OK);
  ASSERT_EQ(0, std::memcmp(gi.data(), gio.data(), n * sizeof(T)));
  ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), nullptr, n, T(kA), T(kB), &ns3, &ps3, nt), ARELU_OK);
  if (finite) EXPECT_TRUE(std::isfinite(ns) && std::isfinite(ps)) << ns << " " << ps;
  EXPECT_TRUE(bits_equal(ns, ns2) && bits_equal(ns, ns3)) << ns << " " << ns2 << " " << ns3;
  EXPECT_TRUE(bits_equal(ps, ps2) && bits_equal(ps, ps3)) << ps << " " << ps2 << " " << ps3;
}

template <class T>
void check_in_place_and_null_grad_in(int nt) {
  const int64_t n = 200003;
  const std::vector<T> x = cast<T>(make_data(n, 5, true));
  const std::vector<T> g = cast<T>(make_data(n, 6, false));
  // The edge points make both sums NaN, and NaN sums are one canonical NaN: the bit comparisons of the sums
  // are only worth something on finite data, so the whole check runs on both.
  {
    SCOPED_TRACE("edge points");
    check_in_place_and_null_grad_in_on(x, g, nt, false);
  }
  SCOPED_TRACE("finite data");
  check_in_place_and_null_grad_in_on(finite_only(x), g, nt, true);
}

// In place (y == x, grad_in == grad_out) and without grad_in: the same values, the same sums to the bit.
class InPlace : public ::testing::TestWithParam<int> {};
TEST_P(InPlace, Float32) { check_in_place_and_null_grad_in<float>(GetParam()); }
TEST_P(InPlace, Float64) { check_in_place_and_null_grad_in<double>(GetParam()); }
INSTANTIATE_TEST_SUITE_P(AreluCpu, InPlace, ::testing::Values(1, 3),
                         [](const ::testing::TestParamInfo<int>& info) { return "threads" + std::to_string(info.param); });

struct Dims {
  int64_t outer, channels, inner;
};

// Shapes for both schedules of the channel-wise backward (long rows with few channels, short rows,
// inner == 1, outer == 1) and rows that straddle chunk boundaries.
const std::vector<Dims> kShapes = {{1, 3, 1000},  {5, 4, 1},      {2, 3, 70000}, {1, 1, 100000}, {3, 64, 1000},
                                   {1000, 17, 7}, {4, 2, 40000},  {1, 5, 33000}, {70000, 3, 1},  {2, 1, 1},
                                   {3, 7, 5000},  {1, 200000, 1}, {0, 3, 5},     {3, 0, 5},      {3, 2, 0},
                                   // channels_last activations (inner 1), small H * W (short rows)
                                   {32768, 32, 1}, {64, 48, 16},  {9, 5, 63},    {9, 5, 64},
                                   // each short-row loop: scales repeated (inner < 32), lanes per channel (32 and
                                   // up), medium rows with a batch of 16 or more, and the same rows with a smaller
                                   // batch (pieces); ResNet's last stage (7 x 7)
                                   {130, 9, 31},  {130, 9, 32},   {128, 64, 49}, {16, 3, 100},   {15, 3, 100},
                                   {40, 6, 255},  {40, 6, 256},
                                   // more than 64 blocks of whole outer rows (kBlockWave in arelu_cpu.cpp): the
                                   // short-row backward's second wave of blocks, for each short-row loop (one
                                   // outer row of over 16384 elements is a block of its own)
                                   {66, 16385, 1}, {66, 2341, 7},  {66, 335, 49}};

// One data set of check_channels_match_reference: forward (when with_forward) and backward against the
// per-channel reference, in place and without grad_in, for 1, 2 and 3 threads. On finite data every channel's
// sums must be finite, so that they are compared as values.
template <class T>
void check_channels_on(const Dims& d, const std::vector<T>& x, const std::vector<T>& g, const std::vector<T>& a,
                       const std::vector<T>& b, bool with_forward, bool finite) {
  const int64_t n = d.outer * d.channels * d.inner;
  // Per-channel reference: the channel's elements in index order.
  std::vector<RefBackward> ref(d.channels);
  std::vector<double> abs_terms(d.channels, 0.0);
  std::vector<double> want_y(n), want_gi(n);
  for (int64_t c = 0; c < d.channels; ++c) {
    std::vector<double> gc, xc;
    for (int64_t o = 0; o < d.outer; ++o) {
      for (int64_t k = 0; k < d.inner; ++k) {
        const int64_t i = (o * d.channels + c) * d.inner + k;
        gc.push_back(g[i]);
        xc.push_back(x[i]);
        want_y[i] = ref_forward(x[i], a[c], b[c]);
        if (std::isfinite(double(g[i]) * x[i])) abs_terms[c] += std::fabs(double(g[i]) * x[i]);
      }
    }
    ref[c] = ref_backward(gc, xc, a[c], b[c]);
    if (finite) {
      ASSERT_TRUE(std::isfinite(ref[c].neg) && std::isfinite(ref[c].pos)) << "channel " << c;
    }
    size_t j = 0;
    for (int64_t o = 0; o < d.outer; ++o) {
      for (int64_t k = 0; k < d.inner; ++k) want_gi[(o * d.channels + c) * d.inner + k] = ref[c].gi[j++];
    }
  }
  std::vector<double> first_ns, first_ps;
  for (int nt : {1, 2, 3}) {
    SCOPED_TRACE("shape " + std::to_string(d.outer) + "x" + std::to_string(d.channels) + "x" +
                 std::to_string(d.inner) + " threads=" + std::to_string(nt) +
                 (finite ? " finite data" : " edge points"));
    if (with_forward) {
      std::vector<T> y(n);
      ASSERT_EQ(arelu::abi::forward_channels(x.data(), y.data(), d.outer, d.channels, d.inner, a.data(), b.data(), nt),
                ARELU_OK);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_value_and_sign(y[i], T(want_y[i]))) << i << ": " << x[i] << " -> " << y[i];
      }
      std::vector<T> inplace = x;
      ASSERT_EQ(arelu::abi::forward_channels(inplace.data(), inplace.data(), d.outer, d.channels, d.inner, a.data(),
                                             b.data(), nt),
                ARELU_OK);
      ASSERT_EQ(0, std::memcmp(y.data(), inplace.data(), n * sizeof(T)));
    }

    std::vector<T> gi(n);
    std::vector<double> ns(d.channels, -7), ps(d.channels, -7);
    ASSERT_EQ(arelu::abi::backward_channels(g.data(), x.data(), gi.data(), d.outer, d.channels, d.inner, a.data(), b.data(),
                        ns.data(), ps.data(), nt),
              ARELU_OK);
    RefBackward flat;
    flat.gi = want_gi;
    expect_grad(gi, flat, widen(x));
    for (int64_t c = 0; c < d.channels; ++c) {
      expect_sum_near(ns[c], ref[c].neg, abs_terms[c]);
      expect_sum_near(ps[c], ref[c].pos, abs_terms[c]);
    }
    // In place and without grad_in: same gradient, same sums to the bit.
    std::vector<T> gio = g;
    std::vector<double> ns2(d.channels), ps2(d.channels), ns3(d.channels), ps3(d.channels);
    ASSERT_EQ(arelu::abi::backward_channels(gio.data(), x.data(), gio.data(), d.outer, d.channels, d.inner, a.data(), b.data(),
                        ns2.data(), ps2.data(), nt),
              ARELU_OK);
    ASSERT_EQ(0, std::memcmp(gi.data(), gio.data(), n * sizeof(T)));
    ASSERT_EQ(arelu::abi::backward_channels(g.data(), x.data(), nullptr, d.outer, d.channels, d.inner, a.data(), b.data(),
                        ns3.data(), ps3.data(), nt),
              ARELU_OK);
    for (int64_t c = 0; c < d.channels; ++c) {
      ASSERT_TRUE(bits_equal(ns[c], ns2[c]) && bits_equal(ns[c], ns3[c])) << c;
      ASSERT_TRUE(bits_equal(ps[c], ps2[c]) && bits_equal(ps[c], ps3[c])) << c;
    }
    // Any thread count: the same bits.
    if (first_ns.empty()) {
      first_ns = ns;
      first_ps = ps;
    }
    for (int64_t c = 0; c < d.channels; ++c) {
      ASSERT_TRUE(bits_equal(ns[c], first_ns[c]) && bits_equal(ps[c], first_ps[c])) << c;
    }
  }
}

// x holds the edge points (signed zeros, tiny and large values, NaN, infinities): a channel that gets a NaN or an
// infinity has NaN (or infinite) sums, compared only as such, and with few channels every channel gets one. So
// the backward runs again on the same x with its NaN and infinities replaced by finite values, where every
// channel's sums are compared as values.
template <class T>
void check_channels_match_reference(const Dims& d) {
  const int64_t n = d.outer * d.channels * d.inner;
  const std::vector<T> x = cast<T>(make_data(n, 7, true));
  const std::vector<T> g = cast<T>(make_data(n, 8, false));
  std::vector<T> a(d.channels), b(d.channels);
  for (int64_t c = 0; c < d.channels; ++c) {
    a[c] = T(0.01 + 0.98 * c / (d.channels + 1.0));
    b[c] = T(1.0 + 0.9 * (c + 1.0) / (d.channels + 1.0));
  }
  check_channels_on(d, x, g, a, b, true, false);
  check_channels_on(d, finite_only(x), g, a, b, false, true);
}

class ChannelShapes : public ::testing::TestWithParam<Dims> {};
TEST_P(ChannelShapes, Float32MatchesReference) { check_channels_match_reference<float>(GetParam()); }
TEST_P(ChannelShapes, Float64MatchesReference) { check_channels_match_reference<double>(GetParam()); }
INSTANTIATE_TEST_SUITE_P(AreluCpu, ChannelShapes, ::testing::ValuesIn(kShapes),
                         [](const ::testing::TestParamInfo<Dims>& info) {
                           return std::to_string(info.param.outer) + "x" + std::to_string(info.param.channels) + "x" +
                                  std::to_string(info.param.inner);
                         });

TEST(AreluCpuDeterminism, SumsBitIdenticalAcrossThreadsAndRuns) {
  const int64_t n = 10000019;
  const std::vector<float> x = cast<float>(make_data(n, 11, false));
  const std::vector<float> g = cast<float>(make_data(n, 12, false));
  const std::vector<double> xd = make_data(n, 13, false), gd = make_data(n, 14, false);
  double ns0, ps0, ns0d, ps0d;
  ASSERT_EQ(arelu_backward_f32(g.data(), x.data(), nullptr, n, 0.3f, 1.7f, &ns0, &ps0, 1), ARELU_OK);
  ASSERT_EQ(arelu_backward_f64(gd.data(), xd.data(), nullptr, n, 0.3, 1.7, &ns0d, &ps0d, 1), ARELU_OK);
  for (int nt : {1, 2, 3, 2, 3}) {
    double ns, ps;
    ASSERT_EQ(arelu_backward_f32(g.data(), x.data(), nullptr, n, 0.3f, 1.7f, &ns, &ps, nt), ARELU_OK);
    EXPECT_TRUE(bits_equal(ns, ns0) && bits_equal(ps, ps0)) << nt;
    ASSERT_EQ(arelu_backward_f64(gd.data(), xd.data(), nullptr, n, 0.3, 1.7, &ns, &ps, nt), ARELU_OK);
    EXPECT_TRUE(bits_equal(ns, ns0d) && bits_equal(ps, ps0d)) << nt;
  }
  // Channel-wise, through each schedule: few long rows; rows of a ResNet stage (784) and of 100 elements in
  // a small batch, whose chunks hold dozens and hundreds of pieces (one thread: schedule A, more: B); many
  // short rows.
  for (const Dims d : {Dims{4, 3, n / 12}, Dims{128, 16, 784}, Dims{8, 300, 100}, Dims{n / 30, 30, 1}}) {
    const int64_t m = d.outer * d.channels * d.inner;
    const std::vector<float> a(d.channels, 0.2f), b(d.channels, 1.6f);
    std::vector<double> ns0c(d.channels), ps0c(d.channels), ns(d.channels), ps(d.channels);
    ASSERT_EQ(arelu_backward_channels_f32(g.data(), x.data(), nullptr, d.outer, d.channels, d.inner, a.data(),
                                          b.data(), ns0c.data(), ps0c.data(), 1),
              ARELU_OK);
    ASSERT_LE(m, n);
    for (int nt : {2, 3, 3}) {
      ASSERT_EQ(arelu_backward_channels_f32(g.data(), x.data(), nullptr, d.outer, d.channels, d.inner, a.data(),
                                            b.data(), ns.data(), ps.data(), nt),
                ARELU_OK);
      for (int64_t c = 0; c < d.channels; ++c) {
        EXPECT_TRUE(bits_equal(ns[c], ns0c[c]) && bits_equal(ps[c], ps0c[c])) << nt << " channel " << c;
      }
    }
  }
}

TEST(AreluCpuErrors, StatusCodes) {
  float x = 1, y, g = 1, gi;
  double ns = 5, ps = 5;
  const float a = 0.3f, b = 1.7f;
  EXPECT_EQ(arelu_forward_f32(&x, &y, -1, a, b, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_forward_f32(nullptr, &y, 1, a, b, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_forward_f32(&x, nullptr, 1, a, b, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_forward_f32(nullptr, nullptr, 0, a, b, 1), ARELU_OK);
  EXPECT_EQ(arelu_forward_f64(nullptr, nullptr, -3, 0.3, 1.7, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_backward_f32(&g, &x, &gi, -1, a, b, &ns, &ps, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_backward_f32(nullptr, &x, &gi, 1, a, b, &ns, &ps, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_f32(&g, nullptr, &gi, 1, a, b, &ns, &ps, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_f32(&g, &x, &gi, 1, a, b, nullptr, &ps, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_f32(&g, &x, &gi, 1, a, b, &ns, nullptr, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_f64(nullptr, nullptr, nullptr, 0, 0.3, 1.7, &ns, &ps, 4), ARELU_OK);
  EXPECT_EQ(ns, 0.0);
  EXPECT_EQ(ps, 0.0);

  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_EQ(arelu_forward_channels_f32(&x, &y, big, 3, 1, &a, &b, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_forward_channels_f32(&x, &y, 1, 1, -1, &a, &b, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_forward_channels_f32(&x, &y, 1, -1, 1, &a, &b, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_forward_channels_f32(&x, &y, 1, 1, 1, nullptr, &b, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_channels_f32(&g, &x, &gi, 2, big, 2, &a, &b, &ns, &ps, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu_backward_channels_f32(&g, &x, &gi, 1, 1, 1, &a, nullptr, &ns, &ps, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu_backward_channels_f32(&g, &x, &gi, 1, 1, 1, &a, &b, nullptr, &ps, 1), ARELU_ERR_NULL_POINTER);
  double ns2[2] = {5, 5}, ps2[2] = {5, 5};
  EXPECT_EQ(arelu_backward_channels_f64(nullptr, nullptr, nullptr, 0, 2, 8, nullptr, nullptr, ns2, ps2, 1),
            ARELU_OK);
  EXPECT_EQ(ns2[0], 0.0);
  EXPECT_EQ(ps2[1], 0.0);

  EXPECT_EQ(arelu_abi_version(), ARELU_ABI_VERSION);
  // Every status has its own text, and only an unknown one gets the fallback.
  const std::string unknown = arelu_error_string(-1);
  EXPECT_EQ(unknown, arelu_error_string(ARELU_ERR_ALREADY_REGISTERED + 1));
  std::vector<std::string> texts;
  for (int st = ARELU_OK; st <= ARELU_ERR_ALREADY_REGISTERED; ++st) {
    const std::string text = arelu_error_string(st);
    EXPECT_NE(text, unknown) << "status " << st;
    for (const std::string& other : texts) EXPECT_NE(text, other) << "status " << st;
    texts.push_back(text);
  }
  EXPECT_EQ(std::string(arelu_error_string(ARELU_ERR_BAD_SIZE)),
            "negative size, or outer * channels * inner overflows");
}

// The AVX2 and AVX-512 paths (where the CPU has them) and the SSE2 fallback give the same bits: grad_in
// (separate, in place, absent), both sums, scalar and channel-wise, forward too, at lengths that exercise the
// step tails and several chunks. Twice: on data with NaN, infinities and zeros (for the element outputs: the sums
// are NaN there for all but the shortest lengths), and on finite data with zeros and denormals, where the sums
// are finite and their bits are compared.
template <class T>
void check_isa_paths_identical(int level, int64_t n) {
  const T a = T(0.3), b = T(1.7);
  // The first five are finite.
  const T specials[] = {T(0),
                        -T(0),
                        std::numeric_limits<T>::denorm_min(),
                        T(1e-30),
                        -std::numeric_limits<T>::denorm_min(),
                        std::numeric_limits<T>::quiet_NaN(),
                        std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(),
                        std::numeric_limits<T>::max()};
  struct Out {
    std::vector<T> gi, gip, y;
    double ns, ps, ns0, ps0, ns2, ps2;
    std::vector<double> cn, cp;
  };
  auto run = [&](int isa, const std::vector<T>& g, const std::vector<T>& x) {
    arelu::detail::set_max_isa(isa);
    Out o;
    o.gi.assign(n, T(0));
    o.gip = g;
    o.y.assign(n, T(0));
    const std::vector<T> av = {T(0.1), T(0.5), T(0.9)}, bv = {T(1.2), T(1.5), T(1.9)};
    o.cn.assign(3, 0.0);
    o.cp.assign(3, 0.0);
    EXPECT_EQ(arelu::abi::backward(g.data(), x.data(), o.gi.data(), n, a, b, &o.ns, &o.ps, 2), ARELU_OK);
    EXPECT_EQ(arelu::abi::backward(o.gip.data(), x.data(), o.gip.data(), n, a, b, &o.ns2, &o.ps2, 1), ARELU_OK);
    EXPECT_EQ(arelu::abi::backward(g.data(), x.data(), nullptr, n, a, b, &o.ns0, &o.ps0, 2), ARELU_OK);
    EXPECT_EQ(arelu::abi::forward(x.data(), o.y.data(), n, a, b, 2), ARELU_OK);
    const int64_t inner = n / 3;
    if (inner > 0) {
      std::vector<T> gc(inner * 3);
      EXPECT_EQ(arelu::abi::backward_channels(g.data(), x.data(), gc.data(), 1, 3, inner, av.data(), bv.data(),
                                              o.cn.data(), o.cp.data(), 2),
                ARELU_OK);
      o.y.insert(o.y.end(), gc.begin(), gc.end());
    }
    return o;
  };
  const int detected = arelu::detail::set_max_isa(2);
  if (detected < level) GTEST_SKIP() << "this CPU lacks ISA level " << level << " (has " << detected << ")";
  auto same = [](const auto& u, const auto& v) {
    return u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(u[0])) == 0;
  };
  auto bits = [](double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    return u;
  };
  for (const bool finite : {false, true}) {
    SCOPED_TRACE(finite ? "finite data" : "edge points");
    // Edge points: 9 values in 40 a special one, NaN and infinities included; finite data: 5 in 40 a zero, a
    // denormal or a tiny value.
    std::mt19937 rng(1234);
    std::normal_distribution<double> d(0.0, 2.0);
    std::uniform_int_distribution<int> pick(0, 39);
    const int specials_drawn = finite ? 5 : 9;
    auto draw = [&]() {
      const int k = pick(rng);
      return k < specials_drawn ? specials[k] : static_cast<T>(d(rng));
    };
    std::vector<T> g(n), x(n);
    for (int64_t i = 0; i < n; ++i) {
      g[i] = draw();
      x[i] = draw();
    }
    const Out sse = run(0, g, x);
    const Out avx = run(level, g, x);
    arelu::detail::set_max_isa(2);
    if (finite) {
      for (const double v : {sse.ns, sse.ps, sse.ns0, sse.ps0, sse.ns2, sse.ps2}) EXPECT_TRUE(std::isfinite(v)) << v;
      for (int c = 0; c < 3; ++c) EXPECT_TRUE(std::isfinite(sse.cn[c]) && std::isfinite(sse.cp[c])) << c;
    }
    EXPECT_TRUE(same(sse.gi, avx.gi)) << "n=" << n;
    EXPECT_TRUE(same(sse.gip, avx.gip)) << "n=" << n;
    EXPECT_TRUE(same(sse.y, avx.y)) << "n=" << n;
    EXPECT_TRUE(same(sse.cn, avx.cn)) << "n=" << n;
    EXPECT_TRUE(same(sse.cp, avx.cp)) << "n=" << n;
    EXPECT_EQ(bits(sse.ns), bits(avx.ns)) << "n=" << n;
    EXPECT_EQ(bits(sse.ps), bits(avx.ps)) << "n=" << n;
    EXPECT_EQ(bits(sse.ns0), bits(avx.ns0)) << "n=" << n;
    EXPECT_EQ(bits(sse.ps0), bits(avx.ps0)) << "n=" << n;
    EXPECT_EQ(bits(sse.ns2), bits(avx.ns2)) << "n=" << n;
    EXPECT_EQ(bits(sse.ps2), bits(avx.ps2)) << "n=" << n;
  }
}

// Channel-wise short rows (channels_last memory, inner 1, and NCHW rows of every short-row loop): every ISA
// gives the same bits, on a channel count that is no multiple of any vector width. Twice: with special values in
// x and g (NaN and infinities among them, which make every channel's sums NaN), and on finite data with zeros and
// denormals, where every channel's sums are finite and their bits are compared.
template <class T>
void check_short_rows_identical_across_isas(int64_t inner) {
  const int64_t outer = 300, channels = 37, n = outer * channels * inner;
  const T specials[] = {T(0), -T(0), -std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::quiet_NaN(),
                        std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()};
  std::vector<T> a(channels), b(channels);
  for (int64_t c = 0; c < channels; ++c) {
    a[c] = T(0.01 + 0.02 * c);
    b[c] = T(1.1 + 0.02 * c);
  }
  struct Out {
    std::vector<T> y, gi, in_place;
    std::vector<double> ns, ps, ns_none, ps_none;
  };
  auto run = [&](int isa, const std::vector<T>& g, const std::vector<T>& x) {
    arelu::detail::set_max_isa(isa);
    Out o{std::vector<T>(n), std::vector<T>(n), g, std::vector<double>(channels), std::vector<double>(channels),
          std::vector<double>(channels), std::vector<double>(channels)};
    EXPECT_EQ(arelu::abi::forward_channels(x.data(), o.y.data(), outer, channels, inner, a.data(), b.data(), 2),
              ARELU_OK);
    EXPECT_EQ(arelu::abi::backward_channels(g.data(), x.data(), o.gi.data(), outer, channels, inner, a.data(), b.data(),
                                            o.ns.data(), o.ps.data(), 2),
              ARELU_OK);
    // The input gradient over the output's gradient (in place), and none at all: the other two ways to store it.
    std::vector<double> ns_in_place(channels), ps_in_place(channels);
    EXPECT_EQ(arelu::abi::backward_channels(o.in_place.data(), x.data(), o.in_place.data(), outer, channels, inner,
                                            a.data(), b.data(), ns_in_place.data(), ps_in_place.data(), 2),
              ARELU_OK);
    EXPECT_EQ(0, std::memcmp(ns_in_place.data(), o.ns.data(), channels * sizeof(double)));
    EXPECT_EQ(0, std::memcmp(ps_in_place.data(), o.ps.data(), channels * sizeof(double)));
    EXPECT_EQ(arelu::abi::backward_channels(g.data(), x.data(), static_cast<T*>(nullptr), outer, channels, inner,
                                            a.data(), b.data(), o.ns_none.data(), o.ps_none.data(), 2),
              ARELU_OK);
    return o;
  };
  for (const bool finite : {false, true}) {
    SCOPED_TRACE(finite ? "finite data" : "special values");
    // One value in ten a special one: of all six, or of the three finite ones.
    std::mt19937_64 rng(17);
    std::normal_distribution<double> d(0.0, 2.0);
    std::uniform_int_distribution<int> pick(0, finite ? 29 : 19);
    auto draw = [&]() { const int k = pick(rng); return k < (finite ? 3 : 6) ? specials[k] : static_cast<T>(d(rng)); };
    std::vector<T> x(n), g(n);
    for (int64_t i = 0; i < n; ++i) {
      x[i] = draw();
      g[i] = draw();
    }
    const Out base = run(0, g, x);
    if (finite) {
      for (int64_t c = 0; c < channels; ++c) {
        EXPECT_TRUE(std::isfinite(base.ns[c]) && std::isfinite(base.ps[c])) << "channel " << c;
      }
    }
    const int detected = arelu::detail::set_max_isa(2);
    for (int level = 1; level <= detected; ++level) {
      const Out other = run(level, g, x);
      EXPECT_EQ(0, std::memcmp(base.y.data(), other.y.data(), n * sizeof(T))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.gi.data(), other.gi.data(), n * sizeof(T))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.ns.data(), other.ns.data(), channels * sizeof(double))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.ps.data(), other.ps.data(), channels * sizeof(double))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.in_place.data(), other.in_place.data(), n * sizeof(T))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.ns_none.data(), other.ns_none.data(), channels * sizeof(double)))
          << "level " << level;
      EXPECT_EQ(0, std::memcmp(base.ps_none.data(), other.ps_none.data(), channels * sizeof(double)))
          << "level " << level;
    }
    EXPECT_EQ(0, std::memcmp(base.in_place.data(), base.gi.data(), n * sizeof(T)));
    EXPECT_EQ(0, std::memcmp(base.ns_none.data(), base.ns.data(), channels * sizeof(double)));
    EXPECT_EQ(0, std::memcmp(base.ps_none.data(), base.ps.data(), channels * sizeof(double)));
    arelu::detail::set_max_isa(2);
  }
}
// The short-row loops write the element functions a second time, with bit masks for speed: pinned here to the
// one definition (the flat kernels, themselves bit-identical to forward1 and backward1). Every channel has the
// same scales, so channel-wise over (outer, channels, inner) must give the flat kernels' y and input gradient
// bit for bit, signed zeros, NaN and the underflowing x * a included, for rows of every short-row loop.
template <class T>
void check_short_rows_match_the_element_functions(int64_t inner) {
  const int64_t outer = 64, channels = 21, n = outer * channels * inner;
  const T specials[] = {T(0), -T(0), std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::denorm_min(),
                        std::numeric_limits<T>::denorm_min(), T(1.5), T(-2.5)};
  std::vector<T> x(n), g(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = specials[i % 9];
    g[i] = specials[(i / 9) % 9];
  }
  const std::vector<T> a(channels, T(0.3)), b(channels, T(1.7));
  std::vector<T> y_flat(n), y_rows(n), gi_flat(n), gi_rows(n);
  double ns, ps;
  std::vector<double> cns(channels), cps(channels);
  ASSERT_EQ(arelu::abi::forward(x.data(), y_flat.data(), n, a[0], b[0], 1), ARELU_OK);
  ASSERT_EQ(arelu::abi::forward_channels(x.data(), y_rows.data(), outer, channels, inner, a.data(), b.data(), 1),
            ARELU_OK);
  ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), gi_flat.data(), n, a[0], b[0], &ns, &ps, 1), ARELU_OK);
  ASSERT_EQ(arelu::abi::backward_channels(g.data(), x.data(), gi_rows.data(), outer, channels, inner, a.data(), b.data(),
                                          cns.data(), cps.data(), 1),
            ARELU_OK);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(0, std::memcmp(&y_flat[i], &y_rows[i], sizeof(T))) << "y, x=" << x[i];
    ASSERT_EQ(0, std::memcmp(&gi_flat[i], &gi_rows[i], sizeof(T))) << "gi, x=" << x[i] << " g=" << g[i];
  }
}
// Row lengths of each short-row loop: channels_last (1), scales repeated (7, 31), lanes per channel (32, 47,
// 49, 61: partial steps of 15, 1 and 13 elements, and partial vectors of every AVX2 half), medium rows (100;
// outer 300 and 64 are batches of 16 or more).
class ShortRows : public ::testing::TestWithParam<int64_t> {};
TEST_P(ShortRows, MatchTheElementFunctionsF32) { check_short_rows_match_the_element_functions<float>(GetParam()); }
TEST_P(ShortRows, MatchTheElementFunctionsF64) { check_short_rows_match_the_element_functions<double>(GetParam()); }
TEST_P(ShortRows, BitIdenticalAcrossIsasF32) { check_short_rows_identical_across_isas<float>(GetParam()); }
TEST_P(ShortRows, BitIdenticalAcrossIsasF64) { check_short_rows_identical_across_isas<double>(GetParam()); }
INSTANTIATE_TEST_SUITE_P(AreluCpuIsa, ShortRows, ::testing::Values<int64_t>(1, 7, 31, 32, 47, 49, 61, 100),
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return "inner" + std::to_string(info.param);
                         });

// The short-row backward walks a block in memory order or channel by channel (by how many bytes the channels'
// lanes take): the same sums in the same order, so the same bits, on every ISA and thread count.
template <class T>
void check_short_row_walks_identical(int64_t inner) {
  const int64_t outer = 40, channels = 37, n = outer * channels * inner;
  std::mt19937_64 rng(23);
  std::normal_distribution<double> d(0.0, 2.0);
  std::vector<T> x(n), g(n), a(channels), b(channels);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<T>(d(rng));
    g[i] = static_cast<T>(d(rng));
  }
  for (int64_t c = 0; c < channels; ++c) {
    a[c] = T(0.01 + 0.02 * c);
    b[c] = T(1.1 + 0.02 * c);
  }
  auto run = [&](int64_t lanes_in_cache, int threads) {
    const int64_t previous = arelu::detail::set_lanes_in_cache(lanes_in_cache);
    std::vector<T> gi(n);
    std::vector<double> ns(channels), ps(channels);
    EXPECT_EQ(arelu::abi::backward_channels(g.data(), x.data(), gi.data(), outer, channels, inner, a.data(), b.data(),
                                            ns.data(), ps.data(), threads),
              ARELU_OK);
    arelu::detail::set_lanes_in_cache(previous);
    return std::make_tuple(gi, ns, ps);
  };
  const int detected = arelu::detail::set_max_isa(2);
  for (int level = 0; level <= detected; ++level) {
    arelu::detail::set_max_isa(level);
    for (int threads : {1, 2}) {
      const auto [gi_memory, ns_memory, ps_memory] = run(int64_t{1} << 40, threads);
      const auto [gi_channel, ns_channel, ps_channel] = run(0, threads);
      EXPECT_EQ(0, std::memcmp(gi_memory.data(), gi_channel.data(), n * sizeof(T))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(ns_memory.data(), ns_channel.data(), channels * sizeof(double))) << "level " << level;
      EXPECT_EQ(0, std::memcmp(ps_memory.data(), ps_channel.data(), channels * sizeof(double))) << "level " << level;
    }
  }
  arelu::detail::set_max_isa(2);
}
// ARELU_DISABLE_AVX2=false must leave AVX2 on: only values that say yes switch a loop off.
TEST(AreluCpuIsa, DisableFlagsReadOnlyYesAsSet) {
  for (const char* no : {static_cast<const char*>(nullptr), "", "0", "false", "FALSE", "No", "off"}) {
    EXPECT_FALSE(arelu::detail::flag_value_set(no)) << (no == nullptr ? "unset" : no);
  }
  for (const char* yes : {"1", "true", "TRUE", "yes", "on", "2"}) {
    EXPECT_TRUE(arelu::detail::flag_value_set(yes)) << yes;
  }
}
// ARELU_DISABLE_AVX512 and ARELU_DISABLE_AVX2 in the environment (read once, at load) cap the level detected:
// CTest runs this test a second and a third time with each of them set (CMakeLists.txt). Unset, the level is
// what the CPU has.
TEST(AreluCpuIsa, DisableFlagsInTheEnvironmentCapTheDetectedLevel) {
#if defined(__x86_64__) && defined(__GNUC__)
  const int detected = arelu::detail::set_max_isa(2);
  const int cpu = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
  if (arelu::detail::flag_value_set(std::getenv("ARELU_DISABLE_AVX2"))) {
    EXPECT_EQ(detected, 0);
  } else if (arelu::detail::flag_value_set(std::getenv("ARELU_DISABLE_AVX512"))) {
    EXPECT_EQ(detected, std::min(cpu, 1));
  } else {
    EXPECT_EQ(detected, cpu);
  }
#else
  GTEST_SKIP() << "no ISA dispatch on this target";
#endif
}
class ShortRowWalks : public ::testing::TestWithParam<int64_t> {};
TEST_P(ShortRowWalks, BitIdenticalF32) { check_short_row_walks_identical<float>(GetParam()); }
TEST_P(ShortRowWalks, BitIdenticalF64) { check_short_row_walks_identical<double>(GetParam()); }
// Rows of the lanes-per-channel loop: partial steps of 0, 15, 1 and 13 elements; medium rows (100, 255).
INSTANTIATE_TEST_SUITE_P(AreluCpuIsa, ShortRowWalks, ::testing::Values<int64_t>(32, 47, 49, 61, 100, 255),
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return "inner" + std::to_string(info.param);
                         });

// Memory whose last element ends a mapping, followed by a page that may not be touched: a read past the end of a
// buffer (an unmasked load in a tail step, a mask wider than the tail) faults, where on the heap it reads a
// neighbour's bytes and, multiplied by a masked zero, mostly changes nothing a value comparison would see.
template <class T>
class GuardedBuffer {
 public:
  explicit GuardedBuffer(int64_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = static_cast<size_t>(n) * sizeof(T);
    const size_t data_pages = (bytes + page - 1) / page;
    size_ = (data_pages + 1) * page;
    void* base = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(base, MAP_FAILED);
    base_ = static_cast<char*>(base);
    EXPECT_EQ(0, mprotect(base_ + data_pages * page, page, PROT_NONE));
    data_ = reinterpret_cast<T*>(base_ + data_pages * page - bytes);
  }
  ~GuardedBuffer() { munmap(base_, size_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  T* data() const { return data_; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
  T* data_ = nullptr;
};

// Every loop of every ISA reads and writes only its buffers' elements: each buffer ends at a guard page, at every
// tail length of a 16-element step and of a vector, scalar and channel-wise (rows of each short-row loop and the
// flat walk), forward, and backward with grad_in separate, in place and absent. The results are those of the
// same calls on ordinary memory.
template <class T>
void check_kernels_stay_inside_their_buffers() {
  const int detected = arelu::detail::set_max_isa(2);
  const T a = T(0.3), b = T(1.7);
  std::mt19937 rng(99);
  std::normal_distribution<double> d(0.0, 2.0);
  for (int level = 0; level <= detected; ++level) {
    arelu::detail::set_max_isa(level);
    for (int64_t n = 1; n <= 40; ++n) {
      SCOPED_TRACE("level " + std::to_string(level) + " n " + std::to_string(n));
      std::vector<T> xv(n), gv(n);
      for (int64_t i = 0; i < n; ++i) {
        xv[i] = static_cast<T>(d(rng));
        gv[i] = static_cast<T>(d(rng));
      }
      GuardedBuffer<T> x(n), g(n), y(n), gi(n);
      std::copy(xv.begin(), xv.end(), x.data());
      std::copy(gv.begin(), gv.end(), g.data());
      std::vector<T> y_plain(n), gi_plain(n);
      double ns, ps, ns_plain, ps_plain, ns_none, ps_none;
      ASSERT_EQ(arelu::abi::forward(x.data(), y.data(), n, a, b, 1), ARELU_OK);
      ASSERT_EQ(arelu::abi::forward(xv.data(), y_plain.data(), n, a, b, 1), ARELU_OK);
      ASSERT_EQ(0, std::memcmp(y.data(), y_plain.data(), n * sizeof(T)));
      ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), gi.data(), n, a, b, &ns, &ps, 1), ARELU_OK);
      ASSERT_EQ(arelu::abi::backward(gv.data(), xv.data(), gi_plain.data(), n, a, b, &ns_plain, &ps_plain, 1),
                ARELU_OK);
      ASSERT_EQ(0, std::memcmp(gi.data(), gi_plain.data(), n * sizeof(T)));
      ASSERT_TRUE(bits_equal(ns, ns_plain) && bits_equal(ps, ps_plain));
      ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), static_cast<T*>(nullptr), n, a, b, &ns_none, &ps_none, 1),
                ARELU_OK);
      ASSERT_TRUE(bits_equal(ns, ns_none) && bits_equal(ps, ps_none));
      ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), g.data(), n, a, b, &ns_none, &ps_none, 1), ARELU_OK);
      ASSERT_EQ(0, std::memcmp(g.data(), gi_plain.data(), n * sizeof(T)));
      // Channel-wise: 3 outer rows of 5 channels of n elements (rows of n < 32 repeat the scales, longer ones
      // take the lanes per channel), and one outer row of 2 channels of 40 n (the flat walk).
      for (const Dims dims : {Dims{3, 5, n}, Dims{1, 2, 40 * n}}) {
        const int64_t m = dims.outer * dims.channels * dims.inner;
        GuardedBuffer<T> cx(m), cg(m), cy(m), cgi(m), ca(dims.channels), cb(dims.channels);
        for (int64_t i = 0; i < m; ++i) {
          cx.data()[i] = static_cast<T>(d(rng));
          cg.data()[i] = static_cast<T>(d(rng));
        }
        for (int64_t c = 0; c < dims.channels; ++c) {
          ca.data()[c] = T(0.1 + 0.1 * c);
          cb.data()[c] = T(1.1 + 0.1 * c);
        }
        std::vector<double> cn(dims.channels), cp(dims.channels);
        ASSERT_EQ(arelu::abi::forward_channels(cx.data(), cy.data(), dims.outer, dims.channels, dims.inner, ca.data(),
                                               cb.data(), 1),
                  ARELU_OK);
        for (T* out : {cgi.data(), static_cast<T*>(nullptr), cg.data()}) {
          ASSERT_EQ(arelu::abi::backward_channels(cg.data(), cx.data(), out, dims.outer, dims.channels, dims.inner,
                                                  ca.data(), cb.data(), cn.data(), cp.data(), 1),
                    ARELU_OK);
        }
      }
    }
  }
  arelu::detail::set_max_isa(2);
}
TEST(AreluCpuIsa, KernelsStayInsideTheirBuffersF32) { check_kernels_stay_inside_their_buffers<float>(); }
TEST(AreluCpuIsa, KernelsStayInsideTheirBuffersF64) { check_kernels_stay_inside_their_buffers<double>(); }

// Lengths that exercise the step tails and several chunks.
class IsaPaths : public ::testing::TestWithParam<int64_t> {};
TEST_P(IsaPaths, Avx2AndSse2BitIdenticalF32) { check_isa_paths_identical<float>(1, GetParam()); }
TEST_P(IsaPaths, Avx2AndSse2BitIdenticalF64) { check_isa_paths_identical<double>(1, GetParam()); }
TEST_P(IsaPaths, Avx512AndSse2BitIdenticalF32) { check_isa_paths_identical<float>(2, GetParam()); }
TEST_P(IsaPaths, Avx512AndSse2BitIdenticalF64) { check_isa_paths_identical<double>(2, GetParam()); }
INSTANTIATE_TEST_SUITE_P(AreluCpuIsa, IsaPaths,
                         ::testing::Values<int64_t>(1, 7, 8, 13, 16, 23, 31, 1000, 70001, 300007),
                         [](const ::testing::TestParamInfo<int64_t>& info) { return "n" + std::to_string(info.param); });

}  // namespace

namespace {

// arelu_parameter_gradients_*: one case of the definition in arelu.h, with the gradients it prescribes.
struct ParameterCase {
  const char* name;
  double neg_sum, pos_sum, alpha, beta;
  double want_grad_alpha;  // in double; compared after rounding to the element type
  double want_grad_beta;   // NaN: want NaN
};

const double kSigmoid2 = 1.0 / (1.0 + std::exp(-2.0));

const ParameterCase kParameterCases[] = {
    {"inside", 1.5, 2.0, 0.5, 0.0, 1.5, 0.5},  // sigmoid'(0) = 1/4
    {"lower_bound_passes", -3.0, 1.0, ARELU_ALPHA_MIN, 2.0, -3.0, (1.0 - kSigmoid2) * kSigmoid2},
    {"upper_bound_passes", -3.0, -1.0, ARELU_ALPHA_MAX, 2.0, -3.0, -(1.0 - kSigmoid2) * kSigmoid2},
    {"below_range", 4.0, 1.0, 0.005, 0.0, 0.0, 0.25},
    {"above_range", 4.0, 1.0, 1.2, 0.0, 0.0, 0.25},
    {"nan_alpha_gets_zero", 4.0, 1.0, kNaN, 0.0, 0.0, 0.25},
    {"clamped_alpha_zero_even_for_nan_sum", kNaN, 1.0, 1.2, 0.0, 0.0, 0.25},
    {"nan_sum_inside_stays_nan", kNaN, 1.0, 0.5, 0.0, kNaN, 0.25},
    {"infinite_sum_inside", kInf, -kInf, 0.5, 0.0, kInf, -kInf},
    {"nan_beta", 1.0, 1.0, 0.5, kNaN, 1.0, kNaN},
    {"nan_pos_sum", 1.0, kNaN, 0.5, 1.0, 1.0, kNaN},
    // A sum that float does not hold: rounded to T first, then each product rounded in T, as the reference does.
    {"sum_rounded_to_the_element_type", 1.0, 0.1, 0.5, 2.0, 1.0, 0.1 * (1.0 - kSigmoid2) * kSigmoid2},
};

bool same_or_both_nan(double got, double want) { return std::isnan(want) ? std::isnan(got) : got == want; }

class ParameterGradients : public ::testing::TestWithParam<ParameterCase> {
 protected:
  template <class T>
  void check() {
    const ParameterCase& p = GetParam();
    const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
    T ga = T(-7), gb = T(-7);
    ASSERT_EQ(arelu::abi::parameter_gradients(&p.neg_sum, &p.pos_sum, &alpha, &beta, &ga, &gb, 1), ARELU_OK);
    const T want_ga = static_cast<T>(p.want_grad_alpha);
    EXPECT_TRUE(same_or_both_nan(ga, want_ga)) << ga << " want " << want_ga;
    const T want_gb = static_cast<T>(p.want_grad_beta);
    if (!std::isfinite(p.want_grad_beta)) {
      EXPECT_TRUE(same_or_both_nan(gb, want_gb)) << gb << " want " << want_gb;
    } else {
      // libtorch's sigmoid backward in T, g * (1 - s) * s with its sigmoid 1 / (1 + exp(-beta)): to the bit.
      const T s = T(1) / (T(1) + std::exp(-beta));
      EXPECT_EQ(gb, static_cast<T>(p.pos_sum) * (T(1) - s) * s);
      // ... and a few ulps from sigmoid' in double at these betas.
      EXPECT_NEAR(gb, want_gb, 8 * std::numeric_limits<T>::epsilon() * std::fabs(want_gb)) << gb;
    }
  }
};

// In float32, sigmoid(beta) rounds to 1 from beta = 17 on: the reference's d b / d beta, g * (1 - s) * s in
// float, is then 0 (and NaN for an infinite sum), where sigmoid' in double would still be about 4e-8.
TEST(ParameterGradientsFloat32, SigmoidSaturatesAsTheReferencesDoes) {
  const double neg = 1.0;
  const float kAlphaInside = 0.5f;
  for (const float beta : {17.0f, 20.0f, 40.0f}) {
    float ga = -7, gb = -7;
    const double pos = 3.0;
    ASSERT_EQ(arelu::abi::parameter_gradients(&neg, &pos, &kAlphaInside, &beta, &ga, &gb, 1), ARELU_OK);
    EXPECT_EQ(gb, 0.0f) << "beta " << beta;
    const double infinite = kInf;
    ASSERT_EQ(arelu::abi::parameter_gradients(&neg, &infinite, &kAlphaInside, &beta, &ga, &gb, 1), ARELU_OK);
    EXPECT_TRUE(std::isnan(gb)) << "beta " << beta << ": " << gb;
  }
  // beta = 15: (1 - s) is a few float ulps below 1, so the product is well off sigmoid'(15) in double (15 % for the
  // sum of the Java test's inputs); the reference's float product is what counts.
  const float beta = 15.0f;
  const double pos = 1.0;
  float ga = -7, gb = -7;
  ASSERT_EQ(arelu::abi::parameter_gradients(&neg, &pos, &kAlphaInside, &beta, &ga, &gb, 1), ARELU_OK);
  const float s = 1.0f / (1.0f + std::exp(-15.0f));
  EXPECT_EQ(gb, (1.0f - s) * s);
}

TEST_P(ParameterGradients, Float32) { check<float>(); }
TEST_P(ParameterGradients, Float64) { check<double>(); }

INSTANTIATE_TEST_SUITE_P(Cases, ParameterGradients, ::testing::ValuesIn(kParameterCases),
                         [](const ::testing::TestParamInfo<ParameterCase>& info) { return info.param.name; });

// arelu_scales_*: the effective scales as the reference forms them in the element type.
struct ScaleCase {
  const char* name;
  double alpha, beta;
};

const ScaleCase kScaleCases[] = {
    {"inside", 0.3, 0.0},        {"below", 0.001, 2.0},          {"above", 1.5, -2.0},
    {"lower_bound", ARELU_ALPHA_MIN, 0.7}, {"upper_bound", ARELU_ALPHA_MAX, -0.7}, {"nan_alpha", kNaN, 1.0},
    {"nan_beta", 0.5, kNaN},     {"large_beta", 0.5, 40.0},       {"negative_beta", 0.5, -40.0},
    {"infinite_beta", 0.5, kInf},
};

class Scales : public ::testing::TestWithParam<ScaleCase> {
 protected:
  template <class T>
  void check() {
    const ScaleCase& c = GetParam();
    const T alpha = static_cast<T>(c.alpha), beta = static_cast<T>(c.beta);
    T neg = T(-7), pos = T(-7);
    ASSERT_EQ(arelu::abi::scales(&alpha, &beta, &neg, &pos, 1), ARELU_OK);
    // clamp in T, NaN passing through as torch.clamp lets it.
    const T lo = static_cast<T>(ARELU_ALPHA_MIN), hi = static_cast<T>(ARELU_ALPHA_MAX);
    const T want_neg = std::isnan(alpha) ? alpha : std::min(std::max(alpha, lo), hi);
    EXPECT_TRUE(same_or_both_nan(neg, want_neg)) << neg << " want " << want_neg;
    // 1 + sigmoid(beta): libtorch's element-wise sigmoid, 1 / (1 + exp(-beta)) in T, then the addition in T.
    const T want_pos = T(1) + T(1) / (T(1) + std::exp(-beta));
    EXPECT_TRUE(same_or_both_nan(pos, want_pos)) << pos << " want " << want_pos;
  }
};

TEST_P(Scales, Float32) { check<float>(); }
TEST_P(Scales, Float64) { check<double>(); }

INSTANTIATE_TEST_SUITE_P(Cases, Scales, ::testing::ValuesIn(kScaleCases),
                         [](const ::testing::TestParamInfo<ScaleCase>& info) { return info.param.name; });

// Values the rule fixes exactly, and the argument errors of the ABI.
TEST(ScalesExact, KnownValuesAndStatusCodes) {
  const float alpha[] = {0.5f, 2.0f}, beta[] = {0.0f, 40.0f};
  float neg[2], pos[2];
  ASSERT_EQ(arelu::abi::scales(alpha, beta, neg, pos, 2), ARELU_OK);
  EXPECT_EQ(neg[0], 0.5f);
  EXPECT_EQ(neg[1], static_cast<float>(ARELU_ALPHA_MAX));
  EXPECT_EQ(pos[0], 1.5f);
  EXPECT_EQ(pos[1], 2.0f);
  // The default beta = 2: libtorch's float sigmoid plus one is 0x1.e17beap+0; a sigmoid in double rounded to
  // float before the addition rounds twice and gives the next float, 0x1.e17becp+0.
  const float default_alpha = 0.9f, default_beta = 2.0f;
  ASSERT_EQ(arelu::abi::scales(&default_alpha, &default_beta, neg, pos, 1), ARELU_OK);
  EXPECT_EQ(pos[0], 0x1.e17beap+0f);
  EXPECT_EQ(arelu::abi::scales(alpha, beta, neg, pos, -1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu::abi::scales(alpha, nullptr, neg, pos, 1), ARELU_ERR_NULL_POINTER);
  const double* none = nullptr;
  double* nothing = nullptr;
  EXPECT_EQ(arelu_scales_f64(none, none, nothing, nothing, 0), ARELU_OK);
}

// The clamp-range test is made in alpha's own type, as torch.clamp compares: the float next to a bound,
// outside it, gets no gradient although it is within float rounding of the bound.
TEST(ParameterGradientsRange, BoundsComparedInTheElementType) {
  const double ns = 2.0, ps = 0.0;
  float ga, gb;
  for (const float alpha : {std::nextafter(static_cast<float>(ARELU_ALPHA_MIN), 0.0f),
                            std::nextafter(static_cast<float>(ARELU_ALPHA_MAX), 1.0f)}) {
    ASSERT_EQ(arelu::abi::parameter_gradients(&ns, &ps, &alpha, &alpha, &ga, &gb, 1), ARELU_OK);
    EXPECT_EQ(ga, 0.0f) << alpha;
  }
  for (const double alpha : {std::nextafter(ARELU_ALPHA_MIN, 0.0), std::nextafter(ARELU_ALPHA_MAX, 1.0)}) {
    double gad, gbd;
    ASSERT_EQ(arelu::abi::parameter_gradients(&ns, &ps, &alpha, &alpha, &gad, &gbd, 1), ARELU_OK);
    EXPECT_EQ(gad, 0.0) << alpha;
  }
}

// Channel-wise: each channel by its own pair, in one call; argument errors as everywhere in the ABI.
TEST(ParameterGradientsChannels, EachChannelByItsOwnPairAndStatusCodes) {
  const std::vector<double> ns = {1.0, 2.0, 3.0}, ps = {4.0, -4.0, 8.0};
  const std::vector<double> alpha = {0.5, 1.5, 0.99}, beta = {0.0, 0.0, 0.0};
  std::vector<double> ga(3, -7), gb(3, -7);
  ASSERT_EQ(arelu::abi::parameter_gradients(ns.data(), ps.data(), alpha.data(), beta.data(), ga.data(), gb.data(), 3),
            ARELU_OK);
  EXPECT_EQ(ga, (std::vector<double>{1.0, 0.0, 3.0}));
  EXPECT_EQ(gb, (std::vector<double>{1.0, -1.0, 2.0}));
  EXPECT_EQ(arelu::abi::parameter_gradients(ns.data(), ps.data(), alpha.data(), beta.data(), ga.data(), gb.data(), -1),
            ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu::abi::parameter_gradients(ns.data(), nullptr, alpha.data(), beta.data(), ga.data(), gb.data(), 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::parameter_gradients(ns.data(), ps.data(), alpha.data(), beta.data(), ga.data(), nullptr, 1),
            ARELU_ERR_NULL_POINTER);
  const double* none = nullptr;
  float* nothing = nullptr;
  EXPECT_EQ(arelu_parameter_gradients_f32(none, none, nothing, nothing, nothing, nothing, 0), ARELU_OK);
}

// The one-call scalar form from the raw parameters gives, bit for bit, what the three calls it stands for give
// (scales, kernel, parameter gradients): alpha inside and outside the clamp, NaN parameters, NaN and infinite
// inputs, in place, one thread and two, and the argument errors.
template <class T>
void check_params_form_is_the_three_calls() {
  const int64_t n = 100003;
  const std::vector<T> x_edges = cast<T>(make_data(n, 5, true));
  const std::vector<T> g_edges = cast<T>(make_data(n, 6, true));
  // The edge points make both sums NaN, and so every parameter gradient that depends on them: the gradients are
  // compared as values on the same data with the NaN and infinities replaced by finite values.
  const std::vector<T> x_finite = finite_only(x_edges), g_finite = finite_only(g_edges);
  const std::vector<std::pair<double, double>> parameters = {{0.9, 2.0}, {1.3, -0.5}, {0.001, 40.0}, {kNaN, 1.0},
                                                               {0.5, kNaN}};
  for (const bool finite : {false, true}) {
    SCOPED_TRACE(finite ? "finite data" : "edge points");
    const std::vector<T>& x = finite ? x_finite : x_edges;
    const std::vector<T>& g = finite ? g_finite : g_edges;
    for (const auto& [alpha_value, beta_value] : parameters) {
      for (const int nt : {1, 2}) {
        const T alpha = static_cast<T>(alpha_value), beta = static_cast<T>(beta_value);
        T neg, pos;
        ASSERT_EQ(arelu::abi::scales(&alpha, &beta, &neg, &pos, 1), ARELU_OK);
        std::vector<T> y_want(n), y_got(n), gi_want(n), gi_got(n);
        ASSERT_EQ(arelu::abi::forward(x.data(), y_want.data(), n, neg, pos, nt), ARELU_OK);
        ASSERT_EQ(arelu::abi::forward_params(x.data(), y_got.data(), n, &alpha, &beta, nt), ARELU_OK);
        EXPECT_EQ(std::memcmp(y_got.data(), y_want.data(), n * sizeof(T)), 0) << alpha_value << " " << beta_value;
        double ns, ps;
        T ga_want, gb_want, ga_got = -7, gb_got = -7;
        ASSERT_EQ(arelu::abi::backward(g.data(), x.data(), gi_want.data(), n, neg, pos, &ns, &ps, nt), ARELU_OK);
        if (finite) ASSERT_TRUE(std::isfinite(ns) && std::isfinite(ps)) << ns << " " << ps;
        ASSERT_EQ(arelu::abi::parameter_gradients(&ns, &ps, &alpha, &beta, &ga_want, &gb_want, 1), ARELU_OK);
        ASSERT_EQ(
            arelu::abi::backward_params(g.data(), x.data(), gi_got.data(), n, &alpha, &beta, &ga_got, &gb_got, nt),
            ARELU_OK);
        EXPECT_EQ(std::memcmp(gi_got.data(), gi_want.data(), n * sizeof(T)), 0) << alpha_value << " " << beta_value;
        EXPECT_TRUE(bits_equal(ga_got, ga_want) || (std::isnan(ga_got) && std::isnan(ga_want)))
            << ga_got << " " << ga_want;
        EXPECT_TRUE(bits_equal(gb_got, gb_want) || (std::isnan(gb_got) && std::isnan(gb_want)))
            << gb_got << " " << gb_want;
        // The parameters by value: the same as from their memory.
        std::vector<T> gi_values(n);
        ga_got = gb_got = -7;
        ASSERT_EQ(
            arelu::abi::backward_values(g.data(), x.data(), gi_values.data(), n, alpha, beta, &ga_got, &gb_got, nt),
            ARELU_OK);
        EXPECT_EQ(std::memcmp(gi_values.data(), gi_want.data(), n * sizeof(T)), 0);
        EXPECT_TRUE(bits_equal(ga_got, ga_want) || (std::isnan(ga_got) && std::isnan(ga_want)));
        EXPECT_TRUE(bits_equal(gb_got, gb_want) || (std::isnan(gb_got) && std::isnan(gb_want)));
        // In place: the gradient over grad_out, as arelu_backward_* allows.
        std::vector<T> in_place = g;
        ASSERT_EQ(arelu::abi::backward_params(in_place.data(), x.data(), in_place.data(), n, &alpha, &beta, &ga_got,
                                              &gb_got, nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(in_place.data(), gi_want.data(), n * sizeof(T)), 0);
        EXPECT_TRUE(bits_equal(ga_got, ga_want) || (std::isnan(ga_got) && std::isnan(ga_want)));
        EXPECT_TRUE(bits_equal(gb_got, gb_want) || (std::isnan(gb_got) && std::isnan(gb_want)));
        // grad_in over alpha's memory (and y over beta's): the parameters are read before anything is written.
        std::vector<T> over_alpha(n);
        over_alpha[0] = alpha;
        ga_got = gb_got = -7;
        ASSERT_EQ(arelu::abi::backward_params(g.data(), x.data(), over_alpha.data(), n, over_alpha.data(), &beta,
                                              &ga_got, &gb_got, nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(over_alpha.data(), gi_want.data(), n * sizeof(T)), 0);
        EXPECT_TRUE(bits_equal(ga_got, ga_want) || (std::isnan(ga_got) && std::isnan(ga_want)));
        EXPECT_TRUE(bits_equal(gb_got, gb_want) || (std::isnan(gb_got) && std::isnan(gb_want)));
        std::vector<T> over_beta(n);
        over_beta[0] = beta;
        ga_got = gb_got = -7;
        ASSERT_EQ(arelu::abi::backward_params(g.data(), x.data(), over_beta.data(), n, &alpha, over_beta.data(),
                                              &ga_got, &gb_got, nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(over_beta.data(), gi_want.data(), n * sizeof(T)), 0);
        EXPECT_TRUE(bits_equal(ga_got, ga_want) || (std::isnan(ga_got) && std::isnan(ga_want)));
        EXPECT_TRUE(bits_equal(gb_got, gb_want) || (std::isnan(gb_got) && std::isnan(gb_want)));
        over_beta[0] = beta;
        ASSERT_EQ(arelu::abi::forward_params(x.data(), over_beta.data(), n, &alpha, over_beta.data(), nt), ARELU_OK);
        EXPECT_EQ(std::memcmp(over_beta.data(), y_want.data(), n * sizeof(T)), 0);
      }
    }
  }
  const std::vector<T>& x = x_edges;
  const std::vector<T>& g = g_edges;
  const T alpha = 0.5, beta = 0.0;
  T ga, gb;
  T y[1];
  EXPECT_EQ(arelu::abi::forward_params(x.data(), y, 1, &alpha, nullptr, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::forward_params(x.data(), y, -1, &alpha, &beta, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu::abi::backward_params(g.data(), x.data(), y, 1, &alpha, &beta, &ga, nullptr, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::backward_params(g.data(), x.data(), y, 1, nullptr, &beta, &ga, &gb, 1), ARELU_ERR_NULL_POINTER);
  // A refused call writes nothing, and the parameters are required whatever the size.
  y[0] = T(-7);
  EXPECT_EQ(arelu::abi::backward_params(g.data(), x.data(), y, 1, &alpha, &beta, nullptr, &gb, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(y[0], T(-7));
  EXPECT_EQ(arelu::abi::forward_params(static_cast<const T*>(nullptr), nullptr, 0, &alpha, nullptr, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::forward_params(static_cast<const T*>(nullptr), nullptr, 0, &alpha, &beta, 1), ARELU_OK);
  // Empty input: no element is read, the parameters' gradients are those of zero sums.
  ga = gb = -7;
  ASSERT_EQ(arelu::abi::backward_params(static_cast<const T*>(nullptr), nullptr, nullptr, 0, &alpha, &beta, &ga, &gb, 1),
            ARELU_OK);
  EXPECT_EQ(ga, T(0));
  EXPECT_EQ(gb, T(0));
}
TEST(ParamsForm, Float32IsTheThreeCalls) { check_params_form_is_the_three_calls<float>(); }
TEST(ParamsForm, Float64IsTheThreeCalls) { check_params_form_is_the_three_calls<double>(); }

// The one-call channel-wise form from the raw parameters gives, bit for bit, what the three calls it stands for
// give (scales, channel-wise kernel, parameter gradients): every schedule's shapes, channels with alpha inside
// and outside the clamp and NaN parameters side by side, in place, grad_in over the parameters' memory, one
// thread and two, and the argument errors.
template <class T>
void check_channels_params_form_is_the_three_calls() {
  const std::vector<Dims> shapes = {{2, 3, 70000}, {1000, 17, 7}, {32768, 32, 1}, {128, 64, 49}, {4, 2, 40000},
                                    {3, 5, 1},     {0, 3, 5},     {3, 2, 0}};
  const std::vector<double> alphas = {0.9, 1.3, 0.001, kNaN, 0.5, 0.01, 0.99};
  const std::vector<double> betas = {2.0, -0.5, 40.0, 1.0, kNaN, -3.0, 0.0};
  for (const Dims& d : shapes) {
    SCOPED_TRACE("shape " + std::to_string(d.outer) + "x" + std::to_string(d.channels) + "x" +
                 std::to_string(d.inner));
    const int64_t n = d.outer * d.channels * d.inner, ch = d.channels;
    const std::vector<T> x_edges = cast<T>(make_data(n, 15, true));
    const std::vector<T> g_edges = cast<T>(make_data(n, 16, true));
    // The edge points make the sums of the channels they fall in NaN (all of them with few channels), and so
    // the parameter gradients: compared as values on the same data with NaN and infinities replaced.
    const std::vector<T> x_finite = finite_only(x_edges), g_finite = finite_only(g_edges);
    std::vector<T> alpha(ch), beta(ch);
    for (int64_t c = 0; c < ch; ++c) {
      alpha[c] = static_cast<T>(alphas[c % alphas.size()]);
      beta[c] = static_cast<T>(betas[(c / alphas.size() + c) % betas.size()]);
    }
    std::vector<T> neg(ch), pos(ch);
    ASSERT_EQ(arelu::abi::scales(alpha.data(), beta.data(), neg.data(), pos.data(), ch), ARELU_OK);
    for (const bool finite : {false, true}) {
      SCOPED_TRACE(finite ? "finite data" : "edge points");
      const std::vector<T>& x = finite ? x_finite : x_edges;
      const std::vector<T>& g = finite ? g_finite : g_edges;
      for (const int nt : {1, 2}) {
        std::vector<T> y_want(n), y_got(n), gi_want(n), gi_got(n);
        ASSERT_EQ(
            arelu::abi::forward_channels(x.data(), y_want.data(), d.outer, ch, d.inner, neg.data(), pos.data(), nt),
            ARELU_OK);
        ASSERT_EQ(arelu::abi::forward_channels_params(x.data(), y_got.data(), d.outer, ch, d.inner, alpha.data(),
                                                      beta.data(), nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(y_got.data(), y_want.data(), n * sizeof(T)), 0);
        std::vector<double> ns(ch), ps(ch);
        std::vector<T> ga_want(ch), gb_want(ch), ga_got(ch, T(-7)), gb_got(ch, T(-7));
        ASSERT_EQ(arelu::abi::backward_channels(g.data(), x.data(), gi_want.data(), d.outer, ch, d.inner, neg.data(),
                                                pos.data(), ns.data(), ps.data(), nt),
                  ARELU_OK);
        for (int64_t c = 0; finite && c < ch; ++c) {
          ASSERT_TRUE(std::isfinite(ns[c]) && std::isfinite(ps[c])) << "channel " << c;
        }
        ASSERT_EQ(arelu::abi::parameter_gradients(ns.data(), ps.data(), alpha.data(), beta.data(), ga_want.data(),
                                                  gb_want.data(), ch),
                  ARELU_OK);
        const auto same_gradients = [&](const std::vector<T>& ga, const std::vector<T>& gb) {
          for (int64_t c = 0; c < ch; ++c) {
            EXPECT_TRUE(bits_equal(ga[c], ga_want[c]) || (std::isnan(ga[c]) && std::isnan(ga_want[c])))
                << "channel " << c << ": " << ga[c] << " " << ga_want[c];
            EXPECT_TRUE(bits_equal(gb[c], gb_want[c]) || (std::isnan(gb[c]) && std::isnan(gb_want[c])))
                << "channel " << c << ": " << gb[c] << " " << gb_want[c];
          }
        };
        ASSERT_EQ(arelu::abi::backward_channels_params(g.data(), x.data(), gi_got.data(), d.outer, ch, d.inner,
                                                       alpha.data(), beta.data(), ga_got.data(), gb_got.data(), nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(gi_got.data(), gi_want.data(), n * sizeof(T)), 0);
        same_gradients(ga_got, gb_got);
        // In place, and without grad_in: the same gradients.
        std::vector<T> in_place = g;
        std::fill(ga_got.begin(), ga_got.end(), T(-7));
        ASSERT_EQ(arelu::abi::backward_channels_params(in_place.data(), x.data(), in_place.data(), d.outer, ch, d.inner,
                                                       alpha.data(), beta.data(), ga_got.data(), gb_got.data(), nt),
                  ARELU_OK);
        EXPECT_EQ(std::memcmp(in_place.data(), gi_want.data(), n * sizeof(T)), 0);
        same_gradients(ga_got, gb_got);
        std::fill(gb_got.begin(), gb_got.end(), T(-7));
        ASSERT_EQ(arelu::abi::backward_channels_params(g.data(), x.data(), nullptr, d.outer, ch, d.inner, alpha.data(),
                                                       beta.data(), ga_got.data(), gb_got.data(), nt),
                  ARELU_OK);
        same_gradients(ga_got, gb_got);
        // grad_in over alpha's memory and y over beta's: the parameters are copied before anything is written.
        if (n >= ch) {
          std::vector<T> over_alpha(n);
          std::copy(alpha.begin(), alpha.end(), over_alpha.begin());
          ASSERT_EQ(arelu::abi::backward_channels_params(g.data(), x.data(), over_alpha.data(), d.outer, ch, d.inner,
                                                         over_alpha.data(), beta.data(), ga_got.data(), gb_got.data(),
                                                         nt),
                    ARELU_OK);
          EXPECT_EQ(std::memcmp(over_alpha.data(), gi_want.data(), n * sizeof(T)), 0);
          same_gradients(ga_got, gb_got);
          std::vector<T> over_beta(n);
          std::copy(beta.begin(), beta.end(), over_beta.begin());
          ASSERT_EQ(arelu::abi::forward_channels_params(x.data(), over_beta.data(), d.outer, ch, d.inner, alpha.data(),
                                                        over_beta.data(), nt),
                    ARELU_OK);
          EXPECT_EQ(std::memcmp(over_beta.data(), y_want.data(), n * sizeof(T)), 0);
        }
      }
    }
  }
  // Argument errors: checked before anything is written.
  const T alpha[2] = {T(0.5), T(0.2)}, beta[2] = {T(0), T(1)};
  const T x[4] = {T(1), T(-1), T(2), T(-2)};
  T y[4] = {T(-7), T(-7), T(-7), T(-7)};
  T ga[2], gb[2];
  EXPECT_EQ(arelu::abi::forward_channels_params(x, y, 2, 2, 1, alpha, nullptr, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::forward_channels_params(x, y, 2, -2, 1, alpha, beta, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu::abi::forward_channels_params(x, y, INT64_MAX, 2, 2, alpha, beta, 1), ARELU_ERR_BAD_SIZE);
  EXPECT_EQ(arelu::abi::backward_channels_params(x, x, y, 2, 2, 1, alpha, beta, ga, nullptr, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::backward_channels_params(x, x, y, 2, 2, 1, nullptr, beta, ga, gb, 1), ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::backward_channels_params(x, nullptr, y, 2, 2, 1, alpha, beta, ga, gb, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(y[0], T(-7));
  // The parameters are required whatever the input's size; an empty input gives zero-sum gradients.
  EXPECT_EQ(arelu::abi::forward_channels_params(static_cast<const T*>(nullptr), nullptr, 0, 2, 1, alpha, nullptr, 1),
            ARELU_ERR_NULL_POINTER);
  EXPECT_EQ(arelu::abi::forward_channels_params(static_cast<const T*>(nullptr), nullptr, 0, 2, 1, alpha, beta, 1),
            ARELU_OK);
  ga[0] = ga[1] = gb[0] = gb[1] = T(-7);
  ASSERT_EQ(arelu::abi::backward_channels_params(static_cast<const T*>(nullptr), nullptr, nullptr, 0, 2, 1, alpha,
                                                 beta, ga, gb, 1),
            ARELU_OK);
  EXPECT_EQ(ga[1], T(0));
  EXPECT_EQ(gb[1], T(0));
  // An empty input with more channels than memory can hold: a status, no allocation attempted.
  const int64_t too_many = INT64_MAX / 8;
  EXPECT_EQ(arelu::abi::backward_channels_params(static_cast<const T*>(nullptr), nullptr, nullptr, 0, too_many, 1,
                                                 alpha, beta, ga, gb, 1),
            ARELU_ERR_NO_MEMORY);
  // No channels: nothing is read, nothing is required.
  EXPECT_EQ(arelu::abi::backward_channels_params(static_cast<const T*>(nullptr), nullptr, nullptr, 3, 0, 5,
                                                 static_cast<const T*>(nullptr), nullptr, nullptr, nullptr, 1),
            ARELU_OK);
}
TEST(ChannelsParamsForm, Float32IsTheThreeCalls) { check_channels_params_form_is_the_three_calls<float>(); }
TEST(ChannelsParamsForm, Float64IsTheThreeCalls) { check_channels_params_form_is_the_three_calls<double>(); }

}  // namespace

