/*
 * AReLU fused kernels: a small C ABI over raw buffers.
 *
 * This header deliberately includes no libtorch header. The library built from it is loaded
 * into JVMs that run bytedeco's libtorch, whose C++ headers we do not have; a C ABI over
 * pointers, sizes, scalars and a CUDA stream is the only interface that is safe across
 * libtorch versions.
 *
 * Semantics (the reference is relu(x) * b - relu(-x) * a, a = clamp(alpha, 0.01, 0.99),
 * b = 1 + sigmoid(beta); callers pass the effective scales a ("neg") and b ("pos")):
 *   forward   y  = x * b  for x > 0,   x * a  for x < 0 (+0 where it underflows, as the reference's
 *             0 * b - (-x) * a),   x (a signed zero) for x == 0, NaN for NaN;
 *             every y is NaN when a or b is NaN (the reference's 0 * NaN is NaN).
 *   backward  gx = ((x > 0 || x is NaN) ? g * b : +0) + ((x < 0 || x is NaN) ? g * a : -0)
 *             (the zeros of the reference's backward, so a zero gradient has the reference's sign)
 *             (terms selected, not multiplied by 0/1, so an infinite g at x == 0 gives 0 as the
 *             reference's ReLU backward does; that backward lets NaN through on both branches, so do we);
 *             neg_sum = sum over all elements of g * (x if x < 0 or NaN, else 0)   (d loss / d a)
 *             pos_sum = sum over all elements of g * (x if x > 0 or NaN, else 0)   (d loss / d b)
 *             (the reference's g * relu(x) terms: a NaN or infinite g on the other side of 0, or at 0,
 *             makes the sum NaN, as 0 * NaN and 0 * Inf are NaN)
 *   arelu_parameter_gradients_* (and its CUDA twin) turn the sums into parameter gradients, the one
 *   definition every binding uses: grad_alpha = neg_sum if alpha lies in [0.01, 0.99] (compared in
 *   alpha's type; libtorch's clamp passed the gradient at the bounds up to 2.13, and from 2.14 passes none
 *   there: a binding on such a libtorch zeroes it there) else 0, NaN alpha included;
 *   grad_beta = pos_sum * (1 - sigmoid(beta)) * sigmoid(beta), in the element type (pos_sum rounded to it
 *   first, the sigmoid computed in it), as the reference's float sigmoid backward is.
 *
 * Buffers are contiguous. "Channel-wise" functions view them as (outer, channels, inner)
 * row-major, with one scale per channel, as PReLU does for dimension 1 of an NCHW tensor.
 * Output buffers may alias the matching input (y == x, grad_in == grad_out) for in-place use.
 * grad_in may be NULL when only the parameter sums are wanted.
 *
 * CPU reductions are deterministic: the buffer is cut into fixed chunks whose size does not
 * depend on the thread count, each chunk is summed in double in one fixed order (16 interleaved
 * lanes, a fixed combining tree), and chunk sums are added in chunk order (channel-wise with fewer
 * than 64 elements per row, as channels_last memory has: blocks of whole rows, one sum per channel
 * each, added in block order). The same input gives bit-identical sums for any num_threads and on
 * every instruction-set path.
 *
 * num_threads <= 0 means "one thread". The Java and C++ callers pass libtorch's intra-op
 * thread count. OpenMP comes from the libgomp that libtorch already loaded.
 *
 * Every function returns ARELU_OK or an error code; arelu_error_string names it.
 */
#ifndef ARELU_H
#define ARELU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ARELU_API __declspec(dllexport)
#else
#define ARELU_API __attribute__((visibility("default")))
#endif

/* 2: arelu_scales_*, arelu_parameter_gradients_* and their CUDA twins added.
   3: arelu_node_functions added.
   4: arelu_forward_params_*, arelu_backward_params_* added.
   5: arelu_forward_channels_params_*, arelu_backward_channels_params_*, ARELU_ERR_NO_MEMORY added.
   6: arelu_backward_values_* added; b = 1 + sigmoid(beta) with the sigmoid in the element type.
   7: arelu_node_functions registers once per process (ARELU_ERR_ALREADY_REGISTERED after that).
   8: arelu_call_back added.
   9: arelu_shared_ptr_is_set added.
  10: arelu_shared_ptr_points_to added. */
