// CPU kernels of the C ABI in arelu.h: one pass forward, one pass backward (input gradient and both
// parameter sums together).
//
// Determinism: every reduction is defined by the shape alone. A buffer is cut into chunks of kChunk
// elements; a chunk is summed in double with kLanes interleaved accumulators combined in a fixed tree;
// chunk sums are folded left to right. Threads only decide who computes which chunk, never the order
// of the additions, so the sums are bit-identical for any thread count.
#include "arelu.h"
#include "arelu_cpu_dispatch.h"
#include "arelu_elements.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

namespace {

using namespace arelu::cpu;

// Reduction chunk; a constant so that chunk boundaries never depend on the thread count.
constexpr int64_t kChunk = 32768;
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 65536;
// Chunk sums are collected on the stack this many chunks at a time (one parallel region per wave),
// so a reduction never allocates.
constexpr int64_t kWave = 512;

// When both operands of an addition are NaN, x86 returns the first one's, and the compiler may swap the
// operands of a commutative add (it does, differently per instantiation and per ISA); only the sign and
// payload of a NaN sum can differ that way, never whether it is NaN. So NaN sums are returned as the one
// canonical quiet NaN, which keeps "bit-identical" true for NaN results too.
inline double canonical(double v) { return v != v ? std::numeric_limits<double>::quiet_NaN() : v; }

int threads_for(int64_t n, int64_t units, int num_threads) {
  if (num_threads <= 1 || n < kParallelMin) return 1;
  return static_cast<int>(std::min<int64_t>(num_threads, units));
}

// body(0), ..., body(count - 1), on nt threads (static schedule), or plainly in this thread when nt is 1: a
// parallel region whose `if` clause is false still makes libgomp build a team of one and wake a futex, which
// measured 1.4-1.5 us per call here (a system call, costly in a virtual machine), more than the whole kernel on a
// tensor of a few thousand elements.
template <class Body>
void for_each_index(int nt, int64_t count, const Body& body) {
  if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < count; ++i) body(i);
  } else {
    for (int64_t i = 0; i < count; ++i) body(i);
  }
}

template <class T>
void forward_range(const T* x, T* y, int64_t m, T a, T b) {
  // The NaN rule (arelu_elements.h): the scales are uniform over the range, so one test here keeps the loops
  // free of it.
  if (arelu::kernel::scales_make_output_nan(a, b)) {
    std::fill(y, y + m, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  forward_range_dispatched(x, y, m, a, b);
}

// The kLanes lane sums in a fixed pairwise tree.
inline double combine(const double* v) {
  static_assert(kLanes == 16, "the combining tree below is written for 16 lanes");
  const double q0 = (v[0] + v[1]) + (v[2] + v[3]);
  const double q1 = (v[4] + v[5]) + (v[6] + v[7]);
  const double q2 = (v[8] + v[9]) + (v[10] + v[11]);
  const double q3 = (v[12] + v[13]) + (v[14] + v[15]);
  return (q0 + q1) + (q2 + q3);
}

// One piece (at most a chunk): whole steps of kLanes, the rest one by one into lanes 0.. (with AVX2 and AVX-512
// the steps take the rest too, as a masked partial step into the same lanes), then the lanes combined in a
// fixed tree.
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
  for_each_index(nt, chunks, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    forward_range(x + begin, y + begin, std::min(kChunk, n - begin), a, b);
  });
}

