// The AVX-512 loops (16 floats / 8 doubles per vector), compiled with function-level target attributes and run
// when the CPU and OS support AVX-512F (arelu_cpu_dispatch.h).
#pragma once

#include "arelu_cpu_simd.h"

#include <type_traits>

#if defined(ARELU_X86_DISPATCH)
namespace arelu::cpu {

// AVX-512: the selects of forward1 as masked multiplies, 16 floats / 8 doubles per vector. x itself where
// no mask is set (0, NaN), x * a and x * b where they are: the same single products as forward1. A product
// x * a that underflowed to -0 becomes +0 through a masked add of +0 (forward1's select; intrinsics are
// never contracted into a multiply-add).
__attribute__((target("avx512f"), always_inline)) inline __m512 forward_avx512(__m512 xv, __m512 av, __m512 bv) {
  const __m512 zero = _mm512_setzero_ps();
  const auto lt = _mm512_cmp_ps_mask(xv, zero, _CMP_LT_OQ);
  __m512 r = _mm512_mask_mul_ps(xv, lt, xv, av);
  r = _mm512_mask_add_ps(r, lt, r, zero);
  return _mm512_mask_mul_ps(r, _mm512_cmp_ps_mask(xv, zero, _CMP_GT_OQ), xv, bv);
}
__attribute__((target("avx512f"), always_inline)) inline __m512d forward_avx512(__m512d xv, __m512d av,
                                                                               __m512d bv) {
  const __m512d zero = _mm512_setzero_pd();
  const auto lt = _mm512_cmp_pd_mask(xv, zero, _CMP_LT_OQ);
  __m512d r = _mm512_mask_mul_pd(xv, lt, xv, av);
  r = _mm512_mask_add_pd(r, lt, r, zero);
  return _mm512_mask_mul_pd(r, _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ), xv, bv);
}
__attribute__((target("avx512f"))) inline void forward_vec_avx512(const float* x, float* y, int64_t i, __m512 av,
                                                                  __m512 bv) {
  _mm512_storeu_ps(y + i, forward_avx512(_mm512_loadu_ps(x + i), av, bv));
}
__attribute__((target("avx512f"))) inline void forward_vec_avx512(const double* x, double* y, int64_t i, __m512d av,
                                                                  __m512d bv) {
  _mm512_storeu_pd(y + i, forward_avx512(_mm512_loadu_pd(x + i), av, bv));
}
// The last, partial vector of a range: the same operations with masked loads and stores (which touch no memory
// outside the mask). An element left to forward1's selects costs a mispredicted branch on random signs, once
// per channel row on NCHW maps of 7 x 7: more than the row's three whole vectors.
__attribute__((target("avx512f"))) inline void partial_forward_avx512(const float* x, float* y, int64_t i, __m512 av,
                                                                      __m512 bv, __mmask16 valid) {
  _mm512_mask_storeu_ps(y + i, valid, forward_avx512(_mm512_maskz_loadu_ps(valid, x + i), av, bv));
}
__attribute__((target("avx512f"))) inline void partial_forward_avx512(const double* x, double* y, int64_t i,
                                                                      __m512d av, __m512d bv, __mmask8 valid) {
  _mm512_mask_storeu_pd(y + i, valid, forward_avx512(_mm512_maskz_loadu_pd(valid, x + i), av, bv));
}
// The mask of a vector's first k elements (0 < k < elements per vector): the lanes a partial vector fills.
template <class T>
inline std::conditional_t<sizeof(T) == 4, __mmask16, __mmask8> first_lanes(int64_t k) {
  return static_cast<std::conditional_t<sizeof(T) == 4, __mmask16, __mmask8>>((1u << k) - 1u);
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
  if (i < m) partial_forward_avx512(x, y, i, av, bv, first_lanes<T>(m - i));
}

// One outer row of NCHW memory (arelu_cpu.cpp's forward_channel_rows): `channels` rows of m elements, each
// with its channel's scales, as forward_range_avx512 row by row but without a call per row. Scales that make
// the output NaN are the caller's to apply afterwards.
template <class T>
__attribute__((target("avx512f"))) void forward_channel_rows_avx512(const T* x, T* y, int64_t channels, int64_t m,
                                                                    const T* a, const T* b) {
  constexpr int64_t w = 64 / sizeof(T);
  const int64_t whole = m - m % w;
  for (int64_t c = 0; c < channels; ++c) {
    const auto av = splat_avx512(a[c]);
    const auto bv = splat_avx512(b[c]);
    const T* xr = x + c * m;
    T* yr = y + c * m;
    for (int64_t i = 0; i < whole; i += w) forward_vec_avx512(xr, yr, i, av, bv);
    if (whole < m) partial_forward_avx512(xr, yr, whole, av, bv, first_lanes<T>(m - whole));
  }
}

