// The functions of the C ABI that are neither CPU nor CUDA kernels: every build of the library has them.
#include "arelu.h"

#include <memory>
#include <string>

namespace arelu::detail {
// The CUDA error behind this thread's last ARELU_ERR_CUDA ("name: description"), "" if none or without CUDA.
const char* last_cuda_error();
}  // namespace arelu::detail

extern "C" {

int arelu_abi_version(void) { return ARELU_ABI_VERSION; }

void arelu_call_back(void (*body)(void)) {
  if (body != nullptr) body();
}

int arelu_shared_ptr_is_set(void* get, uint64_t argument) {
  if (get == nullptr) return -1;
  // The pointee's type is not ours to know: a shared_ptr's layout and release (through its control block's
  // virtual functions) do not depend on it, so one to an incomplete type takes the result and releases it.
  struct Pointee;
  using Get = std::shared_ptr<Pointee> (*)(uint64_t);
  try {
    return reinterpret_cast<Get>(get)(argument) != nullptr ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

int arelu_shared_ptr_points_to(void* get, const void* pointee) {
  if (get == nullptr) return -1;
  // As arelu_shared_ptr_is_set, for a getter without arguments.
  struct Pointee;
  using Get = std::shared_ptr<Pointee> (*)();
  try {
    return static_cast<const void*>(reinterpret_cast<Get>(get)().get()) == pointee ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

const char* arelu_error_string(int status) {
  switch (status) {
    case ARELU_OK: return "ok";
    case ARELU_ERR_NULL_POINTER: return "a required pointer is NULL";
    case ARELU_ERR_BAD_SIZE: return "negative size, or outer * channels * inner overflows";
    case ARELU_ERR_WORKSPACE: return "CUDA workspace smaller than arelu_cuda_workspace_bytes";
    case ARELU_ERR_CUDA: {
      // Per thread, as the error it names: valid until this thread's next call of arelu_error_string.
      thread_local std::string message;
      const std::string cause = arelu::detail::last_cuda_error();
      message = "a CUDA launch or runtime call failed" + (cause.empty() ? std::string() : " (" + cause + ")");
      return message.c_str();
    }
    case ARELU_ERR_NO_CUDA: return "the library was built without CUDA";
    case ARELU_ERR_NO_MEMORY: return "a host allocation failed";
    case ARELU_ERR_ALREADY_REGISTERED: return "the node functions were registered before in this process";
    default: return "unknown arelu status";
  }
}

}  // extern "C"