template <class T, class IO>
Sums backward_flat(IO io, const T* x, int64_t n, T a, T b, int num_threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  Sums total{0.0, 0.0};
  Sums part[kWave];
  for (int64_t w0 = 0; w0 < chunks; w0 += kWave) {
    const int64_t wc = std::min(kWave, chunks - w0);
    const int nt = threads_for(n, wc, num_threads);
    for_each_index(nt, wc, [&](int64_t c) {
      const int64_t begin = (w0 + c) * kChunk;
      part[c] = backward_piece(io.at(begin), x + begin, std::min(kChunk, n - begin), a, b);
    });
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
// Rows that do not take the short-row loops (takes_short_rows): pieces are the intersections of rows with the
// flat chunk grid, and per channel
//   row_sum(o, c) = left fold of its pieces' sums,  sum_c = left fold over o of row_sum(o, c);
// two schedules compute exactly these values (see backward_channels_impl). Shorter rows: blocks of whole
// outer rows (backward_short_rows).

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

// ---- short rows: channels_last memory (inner == 1) and NCHW with a small H * W, in blocks of whole outer rows.
// Piece by piece, each row would be a call of its own, with a combining tree of its own; instead a block of
// whole outer rows at a time is walked in order, with running sums per channel (see backward_short_rows).
// Below kShortRow elements a row always takes these loops; below kMediumRow when a block holds at least two
// outer rows (else it combines as often as the pieces do) and the batch is large enough to give every thread
// blocks (the piece schedules parallelize over flat chunks in any case). Shape alone decides, never the thread count, so
// the sums are the same for any.
constexpr int64_t kShortRow = 64;
constexpr int64_t kMediumRow = 256;
constexpr int64_t kBatchForMediumRows = 16;
inline bool takes_short_rows(const Shape& s) {
  return s.inner < kShortRow ||
         (s.inner < kMediumRow && 2 * s.channels * s.inner <= kChunk && s.outer >= kBatchForMediumRows);
}
// The most bytes of lanes (16 KiB: 64 channels) that the short-row backward keeps for all channels while it
// walks a block in memory order: half of a 32 KiB L1 data cache, the rest for the rows streaming through.
// Tests set another limit (arelu::detail::set_lanes_in_cache) to compare the two walks.
int64_t g_lanes_in_cache = 16 * 1024;
// Row blocks are collected this many at a time (one parallel region each), their per-channel sums kept apart
// and folded in block order afterwards, so the sums do not depend on the thread count.
constexpr int64_t kBlockWave = 64;

// forward1 and backward1 with their selects written as bit masks, the same values bit for bit. In the
// short-row loops GCC keeps the element functions' selects as branches, which random signs mispredict (about
// 10 ns an element here); the masks it vectorizes.
template <class T>
struct MaskOf;
template <>
struct MaskOf<float> {
  using type = uint32_t;
};
template <>
struct MaskOf<double> {
  using type = uint64_t;
};

template <class T>
inline typename MaskOf<T>::type bits_of(T v) {
  return __builtin_bit_cast(typename MaskOf<T>::type, v);
}
template <class T>
inline T value_of(typename MaskOf<T>::type u) {
  return __builtin_bit_cast(T, u);
}
// All ones where c holds.
template <class U>
inline U mask(bool c) {
  return static_cast<U>(0) - static_cast<U>(c);
}

template <class T>
inline T forward1_masked(T x, T a, T b) {
  using U = typename MaskOf<T>::type;
  const U lt = mask<U>(x < T(0));
  const U gt = mask<U>(x > T(0));
  const T xa = x * a;
  const U xa_plus_zero = bits_of(xa) & ~mask<U>(xa == T(0));  // +0 where x * a underflowed
  return value_of<T>((xa_plus_zero & lt) | (bits_of(x * b) & gt) | (bits_of(x) & ~(lt | gt)));
}

template <class T>
inline T backward1_masked(T g, T x, T a, T b, double& pn, double& pp) {
  using U = typename MaskOf<T>::type;
  const bool neg = !(x >= T(0));
  const bool pos = !(x <= T(0));
  const uint64_t mn = mask<uint64_t>(neg);
  const uint64_t mp = mask<uint64_t>(pos);
  const double gd = static_cast<double>(g);
  const uint64_t xd = bits_of(static_cast<double>(x));
  pn = gd * value_of<double>(xd & mn);
  pp = gd * value_of<double>(xd & mp);
  const U un = mask<U>(neg);
  const U up = mask<U>(pos);
  return value_of<T>(bits_of(g * b) & up) + value_of<T>((bits_of(g * a) & un) | (bits_of(-T(0)) & ~un));
}

// Rows shorter than this (and longer than 1) are vectorized along the outer row with each channel's scales
// repeated for its inner elements; longer short rows go through the flat kernels' vector loop row by row.
// Measured on AVX-512 (jmh/README.md): below it the repeated scales are faster, above it the vector loop.
constexpr int64_t kRepeatedScales = 2 * kLanes;

// A channel's scale repeated for each of its row's inner elements, for rows shorter than kRepeatedScales
// (empty otherwise: the other short-row loops take one scale per channel).
template <class T>
std::vector<T> per_element(const T* v, const Shape& s) {
  std::vector<T> each;
  if (s.inner > 1 && s.inner < kRepeatedScales) {
    each.reserve(static_cast<size_t>(s.channels * s.inner));
    for (int64_t c = 0; c < s.channels; ++c) each.insert(each.end(), static_cast<size_t>(s.inner), v[c]);
  }
  return each;
}

// How many outer rows (channels * inner elements each) a block holds: about a chunk's worth.
inline int64_t rows_per_block(const Shape& s) {
  return std::max<int64_t>(1, kChunk / std::max<int64_t>(1, s.channels * s.inner));
}

// One row of channels_last memory (inner == 1): element c is channel c. The accumulators and the buffers are
// distinct arrays (restrict), so the loop vectorizes across channels.
template <class T, class IO>
__attribute__((always_inline)) inline void short_row_body(IO io, const T* __restrict x, int64_t channels,
                                                          const T* __restrict a, const T* __restrict b,
                                                          double* __restrict pn, double* __restrict pp) {
  for (int64_t c = 0; c < channels; ++c) {
    double tn, tp;
    io.store(c, backward1_masked(io.load(c), x[c], a[c], b[c], tn, tp));
    pn[c] += tn;
    pp[c] += tp;
  }
}

template <class T>
__attribute__((always_inline)) inline void forward_row_body(const T* __restrict x, T* __restrict y, int64_t channels,
                                                            const T* __restrict a, const T* __restrict b) {
  for (int64_t c = 0; c < channels; ++c) y[c] = forward1_masked(x[c], a[c], b[c]);
}

// The two row loops compiled for AVX2 and AVX-512 too (function-level targets, as the flat loops in
// arelu_cpu_avx2.h and arelu_cpu_avx512.h), chosen per row by isa(): the same operations in the same order,
// so the same bits on every path.
#if defined(ARELU_X86_DISPATCH)
template <class T, class IO>
__attribute__((target("avx2"))) void short_row_avx2(IO io, const T* x, int64_t channels, const T* a, const T* b,
                                                    double* pn, double* pp) {
  short_row_body(io, x, channels, a, b, pn, pp);
}

template <class T, class IO>
__attribute__((target("avx512f"))) void short_row_avx512(IO io, const T* x, int64_t channels, const T* a,
                                                         const T* b, double* pn, double* pp) {
  short_row_body(io, x, channels, a, b, pn, pp);
}

template <class T>
__attribute__((target("avx2"))) void forward_row_avx2(const T* x, T* y, int64_t channels, const T* a, const T* b) {
  forward_row_body(x, y, channels, a, b);
}

template <class T>
__attribute__((target("avx512f"))) void forward_row_avx512(const T* x, T* y, int64_t channels, const T* a,
                                                           const T* b) {
  forward_row_body(x, y, channels, a, b);
}
#endif

template <class T, class IO>
inline void short_row(IO io, const T* x, int64_t channels, const T* a, const T* b, double* pn, double* pp) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return short_row_avx512(io, x, channels, a, b, pn, pp);
    case kAvx2: return short_row_avx2(io, x, channels, a, b, pn, pp);
    default: break;
  }
#endif
  short_row_body(io, x, channels, a, b, pn, pp);
}

