// CPU kernels of the C ABI in arelu.h: one pass forward, one pass backward (input gradient and both
// parameter sums together).
//
// Determinism: every reduction is defined by the shape alone. A buffer is cut into chunks of kChunk
// elements; a chunk is summed in double with kLanes interleaved accumulators combined in a fixed tree;
// chunk sums are folded left to right. Threads only decide who computes which chunk, never the order
// of the additions, so the sums are bit-identical for any thread count.
#include "arelu.h"
#include "arelu_elements.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ARELU_X86_DISPATCH 1
#endif

namespace {

// Reduction chunk; a constant so that chunk boundaries never depend on the thread count.
constexpr int64_t kChunk = 32768;
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 65536;
// Independent accumulators per chunk: break the serial dependence of a double sum so that the adds
// vectorize and pipeline, while keeping one fixed order. 16: each lane then gets one add per 16 elements,
// which hides the add latency even when a step handles 16 floats at once (AVX-512).
constexpr int kLanes = 16;
// Chunk sums are collected on the stack this many chunks at a time (one parallel region per wave),
// so a reduction never allocates.
constexpr int64_t kWave = 512;

using arelu::kernel::backward1;
using arelu::kernel::forward1;
using arelu::kernel::Sums;

// ---------------------------------------------------------------- ISA dispatch
//
// x86-64: the hot loops have AVX2 and AVX-512 versions (function-level target attributes, no -march flag),
// chosen at run time by what the CPU and OS support, else the SSE2 baseline runs. All of them use the same
// lanes, the same per-lane order and the same combining tree, and every product is rounded once, so they
// give the same bits. In the environment (read once, at load) ARELU_DISABLE_AVX512=1 stops at AVX2 and
// ARELU_DISABLE_AVX2=1 forces SSE2.
#if defined(ARELU_X86_DISPATCH)
enum Isa { kSse2 = 0, kAvx2 = 1, kAvx512 = 2 };
bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}
int detect_isa() {
  __builtin_cpu_init();  // may run from a static initializer, before libgcc's own
  // __builtin_cpu_supports also checks that the OS saves the ymm / zmm state.
  if (env_set("ARELU_DISABLE_AVX2") || __builtin_cpu_supports("avx2") == 0) return kSse2;
  if (env_set("ARELU_DISABLE_AVX512") || __builtin_cpu_supports("avx512f") == 0) return kAvx2;
  return kAvx512;
}
const int g_detected_isa = detect_isa();
// Tests cap the level through arelu::detail::set_max_isa.
int g_max_isa = kAvx512;
inline int isa() { return g_detected_isa < g_max_isa ? g_detected_isa : g_max_isa; }
#endif

// When both operands of an addition are NaN, x86 returns the first one's, and the compiler may swap the
// operands of a commutative add (it does, differently per instantiation and per ISA); only the sign and
// payload of a NaN sum can differ that way, never whether it is NaN. So NaN sums are returned as the one
// canonical quiet NaN, which keeps "bit-identical" true for NaN results too.
inline double canonical(double v) { return v != v ? std::numeric_limits<double>::quiet_NaN() : v; }

int threads_for(int64_t n, int64_t units, int num_threads) {
  if (num_threads <= 1 || n < kParallelMin) return 1;
  return static_cast<int>(std::min<int64_t>(num_threads, units));
}

// y == x is handled by a separate loop over one pointer: the compiler then knows the dependence
// distance is zero and vectorizes without the runtime overlap check that the in-place case would fail.
template <class T>
void forward_range_base(const T* x, T* y, int64_t m, T a, T b) {
  if (x == y) {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(y[i], a, b);
  } else {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(x[i], a, b);
  }
}

#if defined(ARELU_X86_DISPATCH)
// The same loops compiled for AVX2 (8 floats / 4 doubles per vector), and written for AVX-512. One
// multiply per element either way, so the results are the same bits. No FMA in the targets: nothing can be
// contracted.
template <class T>
__attribute__((target("avx2"))) void forward_range_avx2(const T* x, T* y, int64_t m, T a, T b) {
  if (x == y) {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(y[i], a, b);
  } else {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(x[i], a, b);
  }
}

