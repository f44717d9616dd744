// The functions of the C ABI that are neither CPU nor CUDA kernels: every build of the library has them.
#include "arelu.h"

extern "C" {

int arelu_abi_version(void) { return ARELU_ABI_VERSION; }

const char* arelu_error_string(int status) {
  switch (status) {
    case ARELU_OK: return "ok";
    case ARELU_ERR_NULL_POINTER: return "a required pointer is NULL";
    case ARELU_ERR_BAD_SIZE: return "negative size, or outer * channels * inner overflows";
    case ARELU_ERR_WORKSPACE: return "CUDA workspace smaller than arelu_cuda_workspace_bytes";
    case ARELU_ERR_CUDA: return "a CUDA launch or runtime call failed";
    case ARELU_ERR_NO_CUDA: return "the library was built without CUDA";
    case ARELU_ERR_NO_MEMORY: return "a host allocation failed";
    case ARELU_ERR_ALREADY_REGISTERED: return "the node functions were registered before in this process";
    default: return "unknown arelu status";
  }
}

}  // extern "C"
