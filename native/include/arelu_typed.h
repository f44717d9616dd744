/*
 * C++ overloads of the C ABI in arelu.h by element type, so that C++ callers write each call once as a
 * template instead of once per type. The one set of typed wrappers of this project: the libtorch op, the
 * tests and the GPU check use it. Header-only, and like arelu.h free of libtorch headers.
 */
#ifndef ARELU_TYPED_H
#define ARELU_TYPED_H

#include "arelu.h"

namespace arelu::abi {

// ---------------------------------------------------------------- CPU
inline int forward(const float* x, float* y, int64_t n, float neg, float pos, int num_threads) {
  return arelu_forward_f32(x, y, n, neg, pos, num_threads);
}
inline int forward(const double* x, double* y, int64_t n, double neg, double pos, int num_threads) {
  return arelu_forward_f64(x, y, n, neg, pos, num_threads);
}

inline int backward(const float* g, const float* x, float* gi, int64_t n, float neg, float pos, double* neg_sum,
                    double* pos_sum, int num_threads) {
  return arelu_backward_f32(g, x, gi, n, neg, pos, neg_sum, pos_sum, num_threads);
}
inline int backward(const double* g, const double* x, double* gi, int64_t n, double neg, double pos, double* neg_sum,
                    double* pos_sum, int num_threads) {
  return arelu_backward_f64(g, x, gi, n, neg, pos, neg_sum, pos_sum, num_threads);
}

inline int forward_channels(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                            const float* neg, const float* pos, int num_threads) {
  return arelu_forward_channels_f32(x, y, outer, channels, inner, neg, pos, num_threads);
}
inline int forward_channels(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                            const double* neg, const double* pos, int num_threads) {
  return arelu_forward_channels_f64(x, y, outer, channels, inner, neg, pos, num_threads);
}

inline int backward_channels(const float* g, const float* x, float* gi, int64_t outer, int64_t channels,
                             int64_t inner, const float* neg, const float* pos, double* neg_sum, double* pos_sum,
                             int num_threads) {
  return arelu_backward_channels_f32(g, x, gi, outer, channels, inner, neg, pos, neg_sum, pos_sum, num_threads);
}
inline int backward_channels(const double* g, const double* x, double* gi, int64_t outer, int64_t channels,
                             int64_t inner, const double* neg, const double* pos, double* neg_sum, double* pos_sum,
                             int num_threads) {
  return arelu_backward_channels_f64(g, x, gi, outer, channels, inner, neg, pos, neg_sum, pos_sum, num_threads);
}

inline int scales(const float* alpha, const float* beta, float* neg, float* pos, int64_t channels) {
  return arelu_scales_f32(alpha, beta, neg, pos, channels);
}
inline int scales(const double* alpha, const double* beta, double* neg, double* pos, int64_t channels) {
  return arelu_scales_f64(alpha, beta, neg, pos, channels);
}

inline int forward_params(const float* x, float* y, int64_t n, const float* alpha, const float* beta,
                          int num_threads) {
  return arelu_forward_params_f32(x, y, n, alpha, beta, num_threads);
}
inline int forward_params(const double* x, double* y, int64_t n, const double* alpha, const double* beta,
                          int num_threads) {
  return arelu_forward_params_f64(x, y, n, alpha, beta, num_threads);
}

inline int backward_params(const float* g, const float* x, float* gi, int64_t n, const float* alpha,
                           const float* beta, float* grad_alpha, float* grad_beta, int num_threads) {
  return arelu_backward_params_f32(g, x, gi, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}
inline int backward_params(const double* g, const double* x, double* gi, int64_t n, const double* alpha,
                           const double* beta, double* grad_alpha, double* grad_beta, int num_threads) {
  return arelu_backward_params_f64(g, x, gi, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}
inline int backward_values(const float* g, const float* x, float* gi, int64_t n, float alpha, float beta,
                           float* grad_alpha, float* grad_beta, int num_threads) {
  return arelu_backward_values_f32(g, x, gi, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}
inline int backward_values(const double* g, const double* x, double* gi, int64_t n, double alpha, double beta,
                           double* grad_alpha, double* grad_beta, int num_threads) {
  return arelu_backward_values_f64(g, x, gi, n, alpha, beta, grad_alpha, grad_beta, num_threads);
}

inline int forward_channels_params(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                                   const float* alpha, const float* beta, int num_threads) {
  return arelu_forward_channels_params_f32(x, y, outer, channels, inner, alpha, beta, num_threads);
}
inline int forward_channels_params(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                                   const double* alpha, const double* beta, int num_threads) {
  return arelu_forward_channels_params_f64(x, y, outer, channels, inner, alpha, beta, num_threads);
}

inline int backward_channels_params(const float* g, const float* x, float* gi, int64_t outer, int64_t channels,
                                    int64_t inner, const float* alpha, const float* beta, float* grad_alpha,
                                    float* grad_beta, int num_threads) {
  return arelu_backward_channels_params_f32(g, x, gi, outer, channels, inner, alpha, beta, grad_alpha, grad_beta,
                                            num_threads);
}
inline int backward_channels_params(const double* g, const double* x, double* gi, int64_t outer, int64_t channels,
                                    int64_t inner, const double* alpha, const double* beta, double* grad_alpha,
                                    double* grad_beta, int num_threads) {
  return arelu_backward_channels_params_f64(g, x, gi, outer, channels, inner, alpha, beta, grad_alpha, grad_beta,
                                            num_threads);
}

inline int parameter_gradients(const double* neg_sum, const double* pos_sum, const float* alpha, const float* beta,
                               float* grad_alpha, float* grad_beta, int64_t channels) {
  return arelu_parameter_gradients_f32(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}
inline int parameter_gradients(const double* neg_sum, const double* pos_sum, const double* alpha,
                               const double* beta, double* grad_alpha, double* grad_beta, int64_t channels) {
  return arelu_parameter_gradients_f64(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels);
}

// ---------------------------------------------------------------- CUDA (device pointers, a cudaStream_t)
inline int cuda_forward(const float* x, float* y, int64_t n, float neg, float pos, void* stream) {
  return arelu_cuda_forward_f32(x, y, n, neg, pos, stream);
}
inline int cuda_forward(const double* x, double* y, int64_t n, double neg, double pos, void* stream) {
  return arelu_cuda_forward_f64(x, y, n, neg, pos, stream);
}

inline int cuda_backward(const float* g, const float* x, float* gi, int64_t n, float neg, float pos,
                         double* neg_sum, double* pos_sum, void* workspace, size_t workspace_bytes, void* stream) {
  return arelu_cuda_backward_f32(g, x, gi, n, neg, pos, neg_sum, pos_sum, workspace, workspace_bytes, stream);
}
inline int cuda_backward(const double* g, const double* x, double* gi, int64_t n, double neg, double pos,
                         double* neg_sum, double* pos_sum, void* workspace, size_t workspace_bytes, void* stream) {
  return arelu_cuda_backward_f64(g, x, gi, n, neg, pos, neg_sum, pos_sum, workspace, workspace_bytes, stream);
}

inline int cuda_forward_channels(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner,
                                 const float* neg, const float* pos, void* stream) {
  return arelu_cuda_forward_channels_f32(x, y, outer, channels, inner, neg, pos, stream);
}
inline int cuda_forward_channels(const double* x, double* y, int64_t outer, int64_t channels, int64_t inner,
                                 const double* neg, const double* pos, void* stream) {
  return arelu_cuda_forward_channels_f64(x, y, outer, channels, inner, neg, pos, stream);
}

inline int cuda_backward_channels(const float* g, const float* x, float* gi, int64_t outer, int64_t channels,
                                  int64_t inner, const float* neg, const float* pos, double* neg_sum,
                                  double* pos_sum, void* workspace, size_t workspace_bytes, void* stream) {
  return arelu_cuda_backward_channels_f32(g, x, gi, outer, channels, inner, neg, pos, neg_sum, pos_sum, workspace,
                                          workspace_bytes, stream);
}
inline int cuda_backward_channels(const double* g, const double* x, double* gi, int64_t outer, int64_t channels,
                                  int64_t inner, const double* neg, const double* pos, double* neg_sum,
                                  double* pos_sum, void* workspace, size_t workspace_bytes, void* stream) {
  return arelu_cuda_backward_channels_f64(g, x, gi, outer, channels, inner, neg, pos, neg_sum, pos_sum, workspace,
                                          workspace_bytes, stream);
}

inline int cuda_scales(const float* alpha, const float* beta, float* neg, float* pos, int64_t channels,
                       void* stream) {
  return arelu_cuda_scales_f32(alpha, beta, neg, pos, channels, stream);
}
inline int cuda_scales(const double* alpha, const double* beta, double* neg, double* pos, int64_t channels,
                       void* stream) {
  return arelu_cuda_scales_f64(alpha, beta, neg, pos, channels, stream);
}

inline int cuda_parameter_gradients(const double* neg_sum, const double* pos_sum, const float* alpha,
                                    const float* beta, float* grad_alpha, float* grad_beta, int64_t channels,
                                    void* stream) {
  return arelu_cuda_parameter_gradients_f32(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels, stream);
}
inline int cuda_parameter_gradients(const double* neg_sum, const double* pos_sum, const double* alpha,
                                    const double* beta, double* grad_alpha, double* grad_beta, int64_t channels,
                                    void* stream) {
  return arelu_cuda_parameter_gradients_f64(neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels, stream);
}

}  // namespace arelu::abi

#endif /* ARELU_TYPED_H */