// AVX-512: the selects of forward1 as masked multiplies, 16 floats / 8 doubles per vector. x itself where
// no mask is set (0, NaN), x * a and x * b where they are: the same single products as forward1.
__attribute__((target("avx512f"))) inline void forward_vec_avx512(const float* x, float* y, int64_t i, __m512 av,
                                                                  __m512 bv) {
  const __m512 xv = _mm512_loadu_ps(x + i);
  const __m512 zero = _mm512_setzero_ps();
  __m512 r = _mm512_mask_mul_ps(xv, _mm512_cmp_ps_mask(xv, zero, _CMP_LT_OQ), xv, av);
  r = _mm512_mask_mul_ps(r, _mm512_cmp_ps_mask(xv, zero, _CMP_GT_OQ), xv, bv);
  _mm512_storeu_ps(y + i, r);
}
__attribute__((target("avx512f"))) inline void forward_vec_avx512(const double* x, double* y, int64_t i, __m512d av,
                                                                  __m512d bv) {
  const __m512d xv = _mm512_loadu_pd(x + i);
  const __m512d zero = _mm512_setzero_pd();
  __m512d r = _mm512_mask_mul_pd(xv, _mm512_cmp_pd_mask(xv, zero, _CMP_LT_OQ), xv, av);
  r = _mm512_mask_mul_pd(r, _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ), xv, bv);
  _mm512_storeu_pd(y + i, r);
}
__attribute__((target("avx512f"))) inline __m512 splat_avx512(float v) { return _mm512_set1_ps(v); }
__attribute__((target("avx512f"))) inline __m512d splat_avx512(double v) { return _mm512_set1_pd(v); }

template <class T>
__attribute__((target("avx512f"))) void forward_range_avx512(const T* x, T* y, int64_t m, T a, T b) {
  constexpr int64_t w = 64 / sizeof(T);
  const auto av = splat_avx512(a);
  const auto bv = splat_avx512(b);
  int64_t i = 0;
  for (; i + w <= m; i += w) forward_vec_avx512(x, y, i, av, bv);  // y == x is fine: load before store
  for (; i < m; ++i) y[i] = forward1(x[i], a, b);
}
#endif

template <class T>
void forward_range(const T* x, T* y, int64_t m, T a, T b) {
  // The reference relu(x) * b - relu(-x) * a is NaN everywhere once a or b is NaN (0 * NaN included),
  // which the selects of forward1 would not give at x == 0 nor on the other side of 0. The scales are
  // uniform over the range, so one test here keeps the loops below free of it.
  if (arelu::kernel::scales_make_output_nan(a, b)) {
    std::fill(y, y + m, std::numeric_limits<T>::quiet_NaN());
    return;
  }
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return forward_range_avx512(x, y, m, a, b);
    case kAvx2: return forward_range_avx2(x, y, m, a, b);
    default: break;
  }
#endif
  forward_range_base(x, y, m, a, b);
}

// Where the input gradient goes; three policies so each loop sees exactly its aliasing.
template <class T>
struct NoGrad {
  const T* g;
  T load(int64_t i) const { return g[i]; }
  void store(int64_t, T) const {}
  T* out(int64_t) const { return nullptr; }
  NoGrad at(int64_t off) const { return {g + off}; }
};
template <class T>
struct SeparateGrad {
  const T* g;
  T* gi;
  T load(int64_t i) const { return g[i]; }
  void store(int64_t i, T v) const { gi[i] = v; }
  T* out(int64_t i) const { return gi + i; }
  SeparateGrad at(int64_t off) const { return {g + off, gi + off}; }
};
template <class T>
struct InPlaceGrad {
  T* g;
  T load(int64_t i) const { return g[i]; }
  void store(int64_t i, T v) const { g[i] = v; }
  T* out(int64_t i) const { return g + i; }
  InPlaceGrad at(int64_t off) const { return {g + off}; }
};

// kLanes running sums per side. Element i of a piece goes to lane i % kLanes.
struct Lanes {
  double neg[kLanes] = {};
  double pos[kLanes] = {};
};

#if defined(__SSE2__)
// x86-64: the kLanes-element step written with SSE2 (the baseline of every x86-64 CPU, so no dispatch).
// gcc does not vectorize the lane-wise double sums with their selects by itself; it falls back to
// scalar cmov code at a fifth of memory bandwidth. Masks from the "not >=" / "not <=" compares are
// all-ones exactly where backward1 selects (NaN included), and and-ing with them selects +0 otherwise.
// Lanes 2k and 2k + 1 of a side are accumulator k (8 xmm registers a side).
inline void add_lanes(__m128d& neg, __m128d& pos, __m128d g, __m128d x) {
  const __m128d zero = _mm_setzero_pd();
  const __m128d p = _mm_mul_pd(g, x);
  neg = _mm_add_pd(neg, _mm_and_pd(p, _mm_cmpnge_pd(x, zero)));
  pos = _mm_add_pd(pos, _mm_and_pd(p, _mm_cmpnle_pd(x, zero)));
}