#define ARELU_ABI_VERSION 10

/* torch.clamp bounds of alpha: a = clamp(alpha, ARELU_ALPHA_MIN, ARELU_ALPHA_MAX). */
#define ARELU_ALPHA_MIN 0.01
#define ARELU_ALPHA_MAX 0.99

enum arelu_status {
  ARELU_OK = 0,
  ARELU_ERR_NULL_POINTER = 1,   /* a required pointer is NULL while the size is positive */
  ARELU_ERR_BAD_SIZE = 2,       /* a negative size, or outer * channels * inner overflows */
  ARELU_ERR_WORKSPACE = 3,      /* CUDA workspace smaller than arelu_cuda_workspace_bytes */
  ARELU_ERR_CUDA = 4,           /* a CUDA launch or runtime call failed */
  ARELU_ERR_NO_CUDA = 5,        /* the library was built without CUDA */
  ARELU_ERR_NO_MEMORY = 6,      /* a host allocation of the call failed */
  ARELU_ERR_ALREADY_REGISTERED = 7 /* arelu_node_functions was called before in this process */
};

/* ---------------------------------------------------------------- graph nodes of Java autograd functions
 * Not a kernel: the virtual functions that io.github.arelu.autograd puts into a copy of a libtorch graph
 * node's virtual table, so that libtorch's engine calls Java for the node's backward and reports its death.
 * libtorch calls them as members of torch::autograd::Node (Itanium C++ ABI); they know no libtorch type:
 * the gradients are std::vector<at::Tensor>, whose elements are one pointer each, and are only passed on.
 *
 * apply(node, gradients, results, message, capacity): gradients points at the node's incoming
 *   std::vector<at::Tensor>, results at the empty vector the node returns; fill results (through libtorch's
 *   own vector functions) and return 0, or leave it empty, write a NUL-terminated message of at most
 *   capacity bytes and return non-zero: libtorch's engine then raises the message as a C++ exception.
 * name(node, buffer, capacity): write the node's name, NUL-terminated, in at most capacity bytes.
 * died(node): the node is being destroyed; called before libtorch's destructor, which then runs.
 * The destructors given are the copied table's originals (complete-object, deleting). functions receives
 * the addresses to put into the copy, in this order: apply, complete-object destructor, deleting
 * destructor, name (a std::string, as libstdc++ lays it out). The callbacks serve every node of the process,
 * so the first call registers them for good: a later one (a second class loader's copy of the Java library
 * sharing this loaded library) changes nothing and returns ARELU_ERR_ALREADY_REGISTERED, and its caller must
 * make its nodes another way. */
typedef int (*arelu_node_apply_fn)(void* node, void* gradients, void* results, char* message, size_t capacity);
typedef void (*arelu_node_name_fn)(const void* node, char* buffer, size_t capacity);
typedef void (*arelu_node_died_fn)(void* node);
ARELU_API int arelu_node_functions(arelu_node_apply_fn apply, arelu_node_name_fn name, arelu_node_died_fn died,
                                   void* complete_destructor, void* deleting_destructor, void** functions);

/* Calls body() once, in this thread, and returns when it returns (nothing for NULL). For Java's virtual
 * threads: one that calls this through java.lang.foreign and runs Java code in body (an upcall) cannot leave
 * its OS thread until body returns, since a native frame pins it there; io.github.arelu.autograd runs an
 * autograd function's forward so, because libtorch keeps grad mode per OS thread. body must not unwind (a C++
 * exception or longjmp) through this frame. */
ARELU_API void arelu_call_back(void (*body)(void));

/* Calls get(argument), a C++ function that takes one 64-bit unsigned integer and returns a std::shared_ptr by
 * value (such as libtorch's torch::autograd::ForwardADLevel::try_get_by_idx, whose address the caller found),
 * releases the returned pointer, and returns 1 where it was set, 0 where it was empty, -1 where get threw
 * (nothing propagates) or is NULL. For the question whether a forward-mode AD level is open, asked on every
 * call of a Java autograd function: bytedeco's binding of such a function leaks 16 bytes of native memory
 * for every empty result (JavaCPP's SharedPtrAdapter allocates a copy of the pointer that only a Java object
 * would free, and makes none for an empty one). */