template <class T>
inline void forward_row(const T* x, T* y, int64_t channels, const T* a, const T* b) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return forward_row_avx512(x, y, channels, a, b);
    case kAvx2: return forward_row_avx2(x, y, channels, a, b);
    default: break;
  }
#endif
  forward_row_body(x, y, channels, a, b);
}

// One outer row of NCHW memory: `channels` rows of m elements, each with its channel's scales. The channels
// whose scales make the output NaN are the caller's to fill afterwards.
template <class T>
void forward_channel_rows(const T* x, T* y, int64_t channels, int64_t m, const T* a, const T* b) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return forward_channel_rows_avx512(x, y, channels, m, a, b);
    case kAvx2: return forward_channel_rows_avx2(x, y, channels, m, a, b);
    default: break;
  }
#endif
  for (int64_t c = 0; c < channels; ++c) forward_range(x + c * m, y + c * m, m, a[c], b[c]);
}

template <class T>
void forward_short_rows(const T* x, T* y, const Shape& s, const T* a, const T* b, int num_threads) {
  // Rows of a few elements (NCHW with a small H * W): an outer row as one row of channels_last memory with the
  // scales repeated, as in backward_short_rows.
  const std::vector<T> a_each = per_element(a, s);
  const std::vector<T> b_each = per_element(b, s);
  const T* ea = a_each.data();
  const T* eb = b_each.data();
  const int64_t per_block = rows_per_block(s);
  const int64_t blocks = (s.outer + per_block - 1) / per_block;
  const int nt = threads_for(s.n, blocks, num_threads);
  const int64_t row = s.channels * s.inner;
  for_each_index(nt, blocks, [&](int64_t k) {
    const int64_t o1 = std::min(s.outer, (k + 1) * per_block);
    for (int64_t o = k * per_block; o < o1; ++o) {
      const T* xr = x + o * row;
      T* yr = y + o * row;
      if (s.inner < kRepeatedScales) {
        forward_row(xr, yr, row, s.inner == 1 ? a : ea, s.inner == 1 ? b : eb);
      } else {
        forward_channel_rows(xr, yr, s.channels, s.inner, a, b);
      }
    }
  });
  // The NaN rule (arelu_elements.h), for the channels whose scales are NaN: rare, so a second pass.
  for (int64_t c = 0; c < s.channels; ++c) {
    if (arelu::kernel::scales_make_output_nan(a[c], b[c])) {
      for (int64_t o = 0; o < s.outer; ++o) {
        std::fill(y + (o * s.channels + c) * s.inner, y + (o * s.channels + c + 1) * s.inner,
                  std::numeric_limits<T>::quiet_NaN());
      }
    }
  }
}