inline void step(const float* g, const float* x, float* out, float a, float b, __m128d* neg, __m128d* pos) {
  for (int h = 0; h < kLanes / 4; ++h) {
    const __m128 xv = _mm_loadu_ps(x + 4 * h);
    const __m128 gv = _mm_loadu_ps(g + 4 * h);
    if (out != nullptr) {
      const __m128 zero = _mm_setzero_ps();
      const __m128 gb = _mm_and_ps(_mm_mul_ps(gv, _mm_set1_ps(b)), _mm_cmpnle_ps(xv, zero));
      const __m128 ga = _mm_and_ps(_mm_mul_ps(gv, _mm_set1_ps(a)), _mm_cmpnge_ps(xv, zero));
      _mm_storeu_ps(out + 4 * h, _mm_add_ps(gb, ga));
    }
    add_lanes(neg[2 * h], pos[2 * h], _mm_cvtps_pd(gv), _mm_cvtps_pd(xv));
    add_lanes(neg[2 * h + 1], pos[2 * h + 1], _mm_cvtps_pd(_mm_movehl_ps(gv, gv)),
              _mm_cvtps_pd(_mm_movehl_ps(xv, xv)));
  }
}

inline void step(const double* g, const double* x, double* out, double a, double b, __m128d* neg, __m128d* pos) {
  for (int h = 0; h < kLanes / 2; ++h) {
    const __m128d xv = _mm_loadu_pd(x + 2 * h);
    const __m128d gv = _mm_loadu_pd(g + 2 * h);
    if (out != nullptr) {
      const __m128d zero = _mm_setzero_pd();
      const __m128d gb = _mm_and_pd(_mm_mul_pd(gv, _mm_set1_pd(b)), _mm_cmpnle_pd(xv, zero));
      const __m128d ga = _mm_and_pd(_mm_mul_pd(gv, _mm_set1_pd(a)), _mm_cmpnge_pd(xv, zero));
      _mm_storeu_pd(out + 2 * h, _mm_add_pd(gb, ga));
    }
    add_lanes(neg[h], pos[h], gv, xv);
  }
}

template <class T, class IO>
int64_t backward_steps_sse2(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
  __m128d neg[kLanes / 2], pos[kLanes / 2];
  for (int k = 0; k < kLanes / 2; ++k) neg[k] = pos[k] = _mm_setzero_pd();
  int64_t i = 0;
  for (; i + kLanes <= m; i += kLanes) step(io.g + i, x + i, io.out(i), a, b, neg, pos);
  for (int k = 0; k < kLanes / 2; ++k) {
    _mm_storeu_pd(lanes.neg + 2 * k, neg[k]);
    _mm_storeu_pd(lanes.pos + 2 * k, pos[k]);
  }
  return i;
}

#if defined(ARELU_X86_DISPATCH)
// AVX2: lanes 4k..4k+3 of each side are ymm accumulator k (4 a side), so a step is the SSE2 step with the
// pairs of xmm operations fused; every value, and every addition into every lane, is the same.
#define ARELU_AVX2 __attribute__((target("avx2"), always_inline))
ARELU_AVX2 inline void add_lanes_avx2(__m256d& neg, __m256d& pos, __m256d g, __m256d x) {
  const __m256d zero = _mm256_setzero_pd();
  const __m256d p = _mm256_mul_pd(g, x);
  neg = _mm256_add_pd(neg, _mm256_and_pd(p, _mm256_cmp_pd(x, zero, _CMP_NGE_UQ)));
  pos = _mm256_add_pd(pos, _mm256_and_pd(p, _mm256_cmp_pd(x, zero, _CMP_NLE_UQ)));
}

ARELU_AVX2 inline void step_avx2(const float* g, const float* x, float* out, __m256 av, __m256 bv, __m256d* neg,
                                 __m256d* pos) {
  for (int h = 0; h < kLanes / 8; ++h) {
    // Widening straight from memory (vcvtps2pd ymm, m128) costs no shuffle for the upper half;
    // these loads come before the store below, which may overwrite g (in place).
    add_lanes_avx2(neg[2 * h], pos[2 * h], _mm256_cvtps_pd(_mm_loadu_ps(g + 8 * h)),
                   _mm256_cvtps_pd(_mm_loadu_ps(x + 8 * h)));
    add_lanes_avx2(neg[2 * h + 1], pos[2 * h + 1], _mm256_cvtps_pd(_mm_loadu_ps(g + 8 * h + 4)),
                   _mm256_cvtps_pd(_mm_loadu_ps(x + 8 * h + 4)));
    if (out != nullptr) {
      const __m256 xv = _mm256_loadu_ps(x + 8 * h);
      const __m256 gv = _mm256_loadu_ps(g + 8 * h);
      const __m256 zero = _mm256_setzero_ps();
      const __m256 gb = _mm256_and_ps(_mm256_mul_ps(gv, bv), _mm256_cmp_ps(xv, zero, _CMP_NLE_UQ));
      const __m256 ga = _mm256_and_ps(_mm256_mul_ps(gv, av), _mm256_cmp_ps(xv, zero, _CMP_NGE_UQ));
      _mm256_storeu_ps(out + 8 * h, _mm256_add_ps(gb, ga));
    }
  }
}

