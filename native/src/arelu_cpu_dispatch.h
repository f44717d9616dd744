// Instruction-set dispatch of the CPU loops.
//
// x86-64: the hot loops have AVX2 and AVX-512 versions (function-level target attributes, no -march flag),
// chosen at run time by what the CPU and OS support, else the SSE2 baseline runs. All of them use the same
// lanes, the same per-lane order and the same combining tree, and every product is rounded once, so they
// give the same bits. In the environment (read once, at load) ARELU_DISABLE_AVX512=1 stops at AVX2 and
// ARELU_DISABLE_AVX2=1 forces SSE2 (0, false, no, off and an empty value leave them on).
#pragma once

#include "arelu_cpu_avx2.h"
#include "arelu_cpu_avx512.h"
#include "arelu_cpu_baseline.h"

namespace arelu::cpu {

#if defined(ARELU_X86_DISPATCH)
enum Isa { kSse2 = 0, kAvx2 = 1, kAvx512 = 2 };
// What this CPU and OS support, read once at load (arelu_cpu_dispatch.cpp). Hidden, so the kernels read them
// directly rather than through the global offset table, as when they were file-local.
extern const int g_detected_isa __attribute__((visibility("hidden")));
// The cap tests set through arelu::detail::set_max_isa.
extern int g_max_isa __attribute__((visibility("hidden")));
inline int isa() { return g_detected_isa < g_max_isa ? g_detected_isa : g_max_isa; }
#endif

// y = forward1(x) over m elements with non-NaN scales, on the best loop this CPU has.
template <class T>
void forward_range_dispatched(const T* x, T* y, int64_t m, T a, T b) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return forward_range_avx512(x, y, m, a, b);
    case kAvx2: return forward_range_avx2(x, y, m, a, b);
    default: break;
  }
#endif
  forward_range_base(x, y, m, a, b);
}

// Steps of kLanes elements of a backward piece added to lanes (the sums so far: zeros for a new piece); returns
// how many elements they covered: all m with AVX2 and AVX-512, whose loops end in a masked partial step; the
// whole steps on the baseline, whose callers take the rest one by one.
template <class T, class IO>
int64_t backward_steps(IO io, const T* x, int64_t m, T a, T b, Lanes& lanes) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return backward_steps_avx512(io, x, m, a, b, lanes);
    case kAvx2: return backward_steps_avx2(io, x, m, a, b, lanes);
    default: break;
  }
#endif
  return backward_steps_base(io, x, m, a, b, lanes);
}

}  // namespace arelu::cpu