// `rows` rows of m elements, `stride` elements apart, all of one channel: each row's whole steps and then its
// last elements into the same lanes (element i of a row into lane i % kLanes), rows in order. With AVX2 or
// AVX-512 one loop keeps the lanes in registers over all the rows and ends each row in a masked step; the
// baseline goes a row at a time. The same sums either way.
template <class T, class IO>
void backward_rows(IO io, const T* x, int64_t rows, int64_t stride, int64_t m, T a, T b, Lanes& lanes) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return backward_rows_avx512(io, x, rows, stride, m, a, b, lanes);
    case kAvx2: return backward_rows_avx2(io, x, rows, stride, m, a, b, lanes);
    default: break;
  }
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const IO rio = io.at(r * stride);
    const T* xr = x + r * stride;
    int64_t i = backward_steps(rio, xr, m, a, b, lanes);
    for (int j = 0; i < m; ++i, ++j) {
      double tn, tp;
      rio.store(i, backward1_masked(rio.load(i), xr[i], a, b, tn, tp));
      lanes.neg[j] += tn;
      lanes.pos[j] += tp;
    }
  }
}

// One outer row of NCHW memory: `channels` rows of m elements, row c with channel c's scales into lanes[c], in
// one call: backward_rows over one row per channel, in memory order.
template <class T, class IO>
void backward_channel_rows(IO io, const T* x, int64_t channels, int64_t m, const T* a, const T* b, Lanes* lanes) {
#if defined(ARELU_X86_DISPATCH)
  switch (isa()) {
    case kAvx512: return backward_channel_rows_avx512(io, x, channels, m, a, b, lanes);
    case kAvx2: return backward_channel_rows_avx2(io, x, channels, m, a, b, lanes);
    default: break;
  }
#endif
  for (int64_t c = 0; c < channels; ++c) backward_rows(io.at(c * m), x + c * m, 1, 0, m, a[c], b[c], lanes[c]);
}