ARELU_AVX2 inline void step_avx2(const double* g, const double* x, double* out, __m256d av, __m256d bv,
                                 __m256d* neg, __m256d* pos) {
  const __m256d zero = _mm256_setzero_pd();
  for (int h = 0; h < kLanes / 4; ++h) {
    const __m256d xv = _mm256_loadu_pd(x + 4 * h);
    const __m256d gv = _mm256_loadu_pd(g + 4 * h);
    const __m256d mneg = _mm256_cmp_pd(xv, zero, _CMP_NGE_UQ);
    const __m256d mpos = _mm256_cmp_pd(xv, zero, _CMP_NLE_UQ);
    if (out != nullptr) {
      const __m256d gb = _mm256_and_pd(_mm256_mul_pd(gv, bv), mpos);
      const __m256d ga = _mm256_and_pd(_mm256_mul_pd(gv, av), mneg);
      _mm256_storeu_pd(out + 4 * h, _mm256_add_pd(gb, ga));
    }
    const __m256d p = _mm256_mul_pd(gv, xv);
    neg[h] = _mm256_add_pd(neg[h], _mm256_and_pd(p, mneg));
    pos[h] = _mm256_add_pd(pos[h], _mm256_and_pd(p, mpos));
  }
}

ARELU_AVX2 inline __m256 splat_avx2(float v) { return _mm256_set1_ps(v); }
ARELU_AVX2 inline __m256d splat_avx2(double v) { return _mm256_set1_pd(v); }

template <class T, class IO>
__attribute__((target("avx2"))) int64_t backward_steps_avx2(IO io, const T* x, int64_t m, T a, T b,
                                                            Lanes& lanes) {
  __m256d neg[kLanes / 4], pos[kLanes / 4];
  for (int k = 0; k < kLanes / 4; ++k) neg[k] = pos[k] = _mm256_setzero_pd();
  const auto av = splat_avx2(a);
  const auto bv = splat_avx2(b);
  int64_t i = 0;
  for (; i + kLanes <= m; i += kLanes) step_avx2(io.g + i, x + i, io.out(i), av, bv, neg, pos);
  for (int k = 0; k < kLanes / 4; ++k) {
    _mm256_storeu_pd(lanes.neg + 4 * k, neg[k]);
    _mm256_storeu_pd(lanes.pos + 4 * k, pos[k]);
  }
  return i;
}
#undef ARELU_AVX2

// AVX-512: lanes 8k..8k+7 of each side are zmm accumulator k (2 a side), selected with compare masks
// instead of and-masks. Adding +0.0 to a lane (what the and-masks do where nothing is selected) leaves it
// unchanged, as skipping the add does: a lane starts at +0.0, and a round-to-nearest sum is -0.0 only when
// both addends are. So every lane sees the same additions, in the same order, as on the other paths.
#define ARELU_AVX512 __attribute__((target("avx512f"), always_inline))
ARELU_AVX512 inline void step_avx512(const float* g, const float* x, float* out, __m512 av, __m512 bv,
                                     __m512d* neg, __m512d* pos) {
  const __m512 xv = _mm512_loadu_ps(x);
  const __m512 gv = _mm512_loadu_ps(g);
  const __m512 zero = _mm512_setzero_ps();
  const __mmask16 mneg = _mm512_cmp_ps_mask(xv, zero, _CMP_NGE_UQ);
  const __mmask16 mpos = _mm512_cmp_ps_mask(xv, zero, _CMP_NLE_UQ);
  for (int h = 0; h < 2; ++h) {
    // float * float is exact in double: the same product as every other path.
    const __m512d p = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(g + 8 * h)),
                                    _mm512_cvtps_pd(_mm256_loadu_ps(x + 8 * h)));
    neg[h] = _mm512_mask_add_pd(neg[h], static_cast<__mmask8>(mneg >> (8 * h)), neg[h], p);
    pos[h] = _mm512_mask_add_pd(pos[h], static_cast<__mmask8>(mpos >> (8 * h)), pos[h], p);
  }
  if (out != nullptr) {
    // gv was loaded before this store, which may overwrite g (in place).
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_maskz_mul_ps(mpos, gv, bv), _mm512_maskz_mul_ps(mneg, gv, av)));
  }
}

