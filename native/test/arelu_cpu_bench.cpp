// The CPU kernels' speed on shapes of convolutional networks: channel-wise AReLU against the scalar kernels
// over the same number of elements, forward and backward (input gradient and sums), float32.
//
//   build/native/arelu_cpu_bench [THREADS [BATCH [cold]]]    (default: 1 thread, batch 128, warm caches)
//
// Each case runs its two kernels alternately and keeps the fastest of many calls of each: the minimum is what
// a shared or loaded host disturbs least, and alternating puts both under the same conditions. Prints one line
// per (channels, H * W): the times and the channel-wise / scalar ratios. With `cold`, 96 MB are written before
// each call, so that the kernels read their tensors from memory, as between a network's layers, where the
// tensors of the layers in between have pushed them out of the caches.
#include "arelu.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Case {
  long channels, inner;
};

// Written before each call when the caches are to be cold: larger than any L3 cache of the hosts measured.
std::vector<char> evict;

template <class F>
double microseconds(F&& f) {
  for (size_t i = 0; i < evict.size(); i += 64) evict[i] += 1;
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const long batch = argc > 2 ? std::atol(argv[2]) : 128;
  const bool cold = argc > 3 && std::string(argv[3]) == "cold";
  if (cold) evict.assign(96L << 20, 0);
  const int calls = cold ? 40 : 200;
  // ResNet's stages on 28x28 images (16 x 28 x 28, 32 x 14 x 14, 64 x 7 x 7), ImageNet-sized late stages
  // (7 x 7, 14 x 14 with more channels), small maps, and channels_last (inner 1).
  const Case cases[] = {{16, 784}, {32, 196}, {64, 49}, {256, 49}, {128, 196}, {64, 16}, {64, 4}, {256, 1}};
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::printf("threads %d, batch %ld, %s caches; fastest of %d calls each, us\n", threads, batch,
              cold ? "cold" : "warm", calls);
  std::printf("%8s %6s %9s | %8s %8s %6s | %8s %8s %6s\n", "channels", "H*W", "elements", "fwd", "fwd ch", "ratio",
              "bwd", "bwd ch", "ratio");
  for (const Case& c : cases) {
    const long n = batch * c.channels * c.inner;
    std::vector<float> x(n), y(n), g(n), gi(n);
    for (float& v : x) v = normal(rng);
    for (float& v : g) v = normal(rng);
    std::vector<float> a(c.channels, 0.9f), b(c.channels, 1.88f);
    std::vector<double> neg(c.channels), pos(c.channels);
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    int status = ARELU_OK;
    for (int rep = 0; rep < calls && status == ARELU_OK; ++rep) {
      best[0] = std::min(best[0], microseconds([&] {
        status |= arelu_forward_f32(x.data(), y.data(), n, 0.9f, 1.88f, threads);
      }));
      best[1] = std::min(best[1], microseconds([&] {
        status |= arelu_forward_channels_f32(x.data(), y.data(), batch, c.channels, c.inner, a.data(), b.data(),
                                             threads);
      }));
      best[2] = std::min(best[2], microseconds([&] {
        status |= arelu_backward_f32(g.data(), x.data(), gi.data(), n, 0.9f, 1.88f, neg.data(), pos.data(), threads);
      }));
      best[3] = std::min(best[3], microseconds([&] {
        status |= arelu_backward_channels_f32(g.data(), x.data(), gi.data(), batch, c.channels, c.inner, a.data(),
                                              b.data(), neg.data(), pos.data(), threads);
      }));
    }
    if (status != ARELU_OK) {
      std::fprintf(stderr, "arelu_cpu_bench: a kernel failed: %s\n", arelu_error_string(status));
      return 1;
    }
    std::printf("%8ld %6ld %9ld | %8.0f %8.0f %5.2fx | %8.0f %8.0f %5.2fx\n", c.channels, c.inner, n, best[0], best[1],
                best[1] / best[0], best[2], best[3], best[3] / best[2]);
  }
  return 0;
}