// Per block, per channel: with inner == 1 the sum of its rows' elements in row order; with longer rows the
// kLanes lanes of the channel, element i of each row into lane i % kLanes, rows in order, combined in the
// fixed tree at the end of the block. Blocks folded in order. The same values for any thread count.
template <class T, class IO>
void backward_short_rows(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                         double* pos_sum, int num_threads) {
  const int64_t per_block = rows_per_block(s);
  const int64_t blocks = (s.outer + per_block - 1) / per_block;
  const int64_t row = s.channels * s.inner;
  const int64_t wave = std::min(kBlockWave, blocks);
  std::vector<double> part(static_cast<size_t>(2 * wave * s.channels));
  const std::vector<T> a_each = per_element(a, s);
  const std::vector<T> b_each = per_element(b, s);
  const T* ea = a_each.data();
  const T* eb = b_each.data();
  for (int64_t c = 0; c < s.channels; ++c) neg_sum[c] = pos_sum[c] = 0.0;
  for (int64_t w0 = 0; w0 < blocks; w0 += wave) {
    const int64_t wc = std::min(wave, blocks - w0);
    const int nt = threads_for(s.n, wc, num_threads);
    const auto block = [&](int64_t k) {
      double* pn = part.data() + 2 * k * s.channels;
      double* pp = pn + s.channels;
      std::fill(pn, pn + 2 * s.channels, 0.0);
      const int64_t o0 = (w0 + k) * per_block;
      const int64_t o1 = std::min(s.outer, o0 + per_block);
      if (s.inner == 1) {
        for (int64_t o = o0; o < o1; ++o) short_row(io.at(o * row), x + o * row, s.channels, a, b, pn, pp);
        return;
      }
      if (s.inner < kRepeatedScales) {
        // Rows of under two vectors: an outer row is taken as one row of channels_last memory with
        // channels * inner "channels" (the scales repeated inner times), vectorized along it; each position's
        // sums are then folded into its channel, positions in order.
        std::vector<double> position(static_cast<size_t>(2 * row), 0.0);
        for (int64_t o = o0; o < o1; ++o) {
          short_row(io.at(o * row), x + o * row, row, ea, eb, position.data(), position.data() + row);
        }
        for (int64_t c = 0; c < s.channels; ++c) {
          for (int64_t i = 0; i < s.inner; ++i) {
            pn[c] += position[static_cast<size_t>(c * s.inner + i)];
            pp[c] += position[static_cast<size_t>(row + c * s.inner + i)];
          }
        }
        return;
      }
      // Longer rows (kRepeatedScales <= inner < kMediumRow): too short to pay for a combining tree each, so
      // each channel's rows in the block go through the flat kernels' vector loop into the channel's lanes,
      // element i into lane i % kLanes, rows in order, and the lanes are combined once per block. Two walks
      // give these sums: in memory order, outer row by outer row, where every channel's lanes stay in the L1
      // cache between rows; else channel by channel, each over the block's rows with its lanes in registers.
      // Between a network's layers the caches are cold, and walking a channel's rows reads the block as
      // 3 x rows strided streams, which costs more than the lanes' trips (jmh/README.md, channel-wise kernels).
      if (s.channels * static_cast<int64_t>(sizeof(Lanes)) <= g_lanes_in_cache) {
        std::vector<Lanes> lanes(static_cast<size_t>(s.channels));
        for (int64_t o = o0; o < o1; ++o) {
          backward_channel_rows(io.at(o * row), x + o * row, s.channels, s.inner, a, b, lanes.data());
        }
        for (int64_t c = 0; c < s.channels; ++c) {
          pn[c] = combine(lanes[static_cast<size_t>(c)].neg);
          pp[c] = combine(lanes[static_cast<size_t>(c)].pos);
        }
        return;
      }
      for (int64_t c = 0; c < s.channels; ++c) {
        const int64_t e0 = o0 * row + c * s.inner;
        Lanes l;
        backward_rows(io.at(e0), x + e0, o1 - o0, row, s.inner, a[c], b[c], l);
        pn[c] = combine(l.neg);
        pp[c] = combine(l.pos);
      }
    };
    // A block's buffers are allocated in its thread; an exception must not leave a parallel region (that ends
    // the process), so a failed allocation is carried out of it and thrown again here, in the caller's thread.
    std::atomic<bool> out_of_memory{false};
    for_each_index(nt, wc, [&](int64_t k) {
      try {
        block(k);
      } catch (const std::bad_alloc&) {
        out_of_memory.store(true);
      }
    });
    if (out_of_memory.load()) throw std::bad_alloc();
    for (int64_t k = 0; k < wc; ++k) {
      const double* pn = part.data() + 2 * k * s.channels;
      const double* pp = pn + s.channels;
      for (int64_t c = 0; c < s.channels; ++c) {
        neg_sum[c] += pn[c];
        pos_sum[c] += pp[c];
      }
    }
  }
}

template <class T>
void forward_channels_impl(const T* x, T* y, const Shape& s, const T* a, const T* b, int num_threads) {
  if (takes_short_rows(s)) {
    forward_short_rows(x, y, s, a, b, num_threads);
    return;
  }
  const int64_t chunks = (s.n + kChunk - 1) / kChunk;
  const int nt = threads_for(s.n, chunks, num_threads);
  for_each_index(nt, chunks, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    for_each_piece(s, begin, std::min(s.n, begin + kChunk), [&](int64_t p0, int64_t p1, int64_t row) {
      const int64_t ch = row % s.channels;
      forward_range(x + p0, y + p0, p1 - p0, a[ch], b[ch]);
    });
  });
}