ARELU_API int arelu_shared_ptr_is_set(void* get, uint64_t argument);

/* Calls get(), a C++ function without arguments that returns a std::shared_ptr by value (such as libtorch's
 * torch::autograd::get_current_node, the node its engine evaluates on this thread), releases the returned
 * pointer, and returns 1 where it pointed at pointee (an empty one points at NULL), 0 where not, -1 where get
 * threw (nothing propagates) or is NULL. The Java library asks it whether the engine runs a node's backward or a caller called
 * the node directly, which frees no saved tensor. */
ARELU_API int arelu_shared_ptr_points_to(void* get, const void* pointee);

/* ABI version of the loaded library; callers refuse a library whose version differs. */
ARELU_API int arelu_abi_version(void);
/* Human-readable text for a status code: static, but for ARELU_ERR_CUDA, whose text also names the CUDA
   runtime's error behind this thread's last failed call ("... (cudaErrorNoKernelImageForDevice: ...)"), valid
   until the thread's next call of arelu_error_string. */
ARELU_API const char* arelu_error_string(int status);

/* ---------------------------------------------------------------- CPU: scalar scales */
ARELU_API int arelu_forward_f32(const float* x, float* y, int64_t n,
                                float neg_scale, float pos_scale, int num_threads);
ARELU_API int arelu_forward_f64(const double* x, double* y, int64_t n,
                                double neg_scale, double pos_scale, int num_threads);

ARELU_API int arelu_backward_f32(const float* grad_out, const float* x, float* grad_in, int64_t n,
                                 float neg_scale, float pos_scale,
                                 double* neg_sum, double* pos_sum, int num_threads);
ARELU_API int arelu_backward_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                                 double neg_scale, double pos_scale,
                                 double* neg_sum, double* pos_sum, int num_threads);

/* ---------------------------------------------------------------- CPU: one scale per channel */
/* neg_scale, pos_scale: [channels]; neg_sum, pos_sum: [channels] doubles written by backward. Some shapes take
   small host buffers for the call (short rows, several threads): ARELU_ERR_NO_MEMORY when one cannot be had. */
ARELU_API int arelu_forward_channels_f32(const float* x, float* y,
                                         int64_t outer, int64_t channels, int64_t inner,
                                         const float* neg_scale, const float* pos_scale, int num_threads);
ARELU_API int arelu_forward_channels_f64(const double* x, double* y,
                                         int64_t outer, int64_t channels, int64_t inner,
                                         const double* neg_scale, const double* pos_scale, int num_threads);

ARELU_API int arelu_backward_channels_f32(const float* grad_out, const float* x, float* grad_in,
                                          int64_t outer, int64_t channels, int64_t inner,
                                          const float* neg_scale, const float* pos_scale,
                                          double* neg_sum, double* pos_sum, int num_threads);
ARELU_API int arelu_backward_channels_f64(const double* grad_out, const double* x, double* grad_in,
                                          int64_t outer, int64_t channels, int64_t inner,
                                          const double* neg_scale, const double* pos_scale,
                                          double* neg_sum, double* pos_sum, int num_threads);

/* ---------------------------------------------------------------- CPU: effective scales
 * The scales the kernels take, from the raw parameters, for `channels` pairs (1 for the scalar form), formed
 * in the element type as libtorch forms them: neg = clamp(alpha, 0.01, 0.99) (NaN passes), pos = 1 +
 * sigmoid(beta) with libtorch's element-wise sigmoid, 1 / (1 + exp(-beta)) in the element type, then the addition
 * in the element type. Host pointers. */
ARELU_API int arelu_scales_f32(const float* alpha, const float* beta, float* neg_scale, float* pos_scale,
                               int64_t channels);
ARELU_API int arelu_scales_f64(const double* alpha, const double* beta, double* neg_scale, double* pos_scale,
                               int64_t channels);

/* ---------------------------------------------------------------- CPU: parameter gradients
 * From the sums of a backward call to the gradients of the raw parameters, for `channels` pairs (1 for
 * the scalar form): neg_sum, pos_sum [channels] doubles; alpha, beta, grad_alpha, grad_beta [channels]
 * of the element type. Host pointers. */