ARELU_AVX512 inline void step_avx512(const double* g, const double* x, double* out, __m512d av, __m512d bv,
                                     __m512d* neg, __m512d* pos) {
  const __m512d zero = _mm512_setzero_pd();
  for (int h = 0; h < 2; ++h) {
    const __m512d xv = _mm512_loadu_pd(x + 8 * h);
    const __m512d gv = _mm512_loadu_pd(g + 8 * h);
    const __mmask8 mneg = _mm512_cmp_pd_mask(xv, zero, _CMP_NGE_UQ);
    const __mmask8 mpos = _mm512_cmp_pd_mask(xv, zero, _CMP_NLE_UQ);
    const __m512d p = _mm512_mul_pd(gv, xv);
    neg[h] = _mm512_mask_add_pd(neg[h], mneg, neg[h], p);
    pos[h] = _mm512_mask_add_pd(pos[h], mpos, pos[h], p);
    if (out != nullptr) {
      _mm512_storeu_pd(out + 8 * h,
                       _mm512_add_pd(_mm512_maskz_mul_pd(mpos, gv, bv), _mm512_maskz_mul_pd(mneg, gv, av)));
    }
  }
}

template <class T, class IO>
__attribute__((target("avx512f"))) int64_t backward_steps_avx512(IO io, const T* x, int64_t m, T a, T b,
                                                                 Lanes& lanes) {
  static_assert(kLanes == 16, "two zmm registers of doubles hold the 16 lanes");
  __m512d neg[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  __m512d pos[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  const auto av = splat_avx512(a);
  const auto bv = splat_avx512(b);
  int64_t i = 0;
  for (; i + kLanes <= m; i += kLanes) step_avx512(io.g + i, x + i, io.out(i), av, bv, neg, pos);
  for (int k = 0; k < 2; ++k) {
    _mm512_storeu_pd(lanes.neg + 8 * k, neg[k]);
    _mm512_storeu_pd(lanes.pos + 8 * k, pos[k]);
  }
  return i;
}
#undef ARELU_AVX512
#endif  // ARELU_X86_DISPATCH

template <class T, class IO>
int64_t backward_steps(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return backward_steps_avx512(io, x, m, a, b, lanes);
    case kAvx2: return backward_steps_avx2(io, x, m, a, b, lanes);
    default: break;
  }
#endif
  return backward_steps_sse2(io, x, m, a, b, lanes);
}
#else
// Other targets: the same lanes in plain code, left to the compiler.
template <class T, class IO>
int64_t backward_steps(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
  int64_t i = 0;
  for (; i + kLanes <= m; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      double pn, pp;
      io.store(i + j, backward1(io.load(i + j), x[i + j], a, b, pn, pp));
      lanes.neg[j] += pn;
      lanes.pos[j] += pp;
    }
  }
  return i;
}
#endif

// The kLanes lane sums in a fixed pairwise tree.
inline double combine(const double* v) {
  static_assert(kLanes == 16, "the combining tree below is written for 16 lanes");
  const double q0 = (v[0] + v[1]) + (v[2] + v[3]);
  const double q1 = (v[4] + v[5]) + (v[6] + v[7]);
  const double q2 = (v[8] + v[9]) + (v[10] + v[11]);
  const double q3 = (v[12] + v[13]) + (v[14] + v[15]);
  return (q0 + q1) + (q2 + q3);
}

// One piece (at most a chunk): whole steps of kLanes, the rest one by one into lanes 0.., then the
// lanes combined in a fixed tree.
template <class T, class IO>
Sums backward_piece(IO io, const T* x, int64_t m, T a, T b) {
  Lanes l;
  int64_t i = backward_steps(io, x, m, a, b, l);
  for (int j = 0; i < m; ++i, ++j) {
    double pn, pp;
    io.store(i, backward1(io.load(i), x[i], a, b, pn, pp));
    l.neg[j] += pn;
    l.pos[j] += pp;
  }
  return {combine(l.neg), combine(l.pos)};
}

// ---------------------------------------------------------------- scalar scales

template <class T>
void forward_flat(const T* x, T* y, int64_t n, T a, T b, int num_threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = threads_for(n, chunks, num_threads);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    forward_range(x + begin, y + begin, std::min(kChunk, n - begin), a, b);
  }
}

