// GPU check of the CUDA kernels, without libtorch: every kernel against the CPU kernels on random and
// edge data, determinism of the sums over repeated runs, then bandwidth at 2^28 float32 elements
// against a device-to-device cudaMemcpy. Exits non-zero on any failure. Run by gpu-check.sh.
#include "arelu.h"
#include "arelu_typed.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

int failures = 0;

void fail(const std::string& what) {
  std::printf("FAIL: %s\n", what.c_str());
  ++failures;
}

#define CUDA_OK(call)                                                                              \
  do {                                                                                             \
    const cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      std::printf("CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, __LINE__, #call); \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

#define ARELU_OK_OR_FAIL(call)                                                             \
  do {                                                                                     \
    const int s_ = (call);                                                                 \
    if (s_ != ARELU_OK) fail(std::string(#call) + " -> " + arelu_error_string(s_));        \
  } while (0)

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }
bool bits_equal(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Device buffer of T with one spare element in front, so tests can use a misaligned start.
template <class T>
struct Dev {
  T* base = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { CUDA_OK(cudaMalloc(&base, (count + 1) * sizeof(T) + 16)); }
  ~Dev() { cudaFree(base); }
  T* at(bool misaligned) { return base + (misaligned ? 1 : 0); }
};

template <class T>
std::vector<T> data(size_t n, unsigned seed, bool edges) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 2.0);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(dist(rng));
  const double inf = std::numeric_limits<double>::infinity();
  const double edge[] = {0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, std::nan(""), inf, -inf};
  if (edges && n >= 9) {
    for (size_t k = 0; k < 9; ++k) v[(k * 7919 + seed) % n] = static_cast<T>(edge[k]);
  }
  return v;
}

template <class T>
void upload(T* dst, const std::vector<T>& src) {
  CUDA_OK(cudaMemcpy(dst, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T>
std::vector<T> download(const T* src, size_t n) {
  std::vector<T> v(n);
  CUDA_OK(cudaMemcpy(v.data(), src, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// Sums of the GPU and the CPU (different order, both in double): within rounding of the |terms|.
void check_sum(const char* what, double gpu, double cpu, double abs_terms) {
  if (std::isnan(cpu) || std::isinf(cpu)) {
    if (!same(gpu, cpu)) fail(std::string(what) + ": " + std::to_string(gpu) + " vs " + std::to_string(cpu));
  } else if (!(std::fabs(gpu - cpu) <= 1e-12 * abs_terms + 1e-300)) {  // a NaN sum from the GPU fails too
    fail(std::string(what) + ": " + std::to_string(gpu) + " vs " + std::to_string(cpu));
  }
}

// The calls of this check: the typed wrappers with its CPU thread count and the default stream bound.
template <class T>
struct Api {
  static constexpr const char* name = sizeof(T) == sizeof(float) ? "f32" : "f64";
  static constexpr int kCpuThreads = 4;
  static int fwd(const T* x, T* y, int64_t n, T a, T b) { return arelu::abi::forward(x, y, n, a, b, kCpuThreads); }
  static int bwd(const T* g, const T* x, T* gi, int64_t n, T a, T b, double* ns, double* ps) {
    return arelu::abi::backward(g, x, gi, n, a, b, ns, ps, kCpuThreads);
  }
  static int cfwd(const T* x, T* y, int64_t o, int64_t c, int64_t i, const T* a, const T* b) {
    return arelu::abi::forward_channels(x, y, o, c, i, a, b, kCpuThreads);
  }
  static int cbwd(const T* g, const T* x, T* gi, int64_t o, int64_t c, int64_t i, const T* a, const T* b, double* ns,
                  double* ps) {
    return arelu::abi::backward_channels(g, x, gi, o, c, i, a, b, ns, ps, kCpuThreads);
  }
  static int dfwd(const T* x, T* y, int64_t n, T a, T b) { return arelu::abi::cuda_forward(x, y, n, a, b, nullptr); }
  static int dbwd(const T* g, const T* x, T* gi, int64_t n, T a, T b, double* ns, double* ps, void* ws, size_t wb) {
    return arelu::abi::cuda_backward(g, x, gi, n, a, b, ns, ps, ws, wb, nullptr);
  }
  static int dcfwd(const T* x, T* y, int64_t o, int64_t c, int64_t i, const T* a, const T* b) {
    return arelu::abi::cuda_forward_channels(x, y, o, c, i, a, b, nullptr);
  }
  static int dcbwd(const T* g, const T* x, T* gi, int64_t o, int64_t c, int64_t i, const T* a, const T* b,
                   double* ns, double* ps, void* ws, size_t wb) {
    return arelu::abi::cuda_backward_channels(g, x, gi, o, c, i, a, b, ns, ps, ws, wb, nullptr);
  }
};

// Element-wise results must equal the CPU kernels': the same operations in the same precision, so the same
// signed zeros too (== takes -0 for +0); NaN only as NaN (payloads may differ).
template <class T>
void check_elements(const std::string& what, const std::vector<T>& gpu, const std::vector<T>& cpu) {
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (!same(gpu[i], cpu[i]) || (gpu[i] == cpu[i] && std::signbit(gpu[i]) != std::signbit(cpu[i]))) {
      fail(what + " at " + std::to_string(i) + ": " + std::to_string(gpu[i]) + " vs " + std::to_string(cpu[i]) +
           " (signbits " + std::to_string(std::signbit(gpu[i])) + " and " + std::to_string(std::signbit(cpu[i])) +
           ")");
      return;
    }
  }
}

template <class T>
double abs_terms(const std::vector<T>& g, const std::vector<T>& x) {
  double s = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double p = std::fabs(double(g[i]) * double(x[i]));
    if (std::isfinite(p)) s += p;
  }
  return s;
}

template <class T>
void check_scalar(int64_t n, bool edges, bool misaligned) {
  using A = Api<T>;
  const std::string tag = std::string(A::name) + " n=" + std::to_string(n) + (edges ? " edges" : "") +
                          (misaligned ? " misaligned" : "");
  const T a = T(0.3), b = T(1.7);
  const std::vector<T> x = data<T>(n, 1, edges), g = data<T>(n, 2, false);
  Dev<T> dx(n), dy(n), dg(n);
  upload(dx.at(misaligned), x);
  upload(dg.at(misaligned), g);

  std::vector<T> y(n);
  ARELU_OK_OR_FAIL(A::fwd(x.data(), y.data(), n, a, b));
  ARELU_OK_OR_FAIL(A::dfwd(dx.at(misaligned), dy.at(misaligned), n, a, b));
  CUDA_OK(cudaDeviceSynchronize());
  check_elements("forward " + tag, download(dy.at(misaligned), n), y);

  std::vector<T> gi(n);
  double ns, ps;
  ARELU_OK_OR_FAIL(A::bwd(g.data(), x.data(), gi.data(), n, a, b, &ns, &ps));
  const size_t wb = arelu_cuda_workspace_bytes(n, 1);
  void* ws = nullptr;
  if (wb > 0) CUDA_OK(cudaMalloc(&ws, wb));
  double* dsums;
  CUDA_OK(cudaMalloc(&dsums, 2 * sizeof(double)));
  double first[2] = {0, 0};
  for (int rep = 0; rep < 5; ++rep) {
    ARELU_OK_OR_FAIL(A::dbwd(dg.at(misaligned), dx.at(misaligned), dy.at(misaligned), n, a, b, dsums, dsums + 1,
                             ws, wb));
    CUDA_OK(cudaDeviceSynchronize());
    double s[2];
    CUDA_OK(cudaMemcpy(s, dsums, sizeof s, cudaMemcpyDeviceToHost));
    if (rep == 0) {
      std::memcpy(first, s, sizeof s);
      check_elements("backward grad_in " + tag, download(dy.at(misaligned), n), gi);
      const double t = abs_terms(g, x);
      check_sum(("neg_sum " + tag).c_str(), s[0], ns, t);
      check_sum(("pos_sum " + tag).c_str(), s[1], ps, t);
    } else if (!bits_equal(s[0], first[0]) || !bits_equal(s[1], first[1])) {
      fail("backward sums not deterministic, " + tag);
    }
  }
  // In place, and without grad_in: same sums to the bit.
  ARELU_OK_OR_FAIL(A::dbwd(dg.at(misaligned), dx.at(misaligned), nullptr, n, a, b, dsums, dsums + 1, ws, wb));
  double s[2];
  CUDA_OK(cudaMemcpy(s, dsums, sizeof s, cudaMemcpyDeviceToHost));
  if (!bits_equal(s[0], first[0]) || !bits_equal(s[1], first[1])) fail("sums without grad_in differ, " + tag);
  ARELU_OK_OR_FAIL(A::dbwd(dg.at(misaligned), dx.at(misaligned), dg.at(misaligned), n, a, b, dsums, dsums + 1, ws,
                           wb));
  CUDA_OK(cudaMemcpy(s, dsums, sizeof s, cudaMemcpyDeviceToHost));
  if (!bits_equal(s[0], first[0]) || !bits_equal(s[1], first[1])) fail("sums in place differ, " + tag);
  check_elements("backward in place " + tag, download(dg.at(misaligned), n), gi);
  if (wb > 0 && A::dbwd(dg.at(misaligned), dx.at(misaligned), nullptr, n, a, b, dsums, dsums + 1, ws, wb - 1) !=
                    ARELU_ERR_WORKSPACE) {
    fail("short workspace not reported, " + tag);
  }
  cudaFree(dsums);
  cudaFree(ws);
}

template <class T>
void check_channels(int64_t outer, int64_t channels, int64_t inner) {
  using A = Api<T>;
  const std::string tag = std::string(A::name) + " channels " + std::to_string(outer) + "x" +
                          std::to_string(channels) + "x" + std::to_string(inner);
  const int64_t n = outer * channels * inner;
  const std::vector<T> x = data<T>(n, 3, false), g = data<T>(n, 4, false);
  std::vector<T> a(channels), b(channels);
  for (int64_t c = 0; c < channels; ++c) {
    a[c] = T(0.01 + 0.98 * c / (channels + 1.0));
    b[c] = T(1.0 + 0.9 * (c + 1.0) / (channels + 1.0));
  }
  Dev<T> dx(n), dy(n), dg(n), da(channels), db(channels);
  upload(dx.at(false), x);
  upload(dg.at(false), g);
  upload(da.at(false), a);
  upload(db.at(false), b);

  std::vector<T> y(n);
  ARELU_OK_OR_FAIL(A::cfwd(x.data(), y.data(), outer, channels, inner, a.data(), b.data()));
  ARELU_OK_OR_FAIL(A::dcfwd(dx.at(false), dy.at(false), outer, channels, inner, da.at(false), db.at(false)));
  CUDA_OK(cudaDeviceSynchronize());
  check_elements("forward " + tag, download(dy.at(false), n), y);

  std::vector<T> gi(n);
  std::vector<double> ns(channels), ps(channels);
  ARELU_OK_OR_FAIL(A::cbwd(g.data(), x.data(), gi.data(), outer, channels, inner, a.data(), b.data(), ns.data(),
                           ps.data()));
  // The workspace as sized, then a guard that no launch may touch: cudaMalloc packs small buffers together, so a
  // write past the end would otherwise land unnoticed in another one.
  const size_t wb = arelu_cuda_workspace_bytes(n, channels);
  constexpr size_t kGuard = 1 << 16;
  unsigned char* ws;
  CUDA_OK(cudaMalloc(&ws, wb + kGuard));
  CUDA_OK(cudaMemset(ws + wb, 0xA5, kGuard));
  double* dsums;
  CUDA_OK(cudaMalloc(&dsums, 2 * channels * sizeof(double)));
  std::vector<double> first;
  for (int rep = 0; rep < 3; ++rep) {
    ARELU_OK_OR_FAIL(A::dcbwd(dg.at(false), dx.at(false), dy.at(false), outer, channels, inner, da.at(false),
                              db.at(false), dsums, dsums + channels, ws, wb));
    CUDA_OK(cudaDeviceSynchronize());
    const std::vector<double> s = download(dsums, 2 * channels);
    if (rep == 0) {
      first = s;
      check_elements("backward grad_in " + tag, download(dy.at(false), n), gi);
      // Per-channel |terms| for the tolerance.
      std::vector<double> t(channels, 0.0);
      for (int64_t i = 0; i < n; ++i) t[(i / inner) % channels] += std::fabs(double(g[i]) * double(x[i]));
      for (int64_t c = 0; c < channels; ++c) {
        check_sum(("neg_sum " + tag).c_str(), s[c], ns[c], t[c]);
        check_sum(("pos_sum " + tag).c_str(), s[channels + c], ps[c], t[c]);
      }
    } else {
      for (size_t k = 0; k < s.size(); ++k) {
        if (!bits_equal(s[k], first[k])) {
          fail("channel sums not deterministic, " + tag);
          break;
        }
      }
    }
  }
  if (channels > 1 && wb > 0 &&
      A::dcbwd(dg.at(false), dx.at(false), nullptr, outer, channels, inner, da.at(false), db.at(false), dsums,
               dsums + channels, ws, wb - 1) != ARELU_ERR_WORKSPACE) {
    fail("short workspace not reported, " + tag);
  }
  CUDA_OK(cudaDeviceSynchronize());
  for (unsigned char byte : download(ws + wb, kGuard)) {
    if (byte != 0xA5) {
      fail("backward wrote past its workspace of " + std::to_string(wb) + " bytes, " + tag);
      break;
    }
  }
  cudaFree(dsums);
  cudaFree(ws);
}

float median_ms(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median time of `reps` runs of f, timed with events on the default stream.
template <class F>
float time_ms(F f, int reps) {
  cudaEvent_t start, stop;
  CUDA_OK(cudaEventCreate(&start));
  CUDA_OK(cudaEventCreate(&stop));
  f();  // warm-up
  std::vector<float> ms;
  for (int r = 0; r < reps; ++r) {
    CUDA_OK(cudaEventRecord(start));
    f();
    CUDA_OK(cudaEventRecord(stop));
    CUDA_OK(cudaEventSynchronize(stop));
    float t;
    CUDA_OK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median_ms(ms);
}

void bandwidth() {
  const int64_t n = int64_t(1) << 28;
  const size_t bytes = n * sizeof(float);
  float *x, *y, *g;
  CUDA_OK(cudaMalloc(&x, bytes));
  CUDA_OK(cudaMalloc(&y, bytes));
  CUDA_OK(cudaMalloc(&g, bytes));
  const std::vector<float> chunk = data<float>(1 << 20, 5, false);
  for (int64_t off = 0; off < n; off += chunk.size()) upload(x + off, chunk);
  CUDA_OK(cudaMemcpy(g, x, bytes, cudaMemcpyDeviceToDevice));
  const size_t wb = arelu_cuda_workspace_bytes(n, 1);
  void* ws;
  double* sums;
  CUDA_OK(cudaMalloc(&ws, wb));
  CUDA_OK(cudaMalloc(&sums, 2 * sizeof(double)));
  const int reps = 20;
  const float copy = time_ms([&] { CUDA_OK(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice)); }, reps);
  const float fwd = time_ms([&] { ARELU_OK_OR_FAIL(arelu_cuda_forward_f32(x, y, n, 0.3f, 1.7f, nullptr)); }, reps);
  const float bwd = time_ms(
      [&] {
        ARELU_OK_OR_FAIL(arelu_cuda_backward_f32(g, x, y, n, 0.3f, 1.7f, sums, sums + 1, ws, wb, nullptr));
      },
      reps);
  const float bwd_sums = time_ms(
      [&] {
        ARELU_OK_OR_FAIL(arelu_cuda_backward_f32(g, x, nullptr, n, 0.3f, 1.7f, sums, sums + 1, ws, wb, nullptr));
      },
      reps);
  // Bytes that must cross HBM: copy and forward read n and write n, backward reads 2n and writes n.
  const double gb = 1e-9 * bytes;
  const double copy_bw = 2 * gb / (copy * 1e-3);
  const double fwd_bw = 2 * gb / (fwd * 1e-3);
  const double bwd_bw = 3 * gb / (bwd * 1e-3);
  const double bwd_sums_bw = 2 * gb / (bwd_sums * 1e-3);
  std::printf("bandwidth at 2^28 float32, median of %d runs:\n", reps);
  std::printf("  cudaMemcpy D2D          %8.3f ms  %7.1f GB/s\n", copy, copy_bw);
  std::printf("  forward                 %8.3f ms  %7.1f GB/s  (%.2f of copy)\n", fwd, fwd_bw, fwd_bw / copy_bw);
  std::printf("  backward (grad_in+sums) %8.3f ms  %7.1f GB/s  (%.2f of copy)\n", bwd, bwd_bw, bwd_bw / copy_bw);
  std::printf("  backward (sums only)    %8.3f ms  %7.1f GB/s  (%.2f of copy)\n", bwd_sums, bwd_sums_bw,
              bwd_sums_bw / copy_bw);
  cudaFree(x);
  cudaFree(y);
  cudaFree(g);
  cudaFree(ws);
  cudaFree(sums);
}

// The CUDA parameter gradients against the CPU ones, which GoogleTest checks against their definition:
// equal, but for the device's exp in sigmoid'(beta) = s (1 - s). CUDA's expf may differ from glibc's by an ulp
// or two, which moves s by up to 2 ulps of T, and the gradient by that relative to s (1 - s): at beta = 2 about
// 5 ulps of T, more for larger beta. The tolerance follows: 4 ulps of rounding plus 2 ulps of s over (1 - s).
template <class T>
void check_parameter_gradients() {
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> neg_sum = {1.5, -2.0, nan, inf, 3.0, 0.25, -7.0};
  const std::vector<double> pos_sum = {-0.5, 4.0, 2.0, nan, inf, 1.0, 0.0};
  const std::vector<T> alpha = {T(0.5), T(0.01), T(0.005), T(0.99), T(1.2), T(nan), T(0.3)};
  const std::vector<T> beta = {T(2.0), T(0.0), T(-3.0), T(nan), T(1.0), T(40.0), T(-1.0)};
  const size_t c = alpha.size();
  std::vector<T> ga(c), gb(c);
  ARELU_OK_OR_FAIL(arelu::abi::parameter_gradients(neg_sum.data(), pos_sum.data(), alpha.data(), beta.data(),
                                                   ga.data(), gb.data(), c));
  Dev<double> dns(c), dps(c);
  Dev<T> da(c), db(c), dga(c), dgb(c);
  upload(dns.at(false), neg_sum);
  upload(dps.at(false), pos_sum);
  upload(da.at(false), alpha);
  upload(db.at(false), beta);
  ARELU_OK_OR_FAIL(arelu::abi::cuda_parameter_gradients(dns.at(false), dps.at(false), da.at(false), db.at(false),
                                                        dga.at(false), dgb.at(false), c, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const std::string tag = std::string("parameter gradients ") + Api<T>::name;
  check_elements(tag + " alpha", download(dga.at(false), c), ga);
  const std::vector<T> gpu_gb = download(dgb.at(false), c);
  for (size_t k = 0; k < c; ++k) {
    const double s = 1 / (1 + std::exp(-double(beta[k])));
    const double ulps = 4 + 2 / (1 - s);
    const bool close = same(gpu_gb[k], gb[k]) || std::fabs(double(gpu_gb[k]) - double(gb[k])) <=
                                                     ulps * std::numeric_limits<T>::epsilon() * std::fabs(double(gb[k]));
    if (!close) fail(tag + " beta at " + std::to_string(k));
  }
}

// The CUDA scales against the CPU ones: a equal, b within an ulp of T (the device's exp in the sigmoid).
template <class T>
void check_scales() {
  const double nan = std::nan("");
  const std::vector<T> alpha = {T(0.5), T(0.001), T(1.5), T(0.01), T(0.99), T(nan), T(0.3)};
  const std::vector<T> beta = {T(0.0), T(2.0), T(-2.0), T(0.7), T(nan), T(40.0), T(-1.3)};
  const size_t c = alpha.size();
  std::vector<T> neg(c), pos(c);
  ARELU_OK_OR_FAIL(arelu::abi::scales(alpha.data(), beta.data(), neg.data(), pos.data(), c));
  Dev<T> da(c), db(c), dneg(c), dpos(c);
  upload(da.at(false), alpha);
  upload(db.at(false), beta);
  ARELU_OK_OR_FAIL(arelu::abi::cuda_scales(da.at(false), db.at(false), dneg.at(false), dpos.at(false), c, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const std::string tag = std::string("scales ") + Api<T>::name;
  check_elements(tag + " neg", download(dneg.at(false), c), neg);
  const std::vector<T> gpu_pos = download(dpos.at(false), c);
  for (size_t k = 0; k < c; ++k) {
    const bool close = same(gpu_pos[k], pos[k]) ||
                       std::fabs(double(gpu_pos[k]) - double(pos[k])) <= std::numeric_limits<T>::epsilon() * 2;
    if (!close) fail(tag + " pos at " + std::to_string(k));
  }
}

}  // namespace

int main() {
  if (!arelu_cuda_available()) {
    // Say why: no device, a driver older than this toolkit's runtime (CUDA 13 needs driver 580 or later), or a
    // device older than every architecture built.
    int count = 0, driver = 0, runtime = 0;
    const cudaError_t counted = cudaGetDeviceCount(&count);
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    std::printf("FAIL: arelu_cuda_available() == 0: cudaGetDeviceCount: %s, %d device(s); driver supports CUDA "
                "%d.%d, runtime CUDA %d.%d\n",
                cudaGetErrorString(counted), count, driver / 1000, driver % 1000 / 10, runtime / 1000,
                runtime % 1000 / 10);
    return 1;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);

  for (int64_t n : {0, 1, 7, 31, 1000, 1000003, 3000001}) {
    for (bool misaligned : {false, true}) {
      check_scalar<float>(n, true, misaligned);
      check_scalar<float>(n, false, misaligned);
      check_scalar<double>(n, true, misaligned);
      check_scalar<double>(n, false, misaligned);
    }
  }
  const int64_t shapes[][3] = {{1, 3, 1000},  {5, 4, 1},  {2, 3, 70000}, {1, 1, 100000}, {32, 64, 3136},
                               {1000, 17, 7}, {1, 5000, 3}, {70000, 3, 1}, {2, 1, 1},      {0, 3, 5}};
  for (const auto& s : shapes) {
    check_channels<float>(s[0], s[1], s[2]);
    check_channels<double>(s[0], s[1], s[2]);
  }
  check_scales<float>();
  check_scales<double>();
  check_parameter_gradients<float>();
  check_parameter_gradients<double>();
  std::printf("correctness: %s\n", failures == 0 ? "all checks passed" : "FAILURES");
  bandwidth();
  return failures == 0 ? 0 : 1;
}