// Schedule A, one thread: o in order, each row's pieces folded, rows folded into their channel's sums.
template <class T, class IO>
void backward_by_channel(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                         double* pos_sum) {
  for (int64_t c = 0; c < s.channels; ++c) neg_sum[c] = pos_sum[c] = 0.0;
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t c = 0; c < s.channels; ++c) {
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

// Pieces buffered per wave of chunks in schedule B, at most (the wave shrinks for short rows).
constexpr int64_t kWavePieces = 8192;
constexpr int64_t kMaxChunkWave = 64;

// Schedule B, several threads: flat chunks in parallel, so each thread walks memory of its own in order, piece
// sums buffered per wave, then one in-order pass folds pieces into rows and rows into channels, which gives
// schedule A's values to the bit. (Threads that owned channels and took turns row by row, as schedule A once
// did in parallel, were no faster with two threads than with one on rows of 784 elements: each core's
// prefetcher ran into the rows the other core was writing.) The buffer is allocated here, outside the parallel
// region; an allocation failure reaches the entry point as std::bad_alloc.
template <class T, class IO>
void backward_by_chunk(IO io, const T* x, const Shape& s, const T* a, const T* b, double* neg_sum,
                       double* pos_sum, int num_threads) {
  struct Piece {
    Sums sum;
    int64_t row;
    bool ends_row;
  };
  // A chunk meets at most kChunk / inner + 2 rows, so it has at most that many pieces.
  const int64_t max_pieces = kChunk / std::max<int64_t>(1, s.inner) + 2;
  const int64_t wave = std::max<int64_t>(num_threads, std::min(kMaxChunkWave, kWavePieces / max_pieces));
  std::vector<Piece> part(static_cast<size_t>(wave * max_pieces));
  std::vector<int64_t> count(static_cast<size_t>(wave));
  for (int64_t c = 0; c < s.channels; ++c) neg_sum[c] = pos_sum[c] = 0.0;
  const int64_t chunks = (s.n + kChunk - 1) / kChunk;
  Sums row_acc{0.0, 0.0};
  for (int64_t w0 = 0; w0 < chunks; w0 += wave) {
    const int64_t wc = std::min(wave, chunks - w0);
    const int nt = threads_for(s.n, wc, num_threads);
    for_each_index(nt, wc, [&](int64_t k) {
      const int64_t begin = (w0 + k) * kChunk;
      Piece* pieces = part.data() + k * max_pieces;
      int64_t& m = count[static_cast<size_t>(k)];
      m = 0;
      for_each_piece(s, begin, std::min(s.n, begin + kChunk), [&](int64_t p0, int64_t p1, int64_t row) {
        const int64_t ch = row % s.channels;
        pieces[m++] = {backward_piece(io.at(p0), x + p0, p1 - p0, a[ch], b[ch]), row, p1 == (row + 1) * s.inner};
      });
    });
    for (int64_t k = 0; k < wc; ++k) {
      const Piece* pieces = part.data() + k * max_pieces;
      for (int64_t i = 0; i < count[static_cast<size_t>(k)]; ++i) {
        row_acc.neg += pieces[i].sum.neg;
        row_acc.pos += pieces[i].sum.pos;
        if (pieces[i].ends_row) {
          const int64_t ch = pieces[i].row % s.channels;
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
  if (takes_short_rows(s)) {
    backward_short_rows(io, x, s, a, b, neg_sum, pos_sum, num_threads);
  } else if (threads_for(s.n, (s.n + kChunk - 1) / kChunk, num_threads) > 1) {
    backward_by_chunk(io, x, s, a, b, neg_sum, pos_sum, num_threads);
  } else {
    backward_by_channel(io, x, s, a, b, neg_sum, pos_sum);
  }
}

template <class T>
int forward_channels(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner, const T* a, const T* b,
                     int num_threads) {
  Shape s{outer, channels, inner, 0};
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, s.n)) return st;
  if (s.n == 0) return ARELU_OK;
  if (x == nullptr || y == nullptr || a == nullptr || b == nullptr) return ARELU_ERR_NULL_POINTER;
  try {
    forward_channels_impl(x, y, s, a, b, num_threads);
  } catch (const std::bad_alloc&) {  // the short rows' repeated scales: a status, not an exception in C
    return ARELU_ERR_NO_MEMORY;
  }
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
  // The schedules' buffers are allocated before their parallel regions: a failure is a status here.
  try {
    if (gi == nullptr) {
      backward_channels_impl(NoGrad<T>{g}, x, s, a, b, neg_sum, pos_sum, num_threads);
    } else if (gi == g) {
      backward_channels_impl(InPlaceGrad<T>{gi}, x, s, a, b, neg_sum, pos_sum, num_threads);
    } else {
      backward_channels_impl(SeparateGrad<T>{g, gi}, x, s, a, b, neg_sum, pos_sum, num_threads);
    }
  } catch (const std::bad_alloc&) {
    return ARELU_ERR_NO_MEMORY;
  }
  for (int64_t c = 0; c < channels; ++c) {
    neg_sum[c] = canonical(neg_sum[c]);
    pos_sum[c] = canonical(pos_sum[c]);
  }
  return ARELU_OK;
}

template <class T>
int scales(const T* alpha, const T* beta, T* neg, T* pos, int64_t channels) {
  if (const int st = arelu::kernel::check_scales(alpha, beta, neg, pos, channels)) return st;
  for (int64_t c = 0; c < channels; ++c) arelu::kernel::scales1(alpha[c], beta[c], neg[c], pos[c]);
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

// The parameters are read once, before anything is written: the output may share memory with them.
template <class T>
int forward_params(const T* x, T* y, int64_t n, const T* alpha, const T* beta, int num_threads) {
  if (alpha == nullptr || beta == nullptr) return ARELU_ERR_NULL_POINTER;
  const T raw_alpha = *alpha;
  const T raw_beta = *beta;
  T a;
  T b;
  if (const int st = scales(&raw_alpha, &raw_beta, &a, &b, 1)) return st;
  return forward_scalar(x, y, n, a, b, num_threads);
}

// Every pointer is checked and the parameters are read before grad_in is written, so a failed call writes
// nothing and grad_in may share memory with alpha or beta.
template <class T>
int backward_params(const T* g, const T* x, T* gi, int64_t n, const T* alpha, const T* beta, T* grad_alpha,
                    T* grad_beta, int num_threads) {
  if (alpha == nullptr || beta == nullptr || grad_alpha == nullptr || grad_beta == nullptr) {
    return ARELU_ERR_NULL_POINTER;
  }
  const T raw_alpha = *alpha;
  const T raw_beta = *beta;
  T a;
  T b;
  if (const int st = scales(&raw_alpha, &raw_beta, &a, &b, 1)) return st;
  double neg_sum;
  double pos_sum;
  if (const int st = backward_scalar(g, x, gi, n, a, b, &neg_sum, &pos_sum, num_threads)) return st;
  return parameter_gradients(&neg_sum, &pos_sum, &raw_alpha, &raw_beta, grad_alpha, grad_beta, 1);
}

// The scalar backward from parameter values given by the caller (those its forward read), as backward_params.
template <class T>
int backward_values(const T* g, const T* x, T* gi, int64_t n, T alpha, T beta, T* grad_alpha, T* grad_beta,
                    int num_threads) {
  return backward_params(g, x, gi, n, &alpha, &beta, grad_alpha, grad_beta, num_threads);
}

// More channel-wise parameters than one allocation of the params forms can hold (4 values and 2 sums a channel),
// and than 4 * channels can count: with an empty input the shape check lets any channel count through.
constexpr int64_t kMaxParamChannels = static_cast<int64_t>(PTRDIFF_MAX / (4 * sizeof(double)));

// The channel-wise form from the raw parameters: the raw values are copied and the scales formed before any
// output is written, so y may share memory with alpha or beta, and nothing is written when a pointer is missing.
// The copies live in one allocation here (bad_alloc becomes a status, never an exception across the C ABI).
template <class T>
int forward_channels_params(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner, const T* alpha,
                            const T* beta, int num_threads) {
  int64_t n;
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, n)) return st;
  if (channels > 0 && (alpha == nullptr || beta == nullptr)) return ARELU_ERR_NULL_POINTER;
  if (n == 0) return ARELU_OK;
  if (channels > kMaxParamChannels) return ARELU_ERR_NO_MEMORY;
  try {
    std::vector<T> scale(static_cast<size_t>(2 * channels));
    T* neg = scale.data();
    T* pos = neg + channels;
    if (const int st = scales(alpha, beta, neg, pos, channels)) return st;
    return forward_channels(x, y, outer, channels, inner, neg, pos, num_threads);
  } catch (const std::bad_alloc&) {
    return ARELU_ERR_NO_MEMORY;
  }
}

// Every pointer is checked and the parameters are copied before grad_in is written, so a failed call writes
// nothing and grad_in may share memory with alpha or beta.
template <class T>
int backward_channels_params(const T* g, const T* x, T* gi, int64_t outer, int64_t channels, int64_t inner,
                             const T* alpha, const T* beta, T* grad_alpha, T* grad_beta, int num_threads) {
  int64_t n;
  if (const int st = arelu::kernel::check_shape(outer, channels, inner, n)) return st;
  if (channels > 0 && (alpha == nullptr || beta == nullptr || grad_alpha == nullptr || grad_beta == nullptr)) {
    return ARELU_ERR_NULL_POINTER;
  }
  if (n > 0 && (g == nullptr || x == nullptr)) return ARELU_ERR_NULL_POINTER;
  if (channels > kMaxParamChannels) return ARELU_ERR_NO_MEMORY;
  try {
    std::vector<T> values(static_cast<size_t>(4 * channels));
    T* raw_alpha = values.data();
    T* raw_beta = raw_alpha + channels;
    T* neg = raw_beta + channels;
    T* pos = neg + channels;
    std::vector<double> sums(static_cast<size_t>(2 * channels));
    double* neg_sum = sums.data();
    double* pos_sum = neg_sum + channels;
    std::copy(alpha, alpha + channels, raw_alpha);
    std::copy(beta, beta + channels, raw_beta);
    if (const int st = scales(raw_alpha, raw_beta, neg, pos, channels)) return st;
    if (const int st = backward_channels(g, x, gi, outer, channels, inner, neg, pos, neg_sum, pos_sum, num_threads)) {
      return st;
    }
    return parameter_gradients(neg_sum, pos_sum, raw_alpha, raw_beta, grad_alpha, grad_beta, channels);
  } catch (const std::bad_alloc&) {
    return ARELU_ERR_NO_MEMORY;
  }
}

}  // namespace

namespace arelu::detail {
// For the tests only (hidden, as set_max_isa): the short-row backward's limit on the channels' lanes for the walk
// in memory order (0: always channel by channel). Returns the previous limit.
int64_t set_lanes_in_cache(int64_t bytes) {
  const int64_t previous = g_lanes_in_cache;
  g_lanes_in_cache = bytes;
  return previous;
}
}  // namespace arelu::detail

extern "C" {

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

int arelu_scales_f32(const float* alpha, const float* beta, float* neg_scale, float* pos_scale, int64_t channels) {
  return scales(alpha, beta, neg_scale, pos_scale, channels);
}
int arelu_scales_f64(const double* alpha, const double* beta, double* neg_scale, double* pos_scale,
                     int64_t channels) {
  return scales(alpha, beta, neg_scale, pos_scale, channels);
}

int arelu_parameter_gradients_f32(const double* neg_sum, const double* pos_sum, const float* alpha, const float* beta,
                                  float* grad_alpha, float* grad_beta, int64_t channels) {
  return parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}
int arelu_parameter_gradients_f64(const double* neg_sum, const double* pos_sum, const double* alpha,
                                  const double* beta, double* grad_alpha, double* grad_beta, int64_t channels) {
  return parameter_gradients(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}

int arelu_forward_params_f32(const float* x, float* y, int64_t n, const float* alpha, const float* beta,
                             int num_threads) {
  return forward_params(x, y, n, alpha, beta, num_threads);
}
int arelu_forward_params_f64(const double* x, double* y, int64_t n, const double* alpha, const double* beta,
                             int num_threads) {
  return forward_params(x, y, n, alpha, beta, num_threads);
}

int arelu_backward_params_f32(const float* grad_out, const float* x, float* grad_in, int64_t n, const float* alpha,
                              const float* beta, float* grad_alpha, float* grad_beta, int num_threads) {
  return backward_params(grad_out, x, grad_in, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}
int arelu_backward_params_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                              const double* alpha, const double* beta, double* grad_alpha, double* grad_beta,
                              int num_threads) {
  return backward_params(grad_out, x, grad_in, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}

int arelu_backward_values_f32(const float* grad_out, const float* x, float* grad_in, int64_t n, float alpha,
                              float beta, float* grad_alpha, float* grad_beta, int num_threads) {
  return backward_values(grad_out, x, grad_in, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}
int arelu_backward_values_f64(const double* grad_out, const double* x, double* grad_in, int64_t n, double alpha,
                              double beta, double* grad_alpha, double* grad_beta, int num_threads) {
  return backward_values(grad_out, x, grad_in, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}

int arelu_forward_channels_params_f32(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                                      const float* alpha, const float* beta, int num_threads) {
  return forward_channels_params(x, y, outer, channels, inner, alpha, beta, num_threads);
}
int arelu_forward_channels_params_f64(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                                      const double* alpha, const double* beta, int num_threads) {
  return forward_channels_params(x, y, outer, channels, inner, alpha, beta, num_threads);
}

int arelu_backward_channels_params_f32(const float* grad_out, const float* x, float* grad_in, int64_t outer,
                                       int64_t channels, int64_t inner, const float* alpha, const float* beta,
                                       float* grad_alpha, float* grad_beta, int num_threads) {
  return backward_channels_params(grad_out, x, grad_in, outer, channels, inner, alpha, beta, grad_alpha, grad_beta,
                                  num_threads);
}
int arelu_backward_channels_params_f64(const double* grad_out, const double* x, double* grad_in, int64_t outer,
                                       int64_t channels, int64_t inner, const double* alpha, const double* beta,
                                       double* grad_alpha, double* grad_beta, int num_threads) {
  return backward_channels_params(grad_out, x, grad_in, outer, channels, inner, alpha, beta, grad_alpha, grad_beta,
                                  num_threads);
}

}  // extern "C"