template <class T, class IO>
Sums backward_flat(IO io, const T* x, int64_t n, T a, T b, int num_threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  Sums total{0.0, 0.0};
  Sums part[kWave];
  for (int64_t w0 = 0; w0 < chunks; w0 += kWave) {
    const int64_t wc = std::min(kWave, chunks - w0);
    const int nt = threads_for(n, wc, num_threads);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < wc; ++c) {
      const int64_t begin = (w0 + c) * kChunk;
      part[c] = backward_piece(io.at(begin), x + begin, std::min(kChunk, n - begin), a, b);
    }
    for (int64_t c = 0; c < wc; ++c) {
      total.neg += part[c].neg;
      total.pos += part[c].pos;
    }
  }
  return total;
}

template <class T>
int forward_scalar(const T* x, T* y, int64_t n, T a, T b, int num_threads) {
  if (n < 0) return ARELU_ERR_BAD_SIZE;
  if (n == 0) return ARELU_OK;
  if (x == nullptr || y == nullptr) return ARELU_ERR_NULL_POINTER;
  forward_flat(x, y, n, a, b, num_threads);
  return ARELU_OK;
}

template <class T>
int backward_scalar(const T* g, const T* x, T* gi, int64_t n, T a, T b, double* neg_sum, double* pos_sum,
                    int num_threads) {
  if (n < 0) return ARELU_ERR_BAD_SIZE;
  if (neg_sum == nullptr || pos_sum == nullptr) return ARELU_ERR_NULL_POINTER;
  if (n > 0 && (g == nullptr || x == nullptr)) return ARELU_ERR_NULL_POINTER;
  Sums s{0.0, 0.0};
  if (n > 0) {
    if (gi == nullptr) {
      s = backward_flat(NoGrad<T>{g}, x, n, a, b, num_threads);
    } else if (gi == g) {
      s = backward_flat(InPlaceGrad<T>{gi}, x, n, a, b, num_threads);
    } else {
      s = backward_flat(SeparateGrad<T>{g, gi}, x, n, a, b, num_threads);
    }
  }
  *neg_sum = canonical(s.neg);
  *pos_sum = canonical(s.pos);
  return ARELU_OK;
}

// ---------------------------------------------------------------- one scale per channel
//
// The buffer is (outer, channels, inner); row r = o * channels + c covers [r * inner, (r + 1) * inner).
// Pieces are the intersections of rows with the flat chunk grid. Per channel:
//   row_sum(o, c) = left fold of its pieces' sums,  sum_c = left fold over o of row_sum(o, c).
// Two schedules compute exactly these values (see backward_channels).

struct Shape {
  int64_t outer, channels, inner, n;
};

// Calls f(begin, end, row) for each piece of the flat range [begin, end), in order.
template <class F>
void for_each_piece(const Shape& s, int64_t begin, int64_t end, F f) {
  int64_t row = begin / s.inner;
  int64_t pos = begin;
  while (pos < end) {
    const int64_t stop = std::min(end, (row + 1) * s.inner);
    f(pos, stop, row);
    pos = stop;
    ++row;
  }
}

template <class T>
void forward_channels_impl(const T* x, T* y, const Shape& s, const T* a, const T* b, int num_threads) {
  const int64_t chunks = (s.n + kChunk - 1) / kChunk;
  const int nt = threads_for(s.n, chunks, num_threads);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    for_each_piece(s, begin, std::min(s.n, begin + kChunk), [&](int64_t p0, int64_t p1, int64_t row) {
      const int64_t ch = row % s.channels;
      forward_range(x + p0, y + p0, p1 - p0, a[ch], b[ch]);
    });
  }
}

// Schedule A, for any shape: threads own contiguous channel ranges and walk o in order, so each
// channel's fold happens in one thread; the running sums live in the caller's output arrays.
template <class T, class IO>
void backward_by_channel(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                         double* pos_sum, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int t = 0; t < nt; ++t) {
    const int64_t c0 = s.channels * t / nt;
    const int64_t c1 = s.channels * (t + 1) / nt;
    for (int64_t c = c0; c < c1; ++c) neg_sum[c] = pos_sum[c] = 0.0;
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t row_begin = (o * s.channels + c) * s.inner;
        Sums row{0.0, 0.0};
        // Split the row where the flat chunk grid cuts it.
        for (int64_t p0 = row_begin, end = row_begin + s.inner; p0 < end;) {
          const int64_t p1 = std::min(end, (p0 / kChunk + 1) * kChunk);
          const Sums p = backward_piece(io.at(p0), x + p0, p1 - p0, a[c], b[c]);
          row.neg += p.neg;
          row.pos += p.pos;
          p0 = p1;
        }
        neg_sum[c] += row.neg;
        pos_sum[c] += row.pos;
      }
    }
  }
}

