// CUDA entry points of a library built without nvcc: every call reports ARELU_ERR_NO_CUDA, so callers
// can link one ABI and decide at run time.
#include "arelu.h"

namespace arelu::detail {
const char* last_cuda_error() { return ""; }
}  // namespace arelu::detail

extern "C" {

int arelu_cuda_available(void) { return 0; }
size_t arelu_cuda_workspace_bytes(int64_t, int64_t) { return 0; }

int arelu_cuda_forward_f32(const float*, float*, int64_t, float, float, void*) { return ARELU_ERR_NO_CUDA; }
int arelu_cuda_forward_f64(const double*, double*, int64_t, double, double, void*) { return ARELU_ERR_NO_CUDA; }
int arelu_cuda_backward_f32(const float*, const float*, float*, int64_t, float, float, double*, double*, void*,
                            size_t, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_backward_f64(const double*, const double*, double*, int64_t, double, double, double*, double*,
                            void*, size_t, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_forward_channels_f32(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*,
                                    void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_forward_channels_f64(const double*, double*, int64_t, int64_t, int64_t, const double*,
                                    const double*, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_backward_channels_f32(const float*, const float*, float*, int64_t, int64_t, int64_t, const float*,
                                     const float*, double*, double*, void*, size_t, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_backward_channels_f64(const double*, const double*, double*, int64_t, int64_t, int64_t,
                                     const double*, const double*, double*, double*, void*, size_t, void*) {
  return ARELU_ERR_NO_CUDA;
}

int arelu_cuda_scales_f32(const float*, const float*, float*, float*, int64_t, void*) { return ARELU_ERR_NO_CUDA; }
int arelu_cuda_scales_f64(const double*, const double*, double*, double*, int64_t, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_parameter_gradients_f32(const double*, const double*, const float*, const float*, float*, float*,
                                       int64_t, void*) {
  return ARELU_ERR_NO_CUDA;
}
int arelu_cuda_parameter_gradients_f64(const double*, const double*, const double*, const double*, double*,
                                       double*, int64_t, void*) {
  return ARELU_ERR_NO_CUDA;
}

}  // extern "C"
