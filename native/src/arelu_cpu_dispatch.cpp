// Which CPU loops run: detected once at load, capped by tests.
#include "arelu_cpu_dispatch.h"

#include <cstdlib>
#include <cstring>

namespace arelu::cpu {
#if defined(ARELU_X86_DISPATCH)
namespace {
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
}  // namespace

const int g_detected_isa = detect_isa();
int g_max_isa = kAvx512;
#endif
}  // namespace arelu::cpu

namespace arelu::detail {
// For the tests only (hidden, not in the C ABI nor in libarelu.so's exports): caps the ISA level used
// (0 SSE2, 1 AVX2, 2 AVX-512; 2 restores the detected one). Returns the level this machine has.
int set_max_isa(int level) {
#if defined(ARELU_X86_DISPATCH)
  arelu::cpu::g_max_isa = level;
  return arelu::cpu::g_detected_isa;
#else
  (void)level;
  return 0;
#endif
}
}  // namespace arelu::detail
