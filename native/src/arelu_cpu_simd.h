// What the CPU loops of every instruction set share: the lanes of a backward piece, the three ways the input
// gradient is stored, the element functions, and which x86 intrinsics this compiler offers.
#pragma once

#include "arelu_elements.h"

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
// AVX2 and AVX-512 loops are compiled (function-level target attributes) and chosen at run time.
#define ARELU_X86_DISPATCH 1
#endif

namespace arelu::cpu {

using arelu::kernel::backward1;
using arelu::kernel::forward1;
using arelu::kernel::Sums;

// Independent accumulators per chunk: break the serial dependence of a double sum so that the adds
// vectorize and pipeline, while keeping one fixed order. 16: each lane then gets one add per 16 elements,
// which hides the add latency even when a step handles 16 floats at once (AVX-512).
constexpr int kLanes = 16;

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

// kLanes running sums per side. Element i of a piece (or of a short row) goes to lane i % kLanes.
struct Lanes {
  double neg[kLanes] = {};
  double pos[kLanes] = {};
};

}  // namespace arelu::cpu