// A chunk meets at most this many rows when rows are at least kLongRow long.
constexpr int64_t kLongRow = 4096;
constexpr int kMaxPieces = static_cast<int>(kChunk / kLongRow) + 2;
constexpr int64_t kChannelWave = 64;

// Schedule B, for long rows (inner >= kLongRow): flat chunks in parallel, piece sums buffered per
// wave, then one in-order pass folds pieces into rows and rows into channels. Balanced even when
// there are fewer channels than threads.
template <class T, class IO>
void backward_by_chunk(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                       double* pos_sum, int num_threads) {
  struct ChunkPieces {
    int count;
    Sums sum[kMaxPieces];
    int64_t row[kMaxPieces];
    bool ends_row[kMaxPieces];
  };
  ChunkPieces part[kChannelWave];
  for (int64_t c = 0; c < s.channels; ++c) neg_sum[c] = pos_sum[c] = 0.0;
  const int64_t chunks = (s.n + kChunk - 1) / kChunk;
  Sums row_acc{0.0, 0.0};
  for (int64_t w0 = 0; w0 < chunks; w0 += kChannelWave) {
    const int64_t wc = std::min(kChannelWave, chunks - w0);
    const int nt = threads_for(s.n, wc, num_threads);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < wc; ++k) {
      const int64_t begin = (w0 + k) * kChunk;
      ChunkPieces& cp = part[k];
      cp.count = 0;
      for_each_piece(s, begin, std::min(s.n, begin + kChunk), [&](int64_t p0, int64_t p1, int64_t row) {
        const int64_t ch = row % s.channels;
        cp.sum[cp.count] = backward_piece(io.at(p0), x + p0, p1 - p0, a[ch], b[ch]);
        cp.row[cp.count] = row;
        cp.ends_row[cp.count] = p1 == (row + 1) * s.inner;
        ++cp.count;
      });
    }
    for (int64_t k = 0; k < wc; ++k) {
      const ChunkPieces& cp = part[k];
      for (int i = 0; i < cp.count; ++i) {
        row_acc.neg += cp.sum[i].neg;
        row_acc.pos += cp.sum[i].pos;
        if (cp.ends_row[i]) {
          const int64_t ch = cp.row[i] % s.channels;
          neg_sum[ch] += row_acc.neg;
          pos_sum[ch] += row_acc.pos;
          row_acc = {0.0, 0.0};
        }
      }
    }
  }
}

template <class T, class IO>
void backward_channels_impl(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                            double* pos_sum, int num_threads) {
  const int nt = threads_for(s.n, s.channels, num_threads);
  if (num_threads > 1 && s.n >= kParallelMin && s.inner >= kLongRow) {
    backward_by_chunk(io, x, s, a, b, neg_sum, pos_sum, num_threads);
  } else {
    backward_by_channel(io, x, s, a, b, neg_sum, pos_sum, nt);
  }
}

template <class T>
int forward_channels(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner, const T* a, const T* b,
                     int num_threads) {
  Shape s{outer, channels, inner, 0};
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, s.n)) return st;
  if (s.n == 0) return ARELU_OK;
  if (x == nullptr || y == nullptr || a == nullptr || b == nullptr) return ARELU_ERR_NULL_POINTER;
  forward_channels_impl(x, y, s, a, b, num_threads);
  return ARELU_OK;
}

template <class T>
int backward_channels(const T* g, const T* x, T* gi, int64_t outer, int64_t channels, int64_t inner, const T* a,
                      const T* b, double* neg_sum, double* pos_sum, int num_threads) {
  Shape s{outer, channels, inner, 0};
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, s.n)) return st;
  if (channels > 0 && (neg_sum == nullptr || pos_sum == nullptr)) return ARELU_ERR_NULL_POINTER;
  if (s.n == 0) {
    for (int64_t c = 0; c < channels; ++c) neg_sum[c] = pos_sum[c] = 0.0;
    return ARELU_OK;
  }
  if (g == nullptr || x == nullptr || a == nullptr || b == nullptr) return ARELU_ERR_NULL_POINTER;
  if (gi == nullptr) {
    backward_channels_impl(NoGrad<T>{g}, x, s, a, b, neg_sum, pos_sum, num_threads);
  } else if (gi == g) {
    backward_channels_impl(InPlaceGrad<T>{gi}, x, s, a, b, neg_sum, pos_sum, num_threads);
  } else {
    backward_channels_impl(SeparateGrad<T>{g, gi}, x, s, a, b, neg_sum, pos_sum, num_threads);
  }
  for (int64_t c = 0; c < channels; ++c) {
    neg_sum[c] = canonical(neg_sum[c]);
    pos_sum[c] = canonical(pos_sum[c]);
  }
  return ARELU_OK;
}