// AVX-512: lanes 8k..8k+7 of each side are zmm accumulator k (2 a side); backward1's factor of x (x, or +0 on
// the other side) is a zero-masked move instead of an and-mask. Each lane sees the same products and the
// same additions, in the same order, as on the other paths.
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
    const __m512d gd = _mm512_cvtps_pd(_mm256_loadu_ps(g + 8 * h));
    const __m512d xd = _mm512_cvtps_pd(_mm256_loadu_ps(x + 8 * h));
    neg[h] = _mm512_add_pd(neg[h], _mm512_mul_pd(gd, _mm512_maskz_mov_pd(static_cast<__mmask8>(mneg >> (8 * h)), xd)));
    pos[h] = _mm512_add_pd(pos[h], _mm512_mul_pd(gd, _mm512_maskz_mov_pd(static_cast<__mmask8>(mpos >> (8 * h)), xd)));
  }
  if (out != nullptr) {
    // gv was loaded before this store, which may overwrite g (in place).
    // -0 where the negative side is not selected, as backward1.
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_maskz_mul_ps(mpos, gv, bv),
                                        _mm512_mask_mul_ps(_mm512_set1_ps(-0.0f), mneg, gv, av)));
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
    neg[h] = _mm512_add_pd(neg[h], _mm512_mul_pd(gv, _mm512_maskz_mov_pd(mneg, xv)));
    pos[h] = _mm512_add_pd(pos[h], _mm512_mul_pd(gv, _mm512_maskz_mov_pd(mpos, xv)));
    if (out != nullptr) {
      _mm512_storeu_pd(out + 8 * h,
                       _mm512_add_pd(_mm512_maskz_mul_pd(mpos, gv, bv),
                                     _mm512_mask_mul_pd(_mm512_set1_pd(-0.0), mneg, gv, av)));
    }
  }
}

// The last, partial step of a range: the same operations on the first k < 16 elements, the rest of the
// vectors zero (masked loads, which touch no memory outside the mask). Element j still goes to lane j; the
// zero lanes add +0 products to sums that start at +0 and so can never be -0: no sum changes by a bit. A row
// of 7 x 7 elements ends in such a step, which costs less than one element through backward1.
ARELU_AVX512 inline void partial_step_avx512(const float* g, const float* x, float* out, __m512 av, __m512 bv,
                                             __m512d* neg, __m512d* pos, __mmask16 valid) {
  const __m512 xv = _mm512_maskz_loadu_ps(valid, x);
  const __m512 gv = _mm512_maskz_loadu_ps(valid, g);
  const __m512 zero = _mm512_setzero_ps();
  const __mmask16 mneg = _mm512_cmp_ps_mask(xv, zero, _CMP_NGE_UQ);
  const __mmask16 mpos = _mm512_cmp_ps_mask(xv, zero, _CMP_NLE_UQ);
  const __m256 g_half[2] = {_mm512_castps512_ps256(gv),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(gv), 1))};
  const __m256 x_half[2] = {_mm512_castps512_ps256(xv),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xv), 1))};
  for (int h = 0; h < 2; ++h) {
    const __m512d gd = _mm512_cvtps_pd(g_half[h]);
    const __m512d xd = _mm512_cvtps_pd(x_half[h]);
    neg[h] = _mm512_add_pd(neg[h], _mm512_mul_pd(gd, _mm512_maskz_mov_pd(static_cast<__mmask8>(mneg >> (8 * h)), xd)));
    pos[h] = _mm512_add_pd(pos[h], _mm512_mul_pd(gd, _mm512_maskz_mov_pd(static_cast<__mmask8>(mpos >> (8 * h)), xd)));
  }
  if (out != nullptr) {
    _mm512_mask_storeu_ps(out, valid, _mm512_add_ps(_mm512_maskz_mul_ps(mpos, gv, bv),
                                                    _mm512_mask_mul_ps(_mm512_set1_ps(-0.0f), mneg, gv, av)));
  }
}

