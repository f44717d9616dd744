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

// Which of a vector's elements a partial vector of k elements fills (all ones there), for masked loads and
// stores, which touch no memory outside the mask and read zeros there.
ARELU_AVX2 inline __m256i first_elements_avx2(int64_t k, float) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
ARELU_AVX2 inline __m256i first_elements_avx2(int64_t k, double) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(k), _mm256_setr_epi64x(0, 1, 2, 3));
}
ARELU_AVX2 inline __m256 masked_load_avx2(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
ARELU_AVX2 inline __m256d masked_load_avx2(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
ARELU_AVX2 inline void masked_store_avx2(float* p, __m256i m, __m256 v) { _mm256_maskstore_ps(p, m, v); }
ARELU_AVX2 inline void masked_store_avx2(double* p, __m256i m, __m256d v) { _mm256_maskstore_pd(p, m, v); }

// forward1 on a vector: x * a where x < 0 (+0 where that product is a zero), x * b where x > 0, x itself
// elsewhere (0, NaN); the same products and selects, so the same bits.
ARELU_AVX2 inline __m256 forward_vec_avx2(__m256 x, __m256 a, __m256 b) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 xa = _mm256_mul_ps(x, a);
  const __m256 neg = _mm256_blendv_ps(x, _mm256_andnot_ps(_mm256_cmp_ps(xa, zero, _CMP_EQ_OQ), xa),
                                      _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
  return _mm256_blendv_ps(neg, _mm256_mul_ps(x, b), _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
}
ARELU_AVX2 inline __m256d forward_vec_avx2(__m256d x, __m256d a, __m256d b) {
  const __m256d zero = _mm256_setzero_pd();
  const __m256d xa = _mm256_mul_pd(x, a);
  const __m256d neg = _mm256_blendv_pd(x, _mm256_andnot_pd(_mm256_cmp_pd(xa, zero, _CMP_EQ_OQ), xa),
                                       _mm256_cmp_pd(x, zero, _CMP_LT_OQ));
  return _mm256_blendv_pd(neg, _mm256_mul_pd(x, b), _mm256_cmp_pd(x, zero, _CMP_GT_OQ));
}
ARELU_AVX2 inline __m256 loadu_avx2(const float* p) { return _mm256_loadu_ps(p); }
ARELU_AVX2 inline __m256d loadu_avx2(const double* p) { return _mm256_loadu_pd(p); }
ARELU_AVX2 inline void storeu_avx2(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
ARELU_AVX2 inline void storeu_avx2(double* p, __m256d v) { _mm256_storeu_pd(p, v); }

// One outer row of NCHW memory (arelu_cpu.cpp's forward_channel_rows): `channels` rows of m elements, each with
// its channel's scales, every row ending in a masked partial vector rather than elements through forward1's
// branches (a mispredict each on random signs, once per row of a 7 x 7 map). Scales that make the output NaN
// are the caller's to apply afterwards.
template <class T>
__attribute__((target("avx2"))) void forward_channel_rows_avx2(const T* x, T* y, int64_t channels, int64_t m,
                                                               const T* a, const T* b) {
  constexpr int64_t w = 32 / sizeof(T);
  const int64_t whole = m - m % w;
  const __m256i last = first_elements_avx2(m - whole, T());
  for (int64_t c = 0; c < channels; ++c) {
    const auto av = splat_avx2(a[c]);
    const auto bv = splat_avx2(b[c]);
    const T* xr = x + c * m;
    T* yr = y + c * m;
    for (int64_t i = 0; i < whole; i += w) storeu_avx2(yr + i, forward_vec_avx2(loadu_avx2(xr + i), av, bv));
    if (whole < m) masked_store_avx2(yr + whole, last, forward_vec_avx2(masked_load_avx2(xr + whole, last), av, bv));
  }
}

// The last, partial step of a row: its first k < kLanes elements through step_avx2's operations, the rest of
// the vectors zeros (masked loads). Element j goes to lane j as before; the zero elements add +0 products to
// sums that start at +0 and so are never -0: no sum changes by a bit.
ARELU_AVX2 inline void partial_step_avx2(const float* g, const float* x, float* out, __m256 av, __m256 bv,
                                         __m256d* neg, __m256d* pos, int64_t k) {
  for (int h = 0; h < kLanes / 8; ++h) {
    const __m256i m = first_elements_avx2(k - 8 * h, float());
    const __m256 xv = _mm256_maskload_ps(x + 8 * h, m);
    const __m256 gv = _mm256_maskload_ps(g + 8 * h, m);
    add_lanes_avx2(neg[2 * h], pos[2 * h], _mm256_cvtps_pd(_mm256_castps256_ps128(gv)),
                   _mm256_cvtps_pd(_mm256_castps256_ps128(xv)));
    add_lanes_avx2(neg[2 * h + 1], pos[2 * h + 1], _mm256_cvtps_pd(_mm256_extractf128_ps(gv, 1)),
                   _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)));
    if (out != nullptr) {
      const __m256 zero = _mm256_setzero_ps();
      const __m256 gb = _mm256_and_ps(_mm256_mul_ps(gv, bv), _mm256_cmp_ps(xv, zero, _CMP_NLE_UQ));
      const __m256 ga = _mm256_blendv_ps(_mm256_set1_ps(-0.0f), _mm256_mul_ps(gv, av),
                                         _mm256_cmp_ps(xv, zero, _CMP_NGE_UQ));
      _mm256_maskstore_ps(out + 8 * h, m, _mm256_add_ps(gb, ga));
    }
  }
}

ARELU_AVX2 inline void partial_step_avx2(const double* g, const double* x, double* out, __m256d av, __m256d bv,
                                         __m256d* neg, __m256d* pos, int64_t k) {
  const __m256d zero = _mm256_setzero_pd();
  for (int h = 0; h < kLanes / 4; ++h) {
    const __m256i m = first_elements_avx2(k - 4 * h, double());
    const __m256d xv = _mm256_maskload_pd(x + 4 * h, m);
    const __m256d gv = _mm256_maskload_pd(g + 4 * h, m);
    const __m256d mneg = _mm256_cmp_pd(xv, zero, _CMP_NGE_UQ);
    const __m256d mpos = _mm256_cmp_pd(xv, zero, _CMP_NLE_UQ);
    if (out != nullptr) {
      const __m256d gb = _mm256_and_pd(_mm256_mul_pd(gv, bv), mpos);
      const __m256d ga = _mm256_blendv_pd(_mm256_set1_pd(-0.0), _mm256_mul_pd(gv, av), mneg);
      _mm256_maskstore_pd(out + 4 * h, m, _mm256_add_pd(gb, ga));
    }
    neg[h] = _mm256_add_pd(neg[h], _mm256_mul_pd(gv, _mm256_and_pd(xv, mneg)));
    pos[h] = _mm256_add_pd(pos[h], _mm256_mul_pd(gv, _mm256_and_pd(xv, mpos)));
  }
}

// A channel's rows of a block of NCHW memory (arelu_cpu.cpp's backward_rows), as backward_rows_avx512: whole
// steps and a partial one per row, all into the same lanes, rows in order, the lanes in registers throughout.
template <class T, class IO>
__attribute__((target("avx2"))) void backward_rows_avx2(IO io, const T* x, int64_t rows, int64_t stride, int64_t m,
                                                        T a, T b, Lanes& lanes) {
  __m256d neg[kLanes / 4], pos[kLanes / 4];
  for (int k = 0; k < kLanes / 4; ++k) {
    neg[k] = _mm256_loadu_pd(lanes.neg + 4 * k);
    pos[k] = _mm256_loadu_pd(lanes.pos + 4 * k);
  }
  const auto av = splat_avx2(a);
  const auto bv = splat_avx2(b);
  const int64_t whole = m - m % kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const IO rio = io.at(r * stride);
    const T* xr = x + r * stride;
    for (int64_t i = 0; i < whole; i += kLanes) step_avx2(rio.g + i, xr + i, rio.out(i), av, bv, neg, pos);
    if (whole < m) partial_step_avx2(rio.g + whole, xr + whole, rio.out(whole), av, bv, neg, pos, m - whole);
  }
  for (int k = 0; k < kLanes / 4; ++k) {
    _mm256_storeu_pd(lanes.neg + 4 * k, neg[k]);
    _mm256_storeu_pd(lanes.pos + 4 * k, pos[k]);
  }
}
// One outer row of NCHW memory, as backward_channel_rows_avx512.
template <class T, class IO>
__attribute__((target("avx2"))) void backward_channel_rows_avx2(IO io, const T* x, int64_t channels, int64_t m,
                                                                const T* a, const T* b, Lanes* lanes) {
  for (int64_t c = 0; c < channels; ++c) backward_rows_avx2(io.at(c * m), x + c * m, 1, 0, m, a[c], b[c], lanes[c]);
}
// The steps of one range into lanes, the last one partial: backward_rows_avx2 over one row. Returns m.
template <class T, class IO>
__attribute__((target("avx2"))) int64_t backward_steps_avx2(IO io, const T* x, int64_t m, T a, T b,
                                                            Lanes& lanes) {
  backward_rows_avx2(io, x, 1, 0, m, a, b, lanes);
  return m;
}
#undef ARELU_AVX2

}  // namespace arelu::cpu
#endif  // ARELU_X86_DISPATCH