template <class T>
int parameter_gradients(const double* neg_sum, const double* pos_sum, const T* alpha, const T* beta, T* grad_alpha,
                        T* grad_beta, int64_t channels) {
  if (const int st = arelu::kernel::check_parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta,
                                                              channels)) {
    return st;
  }
  for (int64_t c = 0; c < channels; ++c) {
    arelu::kernel::parameter_gradients1(neg_sum[c], pos_sum[c], alpha[c], beta[c], grad_alpha[c], grad_beta[c]);
  }
  return ARELU_OK;
}

}  // namespace

namespace arelu::detail {
// For the tests only (hidden, not in the C ABI nor in libarelu.so's exports): caps the ISA level used
// (0 SSE2, 1 AVX2, 2 AVX-512; 2 restores the detected one). Returns the level this machine has.
int set_max_isa(int level) {
#if defined(ARELU_X86_DISPATCH)
  g_max_isa = level;
  return g_detected_isa;
#else
  (void)level;
  return 0;
#endif
}
}  // namespace arelu::detail

extern "C" {

int arelu_abi_version(void) { return ARELU_ABI_VERSION; }

const char* arelu_error_string(int status) {
  switch (status) {
    case ARELU_OK: return "ok";
    case ARELU_ERR_NULL_POINTER: return "a required pointer is NULL";
    case ARELU_ERR_BAD_SIZE: return "negative size, or outer * channels * inner overflows";
    case ARELU_ERR_WORKSPACE: return "CUDA workspace smaller than arelu_cuda_workspace_bytes";
    case ARELU_ERR_CUDA: return "a CUDA launch or runtime call failed";
    case ARELU_ERR_NO_CUDA: return "the library was built without CUDA";
    default: return "unknown arelu status";
  }
}

int arelu_forward_f32(const float* x, float* y, int64_t n, float neg_scale, float pos_scale, int num_threads) {
  return forward_scalar(x, y, n, neg_scale, pos_scale, num_threads);
}
int arelu_forward_f64(const double* x, double* y, int64_t n, double neg_scale, double pos_scale,
                      int num_threads) {
  return forward_scalar(x, y, n, neg_scale, pos_scale, num_threads);
}

int arelu_backward_f32(const float* grad_out, const float* x, float* grad_in, int64_t n, float neg_scale,
                       float pos_scale, double* neg_sum, double* pos_sum, int num_threads) {
  return backward_scalar(grad_out, x, grad_in, n, neg_scale, pos_scale, neg_sum, pos_sum, num_threads);
}
int arelu_backward_f64(const double* grad_out, const double* x, double* grad_in, int64_t n, double neg_scale,
                       double pos_scale, double* neg_sum, double* pos_sum, int num_threads) {
  return backward_scalar(grad_out, x, grad_in, n, neg_scale, pos_scale, neg_sum, pos_sum, num_threads);
}

int arelu_forward_channels_f32(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                               const float* neg_scale, const float* pos_scale, int num_threads) {
  return forward_channels(x, y, outer, channels, inner, neg_scale, pos_scale, num_threads);
}
int arelu_forward_channels_f64(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                               const double* neg_scale, const double* pos_scale, int num_threads) {
  return forward_channels(x, y, outer, channels, inner, neg_scale, pos_scale, num_threads);
}

int arelu_backward_channels_f32(const float* grad_out, const float* x, float* grad_in, int64_t outer,
                                int64_t channels, int64_t inner, const float* neg_scale, const float* pos_scale,
                                double* neg_sum, double* pos_sum, int num_threads) {
  return backward_channels(grad_out, x, grad_in, outer, channels, inner, neg_scale, pos_scale, neg_sum, pos_sum,
                           num_threads);
}
int arelu_backward_channels_f64(const double* grad_out, const double* x, double* grad_in, int64_t outer,
                                int64_t channels, int64_t inner, const double* neg_scale,
                                const double* pos_scale, double* neg_sum, double* pos_sum, int num_threads) {
  return backward_channels(grad_out, x, grad_in, outer, channels, inner, neg_scale, pos_scale, neg_sum, pos_sum,
                           num_threads);
}

int arelu_parameter_gradients_f32(const double* neg_sum, const double* pos_sum, const float* alpha, const float* beta,
                                  float* grad_alpha, float* grad_beta, int64_t channels) {
  return parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}
int arelu_parameter_gradients_f64(const double* neg_sum, const double* pos_sum, const double* alpha,
                                  const double* beta, double* grad_alpha, double* grad_beta, int64_t channels) {
  return parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}

}  // extern "C"