ARELU_API int arelu_parameter_gradients_f32(const double* neg_sum, const double* pos_sum,
                                            const float* alpha, const float* beta,
                                            float* grad_alpha, float* grad_beta, int64_t channels);
ARELU_API int arelu_parameter_gradients_f64(const double* neg_sum, const double* pos_sum,
                                            const double* alpha, const double* beta,
                                            double* grad_alpha, double* grad_beta, int64_t channels);

/* ---------------------------------------------------------------- CPU: scalar form from the raw parameters
 * The scalar form in one call when alpha and beta are one element each in host memory: the scales formed from
 * *alpha and *beta as arelu_scales_* forms them, then arelu_forward_* / arelu_backward_*, and backward's sums
 * turned into the parameter gradients *grad_alpha and *grad_beta as arelu_parameter_gradients_* turns them.
 * The same values as those three calls; one call instead of three (from Java each costs microseconds when the
 * caches are cold, as they are between the layers of a network). alpha, beta, grad_alpha and grad_beta are
 * required whatever n (ARELU_ERR_NULL_POINTER, checked before anything is written); the parameters are read
 * before any output is written, so y or grad_in may share memory with them. */
ARELU_API int arelu_forward_params_f32(const float* x, float* y, int64_t n, const float* alpha, const float* beta,
                                       int num_threads);
ARELU_API int arelu_forward_params_f64(const double* x, double* y, int64_t n, const double* alpha,
                                       const double* beta, int num_threads);
ARELU_API int arelu_backward_params_f32(const float* grad_out, const float* x, float* grad_in, int64_t n,
                                        const float* alpha, const float* beta, float* grad_alpha,
                                        float* grad_beta, int num_threads);
ARELU_API int arelu_backward_params_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                                        const double* alpha, const double* beta, double* grad_alpha,
                                        double* grad_beta, int num_threads);
/* arelu_backward_params_* with the raw parameters passed by value: a training step's backward takes the values
 * its forward read, whatever was written to the parameters' memory in between (libtorch's SGD updates
 * parameters without bumping their version, so nothing else would notice). */
ARELU_API int arelu_backward_values_f32(const float* grad_out, const float* x, float* grad_in, int64_t n,
                                        float alpha, float beta, float* grad_alpha, float* grad_beta,
                                        int num_threads);
ARELU_API int arelu_backward_values_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                                        double alpha, double beta, double* grad_alpha, double* grad_beta,
                                        int num_threads);

/* ---------------------------------------------------------------- CPU: channel-wise form from the raw parameters
 * The counterpart of the scalar form above for `channels` alpha/beta pairs (host arrays of the element type): the
 * scales formed as arelu_scales_* forms them, then arelu_forward_channels_* / arelu_backward_channels_*, and the
 * sums turned into grad_alpha[channels] and grad_beta[channels] as arelu_parameter_gradients_* turns them. The
 * same values as those three calls, bit for bit, with the scales and sums in the library's own memory: one call
 * instead of three and no tensors for them (channel-wise AReLU in a network calls it once per layer and step).
 * alpha, beta (and grad_alpha, grad_beta) are required when channels > 0, checked before anything is written;
 * the parameters are copied before any output is written, so y or grad_in may share memory with them. Allocates
 * 4 * channels elements and 2 * channels doubles; ARELU_ERR_NO_MEMORY when that fails. */
ARELU_API int arelu_forward_channels_params_f32(const float* x, float* y, int64_t outer, int64_t channels,
                                                int64_t inner, const float* alpha, const float* beta,
                                                int num_threads);
ARELU_API int arelu_forward_channels_params_f64(const double* x, double* y, int64_t outer, int64_t channels,
                                                int64_t inner, const double* alpha, const double* beta,
                                                int num_threads);
ARELU_API int arelu_backward_channels_params_f32(const float* grad_out, const float* x, float* grad_in,
                                                 int64_t outer, int64_t channels, int64_t inner, const float* alpha,
                                                 const float* beta, float* grad_alpha, float* grad_beta,
                                                 int num_threads);
ARELU_API int arelu_backward_channels_params_f64(const double* grad_out, const double* x, double* grad_in,
                                                 int64_t outer, int64_t channels, int64_t inner,
                                                 const double* alpha, const double* beta, double* grad_alpha,
                                                 double* grad_beta, int num_threads);

