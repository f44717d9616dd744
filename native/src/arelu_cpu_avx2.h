// The AVX2 loops (8 floats / 4 doubles per vector), compiled with function-level target attributes and run
// when the CPU and OS support AVX2 (arelu_cpu_dispatch.h).
#pragma once

#include "arelu_cpu_simd.h"

#if defined(ARELU_X86_DISPATCH)
namespace arelu::cpu {

// The same loops compiled for AVX2 (8 floats / 4 doubles per vector); arelu_cpu_avx512.h has the AVX-512 ones.
// One multiply per element either way, so the results are the same bits. No FMA in the targets: nothing can be
// contracted.
template <class T>
__attribute__((target("avx2"))) void forward_range_avx2(const T* x, T* y, int64_t m, T a, T b) {
  if (x == y) {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(y[i], a, b);
  } else {
    for (int64_t i = 0; i < m; ++i) y[i] = forward1(x[i], a, b);
  }
}

// AVX2: lanes 4k..4k+3 of each side are ymm accumulator k (4 a side), so a step is the SSE2 step with the
// pairs of xmm operations fused; every value, and every addition into every lane, is the same.
#define ARELU_AVX2 __attribute__((target("avx2"), always_inline))
ARELU_AVX2 inline void add_lanes_avx2(__m256d& neg, __m256d& pos, __m256d g, __m256d x) {
  const __m256d zero = _mm256_setzero_pd();
  neg = _mm256_add_pd(neg, _mm256_mul_pd(g, _mm256_and_pd(x, _mm256_cmp_pd(x, zero, _CMP_NGE_UQ))));
  pos = _mm256_add_pd(pos, _mm256_mul_pd(g, _mm256_and_pd(x, _mm256_cmp_pd(x, zero, _CMP_NLE_UQ))));
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
      // -0 where not selected, as backward1.
      const __m256 ga = _mm256_blendv_ps(_mm256_set1_ps(-0.0f), _mm256_mul_ps(gv, av),
                                         _mm256_cmp_ps(xv, zero, _CMP_NGE_UQ));
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
      const __m256d ga = _mm256_blendv_pd(_mm256_set1_pd(-0.0), _mm256_mul_pd(gv, av), mneg);
      _mm256_storeu_pd(out + 4 * h, _mm256_add_pd(gb, ga));
    }
    neg[h] = _mm256_add_pd(neg[h], _mm256_mul_pd(gv, _mm256_and_pd(xv, mneg)));
    pos[h] = _mm256_add_pd(pos[h], _mm256_mul_pd(gv, _mm256_and_pd(xv, mpos)));
  }
}

ARELU_AVX2 inline __m256 splat_avx2(float v) { return _mm256_set1_ps(v); }
ARELU_AVX2 inline __m256d splat_avx2(double v) { return _mm256_set1_pd(v); }

template <class T, class IO>
__attribute__((target("avx2"))) int64_t backward_steps_avx2(IO io, const T* x, int64_t m, T a, T b,
                                                            Lanes& lanes) {
  __m256d neg[kLanes / 4], pos[kLanes / 4];
  for (int k = 0; k < kLanes / 4; ++k) {
    neg[k] = _mm256_loadu_pd(lanes.neg + 4 * k);
    pos[k] = _mm256_loadu_pd(lanes.pos + 4 * k);
  }
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

}  // namespace arelu::cpu
#endif  // ARELU_X86_DISPATCH
