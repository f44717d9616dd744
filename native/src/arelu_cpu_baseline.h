// The baseline loops, run where the CPU has neither AVX2 nor AVX-512: SSE2 on x86-64 (every x86-64 CPU has it),
// plain C++ left to the compiler elsewhere. Same lanes, same order as the other instruction sets.
#pragma once

#include "arelu_cpu_simd.h"

namespace arelu::cpu {

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

#if defined(__SSE2__)
// x86-64: the kLanes-element step written with SSE2 (the baseline of every x86-64 CPU, so no dispatch).
// gcc does not vectorize the lane-wise double sums with their selects by itself; it falls back to
// scalar cmov code at a fifth of memory bandwidth. Masks from the "not >=" / "not <=" compares are
// all-ones exactly where backward1 selects (NaN included), and and-ing x with them gives backward1's factor
// (x, or +0 on the other side) before the multiply by g.
// Lanes 2k and 2k + 1 of a side are accumulator k (8 xmm registers a side).
inline void add_lanes(__m128d& neg, __m128d& pos, __m128d g, __m128d x) {
  const __m128d zero = _mm_setzero_pd();
  neg = _mm_add_pd(neg, _mm_mul_pd(g, _mm_and_pd(x, _mm_cmpnge_pd(x, zero))));
  pos = _mm_add_pd(pos, _mm_mul_pd(g, _mm_and_pd(x, _mm_cmpnle_pd(x, zero))));
}

inline void step(const float* g, const float* x, float* out, float a, float b, __m128d* neg, __m128d* pos) {
  for (int h = 0; h < kLanes / 4; ++h) {
    const __m128 xv = _mm_loadu_ps(x + 4 * h);
    const __m128 gv = _mm_loadu_ps(g + 4 * h);
    if (out != nullptr) {
      const __m128 zero = _mm_setzero_ps();
      const __m128 mneg = _mm_cmpnge_ps(xv, zero);
      const __m128 gb = _mm_and_ps(_mm_mul_ps(gv, _mm_set1_ps(b)), _mm_cmpnle_ps(xv, zero));
      // -0 where not selected, as backward1.
      const __m128 ga = _mm_or_ps(_mm_and_ps(_mm_mul_ps(gv, _mm_set1_ps(a)), mneg),
                                  _mm_andnot_ps(mneg, _mm_set1_ps(-0.0f)));
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
      const __m128d mneg = _mm_cmpnge_pd(xv, zero);
      const __m128d gb = _mm_and_pd(_mm_mul_pd(gv, _mm_set1_pd(b)), _mm_cmpnle_pd(xv, zero));
      const __m128d ga = _mm_or_pd(_mm_and_pd(_mm_mul_pd(gv, _mm_set1_pd(a)), mneg),
                                   _mm_andnot_pd(mneg, _mm_set1_pd(-0.0)));
      _mm_storeu_pd(out + 2 * h, _mm_add_pd(gb, ga));
    }
    add_lanes(neg[h], pos[h], gv, xv);
  }
}

template <class T, class IO>
int64_t backward_steps_base(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
  __m128d neg[kLanes / 2], pos[kLanes / 2];
  for (int k = 0; k < kLanes / 2; ++k) {
    neg[k] = _mm_loadu_pd(lanes.neg + 2 * k);
    pos[k] = _mm_loadu_pd(lanes.pos + 2 * k);
  }
  int64_t i = 0;
  for (; i + kLanes <= m; i += kLanes) step(io.g + i, x + i, io.out(i), a, b, neg, pos);
  for (int k = 0; k < kLanes / 2; ++k) {
    _mm_storeu_pd(lanes.neg + 2 * k, neg[k]);
    _mm_storeu_pd(lanes.pos + 2 * k, pos[k]);
  }
  return i;
}
#else
// Other targets: the same lanes in plain code, left to the compiler.
template <class T, class IO>
int64_t backward_steps_base(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
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

}  // namespace arelu::cpu