/* ---------------------------------------------------------------- CUDA
 * Declared in every build; a library built without nvcc answers ARELU_ERR_NO_CUDA.
 * All pointers are device pointers; stream is a cudaStream_t (NULL: the legacy default stream).
 * Kernels are only enqueued: nothing synchronizes, nothing allocates. Backward needs a device
 * workspace of at least arelu_cuda_workspace_bytes(n, channels) bytes (channels = 1 for the scalar
 * form) for its deterministic two-stage reduction; the sums land in device doubles
 * neg_sum[channels], pos_sum[channels]. The workspace and the sums hold doubles: 8-byte aligned (a
 * misaligned one faults the whole CUDA context; tensors from libtorch's allocator are aligned).
 * Channel-wise scales are device arrays of the element type.
 * arelu_cuda_available: 1 when there is a CUDA device and the current one is no older than the oldest
 * architecture the library was built for (creates no CUDA context).
 */
ARELU_API int arelu_cuda_available(void);
ARELU_API size_t arelu_cuda_workspace_bytes(int64_t n, int64_t channels);

ARELU_API int arelu_cuda_forward_f32(const float* x, float* y, int64_t n,
                                     float neg_scale, float pos_scale, void* stream);
ARELU_API int arelu_cuda_forward_f64(const double* x, double* y, int64_t n,
                                     double neg_scale, double pos_scale, void* stream);
ARELU_API int arelu_cuda_backward_f32(const float* grad_out, const float* x, float* grad_in, int64_t n,
                                      float neg_scale, float pos_scale,
                                      double* neg_sum, double* pos_sum,
                                      void* workspace, size_t workspace_bytes, void* stream);
ARELU_API int arelu_cuda_backward_f64(const double* grad_out, const double* x, double* grad_in, int64_t n,
                                      double neg_scale, double pos_scale,
                                      double* neg_sum, double* pos_sum,
                                      void* workspace, size_t workspace_bytes, void* stream);

ARELU_API int arelu_cuda_forward_channels_f32(const float* x, float* y,
                                              int64_t outer, int64_t channels, int64_t inner,
                                              const float* neg_scale, const float* pos_scale, void* stream);
ARELU_API int arelu_cuda_forward_channels_f64(const double* x, double* y,
                                              int64_t outer, int64_t channels, int64_t inner,
                                              const double* neg_scale, const double* pos_scale, void* stream);
ARELU_API int arelu_cuda_backward_channels_f32(const float* grad_out, const float* x, float* grad_in,
                                               int64_t outer, int64_t channels, int64_t inner,
                                               const float* neg_scale, const float* pos_scale,
                                               double* neg_sum, double* pos_sum,
                                               void* workspace, size_t workspace_bytes, void* stream);
ARELU_API int arelu_cuda_backward_channels_f64(const double* grad_out, const double* x, double* grad_in,
                                               int64_t outer, int64_t channels, int64_t inner,
                                               const double* neg_scale, const double* pos_scale,
                                               double* neg_sum, double* pos_sum,
                                               void* workspace, size_t workspace_bytes, void* stream);
/* arelu_scales_* on device arrays, enqueued on stream. */
ARELU_API int arelu_cuda_scales_f32(const float* alpha, const float* beta, float* neg_scale, float* pos_scale,
                                    int64_t channels, void* stream);
ARELU_API int arelu_cuda_scales_f64(const double* alpha, const double* beta, double* neg_scale, double* pos_scale,
                                    int64_t channels, void* stream);

/* arelu_parameter_gradients_* on device arrays, enqueued on stream. */
ARELU_API int arelu_cuda_parameter_gradients_f32(const double* neg_sum, const double* pos_sum,
                                                 const float* alpha, const float* beta,
                                                 float* grad_alpha, float* grad_beta, int64_t channels,
                                                 void* stream);
ARELU_API int arelu_cuda_parameter_gradients_f64(const double* neg_sum, const double* pos_sum,
                                                 const double* alpha, const double* beta,
                                                 double* grad_alpha, double* grad_beta, int64_t channels,
                                                 void* stream);

#ifdef __cplusplus
}
#endif

#endif /* ARELU_H */
