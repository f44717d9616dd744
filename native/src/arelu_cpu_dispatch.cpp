// Which CPU loops run: detected once at load, capped by tests.
#include "arelu_cpu_dispatch.h"

#include <strings.h>

#include <cstdlib>
#include <initializer_list>

namespace arelu::detail {
// Whether an ARELU_DISABLE_* value asks to switch a loop off. Unset, empty and the usual words for "no" (0,
// false, no, off, in any case) do not: "false" must not quietly disable what it names.
bool flag_value_set(const char* value) {
  if (value == nullptr || value[0] == '\0') return false;
  for (const char* no : {"0", "false", "no", "off"}) {
    if (strcasecmp(value, no) == 0) return false;
  }
  return true;
}
}  // namespace arelu::detail

namespace arelu::cpu {
#if defined(ARELU_X86_DISPATCH)
namespace {
bool env_set(const char* name) { return arelu::detail::flag_value_set(std::getenv(name)); }
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
