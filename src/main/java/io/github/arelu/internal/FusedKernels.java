package io.github.arelu.internal;

import java.lang.foreign.MemorySegment;

import io.github.arelu.autograd.JavaFunction;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused AReLU kernels of {@code native/} for one device and one element type: the one small interface the
 * rest of the library calls, implemented for the CPU ({@link CpuKernels}) and for CUDA ({@link CudaKernels}), as
 * {@code native/torch} has a CPU and a CUDA runner. A call chooses its kernels once, by its input's device and
 * dtype ({@link #select}); from there every argument is passed explicitly and nothing is kept between calls.
 * Each implementation holds the method handles of its own element type and enqueues its kernels itself (on the
 * CPU with libtorch's thread count, on CUDA on libtorch's current stream, looked up once per call).
 *
 * <p>The operations are not recorded by autograd; {@link #function()} is the autograd function over them. They
 * take arguments checked by {@link AReLUArguments} and run on a tensor's memory as it is whenever its elements
 * are dense in it, in any order of dimensions (contiguous, {@code channels_last}, permuted), writing results
 * laid out the same way; other inputs (slices with gaps, expanded tensors) are copied to a contiguous tensor
 * first. libtorch's lazy negation ({@code is_neg()}) and efficient zero tensors are resolved before any memory
 * is read.
 */
public abstract sealed class FusedKernels permits CpuKernels, CudaKernels {

    /**
     * One-element parameters as a forward call read them: the raw values, each a value of the element type.
     * The training path hands them to backward, which computes with forward's values rather than with what the
     * parameters hold by then: libtorch's SGD writes parameters without bumping their version counters, so a
     * step taken between a forward and its backward would otherwise change the gradients unnoticed.
     *
     * @param alpha the raw alpha
     * @param beta the raw beta
     */
    public record ScalarParameters(double alpha, double beta) {
    }

    /**
     * What a forward call gives: the output and, for one-element parameters, the parameters it used.
     *
     * @param output AReLU of the input
     * @param scalar the one-element parameters as the call read them, or null for channel-wise parameters
     */
    public record Forward(Tensor output, ScalarParameters scalar) {
    }

    /**
     * Gradients of a loss with respect to the input, alpha and beta (shaped like each; input may be null).
     *
     * @param input the gradient with respect to the input, or null when it was not asked for
     * @param alpha the gradient with respect to alpha, shaped like alpha
     * @param beta the gradient with respect to beta, shaped like beta
     */
    public record Gradients(Tensor input, Tensor alpha, Tensor beta) {
    }

    final NativeLibrary library;
    final ElementType type;
    private final FusedAReLUFunction function;

    FusedKernels(NativeLibrary library, ElementType type) {
        this.library = library;
        this.type = type;
        this.function = new FusedAReLUFunction(this);
    }

    /**
     * The kernels for the input's device and dtype: float32 and float64 strided tensors on the CPU whenever the
     * native library loaded, on CUDA when {@code fusedCuda} and the library has CUDA kernels and sees a device.
     *
     * @param input the tensor AReLU is applied to
     * @param dtype its dtype
     * @param fusedCuda whether CUDA tensors may take the fused kernels
     * @return the kernels, or null where none serve the input
     */
    public static FusedKernels select(Tensor input, ScalarType dtype, boolean fusedCuda) {
        ElementType type = ElementType.of(dtype);
        if (type == null || !TensorInfo.isStrided(input)) {
            return null;
        }
        if (input.is_cpu()) {
            return NativeLibrary.kernels(type, false);
        }
        return fusedCuda && input.is_cuda() ? NativeLibrary.kernels(type, true) : null;
    }

    /**
     * The autograd function over these kernels: one node per call, whose backward is {@link #backward}.
     *
     * @return the function, one per kernels
     */
    public final JavaFunction function() {
        return function;
    }

    /**
     * Forward into {@code out} (laid out as {@link AReLUArguments#checkOutput} checks), or into a new tensor
     * laid out like the dense input when {@code out} is null.
     *
     * @param input the pre-activation
     * @param alpha the raw alpha: one element, or one per channel of dimension 1
     * @param beta the raw beta, shaped like {@code alpha}
     * @param out where to write the result, or null
     * @return the output, and the one-element parameters as it read them
     */
    public abstract Forward forward(Tensor input, Tensor alpha, Tensor beta, Tensor out);

    /**
     * Whether {@link #backward} reads the parameters' memory even when given forward's {@link ScalarParameters}
     * (CUDA's parameter gradients, channel-wise parameters everywhere): then the training path hands it copies
     * of the parameters as forward read them.
     *
     * @param alpha the raw alpha
     * @return true where backward needs the parameters as tensors
     */
    public abstract boolean backwardReadsParameters(Tensor alpha);

    /**
     * Backward: the input gradient (into {@code gradInputOut} when given, else a new tensor; none without
     * {@code inputGradient}) and both parameter gradients, in one pass.
     *
     * @param gradOutput the gradient with respect to the output, shaped like the input
     * @param input the forward's input
     * @param alpha the forward's raw alpha
     * @param beta the forward's raw beta
     * @param gradInputOut where to write the input gradient, or null
     * @param inputGradient whether the input gradient is wanted
     * @param scalar the one-element parameters as forward gave them, or null to read them from alpha and beta
     * @return the gradients
     */
    public abstract Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta,
            Tensor gradInputOut, boolean inputGradient, ScalarParameters scalar);

    /** Throws an exception naming the failed call and the library's message for a non-zero status. */
    final void check(int status, String call) {
        if (status != 0) {
            throw library.failedStatus(status, call);
        }
    }

    /**
     * The tensor's values in memory the kernels can read as they are: libtorch's lazy negation applied, an
     * efficient zero tensor (which has no memory) made real, and the elements dense in memory in some order of
     * dimensions (contiguous or, for instance, channels_last), else copied to a contiguous tensor. The tensor
     * itself, without a new handle, in the common case.
     *
     * <p>The result is laid out as {@link AReLUArguments#checkOutput} promises a caller's {@code out}: with the
     * tensor's own strides where it is dense, else contiguous; the kernels walk both as one flat array. So a
     * negation or zero tensor is made real in that layout, not in one libtorch picks ({@code resolve_neg} of a
     * tensor with gaps suggests channels_last for some strides, and {@code zeros} is always contiguous).
     */
    static Tensor dense(Tensor tensor) {
        boolean dense = isDense(tensor);
        if (tensor.is_neg()) {
            // resolve_neg copies with the tensor's strides where it is dense; contiguous() copies, resolved too.
            return dense ? tensor.resolve_neg() : tensor.contiguous();
        }
        if (tensor._is_zerotensor()) {
            long[] shape = TensorInfo.shape(tensor);
            return dense ? torch.empty_strided(shape, TensorInfo.strides(tensor), tensor.options()).zero_()
                    : torch.zeros(shape, tensor.options());
        }
        return dense ? tensor : tensor.contiguous();
    }

    /** Whether the tensor's elements are dense in memory in some order of dimensions (no gaps, no overlap). */
    static boolean isDense(Tensor tensor) {
        return tensor.is_contiguous() || tensor.is_non_overlapping_and_dense();
    }

    /** A channel-wise parameter as a flat array of logical values (dense and contiguous). */
    static Tensor flat(Tensor parameter) {
        Tensor t = dense(parameter);
        return t.is_contiguous() ? t : t.contiguous();
    }

    /**
     * {@code tensor} (an upstream gradient, shaped like {@code x}) with its elements in memory in the order of
     * x's, which {@link #dense} returned: the kernels walk both as one flat array. A copy only when the two
     * layouts differ (say, a contiguous gradient for a channels_last input).
     */
    static Tensor laidOutLike(Tensor tensor, Tensor x) {
        Tensor t = dense(tensor);
        if (x.is_contiguous() ? t.is_contiguous() : TensorInfo.sameStrides(t, x)) {
            return t;
        }
        return torch.empty_like(x).copy_(t);
    }

    /**
     * For channel-wise parameters: how many consecutive elements of the dense tensor x share one channel, the
     * stride of dimension 1. x viewed as {@code (outer, channels, inner)} then walks its memory in order:
     * {@code inner} is H*W for NCHW and 1 for channels_last.
     */
    static long channelStride(Tensor x) {
        return x.stride(1);
    }

    /** The tensor's data address; NULL for an empty tensor (whose data_ptr is null). */
    static MemorySegment address(Tensor t) {
        Pointer data = t.data_ptr();
        return data == null ? MemorySegment.NULL : MemorySegment.ofAddress(data.address());
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + type.dtype + "]";
    }
}