ARELU_AVX512 inline void partial_step_avx512(const double* g, const double* x, double* out, __m512d av, __m512d bv,
                                             __m512d* neg, __m512d* pos, __mmask16 valid) {
  const __m512d zero = _mm512_setzero_pd();
  for (int h = 0; h < 2; ++h) {
    const __mmask8 v = static_cast<__mmask8>(valid >> (8 * h));
    const __m512d xv = _mm512_maskz_loadu_pd(v, x + 8 * h);
    const __m512d gv = _mm512_maskz_loadu_pd(v, g + 8 * h);
    const __mmask8 mneg = _mm512_cmp_pd_mask(xv, zero, _CMP_NGE_UQ);
    const __mmask8 mpos = _mm512_cmp_pd_mask(xv, zero, _CMP_NLE_UQ);
    neg[h] = _mm512_add_pd(neg[h], _mm512_mul_pd(gv, _mm512_maskz_mov_pd(mneg, xv)));
    pos[h] = _mm512_add_pd(pos[h], _mm512_mul_pd(gv, _mm512_maskz_mov_pd(mpos, xv)));
    if (out != nullptr) {
      _mm512_mask_storeu_pd(out + 8 * h, v,
                            _mm512_add_pd(_mm512_maskz_mul_pd(mpos, gv, bv),
                                          _mm512_mask_mul_pd(_mm512_set1_pd(-0.0), mneg, gv, av)));
    }
  }
}

// A channel's rows of a block of NCHW memory (arelu_cpu.cpp's backward_rows): `rows` rows of m elements,
// `stride` elements apart, each in whole steps and a last partial one, all into the same lanes, rows in order,
// the lanes in registers throughout: backward_steps row by row without a call and the lanes' trip through
// memory per row, which cost more than a 7 x 7 row's four steps.
template <class T, class IO>
__attribute__((target("avx512f"))) void backward_rows_avx512(IO io, const T* x, int64_t rows, int64_t stride,
                                                             int64_t m, T a, T b, Lanes& lanes) {
  __m512d neg[2] = {_mm512_loadu_pd(lanes.neg), _mm512_loadu_pd(lanes.neg + 8)};
  __m512d pos[2] = {_mm512_loadu_pd(lanes.pos), _mm512_loadu_pd(lanes.pos + 8)};
  const auto av = splat_avx512(a);
  const auto bv = splat_avx512(b);
  const int64_t whole = m - m % kLanes;
  const auto last = static_cast<__mmask16>((1u << (m % kLanes)) - 1u);
  for (int64_t r = 0; r < rows; ++r) {
    const IO rio = io.at(r * stride);
    const T* xr = x + r * stride;
    for (int64_t i = 0; i < whole; i += kLanes) step_avx512(rio.g + i, xr + i, rio.out(i), av, bv, neg, pos);
    if (last != 0) partial_step_avx512(rio.g + whole, xr + whole, rio.out(whole), av, bv, neg, pos, last);
  }
  for (int k = 0; k < 2; ++k) {
    _mm512_storeu_pd(lanes.neg + 8 * k, neg[k]);
    _mm512_storeu_pd(lanes.pos + 8 * k, pos[k]);
  }
}
// One outer row of NCHW memory (arelu_cpu.cpp's backward_channel_rows): `channels` rows of m elements, row c
// into lanes[c], in one call; each channel's lanes make a trip through memory per row.
template <class T, class IO>
__attribute__((target("avx512f"))) void backward_channel_rows_avx512(IO io, const T* x, int64_t channels, int64_t m,
                                                                     const T* a, const T* b, Lanes* lanes) {
  for (int64_t c = 0; c < channels; ++c) backward_rows_avx512(io.at(c * m), x + c * m, 1, 0, m, a[c], b[c], lanes[c]);
}
// The steps of one range into lanes, the last one partial: backward_rows_avx512 over one row. Returns m.
template <class T, class IO>
__attribute__((target("avx512f"))) int64_t backward_steps_avx512(IO io, const T* x, int64_t m, T a, T b,
                                                                 Lanes& lanes) {
  backward_rows_avx512(io, x, 1, 0, m, a, b, lanes);
  return m;
}
#undef ARELU_AVX512

}  // namespace arelu::cpu
#endif  // ARELU_X86_DISPATCH
