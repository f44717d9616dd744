package io.github.arelu.internal;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused kernels called directly, with every argument checked, outside autograd: one pass forward, one pass
 * backward (input gradient and both parameter gradients together), into buffers of the caller's if given. For
 * the library's benchmarks and tests; AReLU's API ({@code AReLU}, {@code AReLUFunctional}) takes the kernels by
 * itself wherever they serve the input.
 *
 * <p>Supported: strided float32 and float64 tensors of any shape, on the CPU when the native library loaded,
 * and on CUDA when it has CUDA kernels and sees a device (on libtorch's current stream). Parameters as in
 * {@code AReLUFunctional.arelu}: one element each, or one per channel of dimension 1. Layouts as
 * {@link FusedKernels} describes.
 */
public final class FusedAReLU {

    private FusedAReLU() {
    }

    /**
     * Whether the native library loaded (for the CPU kernels).
     *
     * @return true when the fused CPU kernels can run in this process
     */
    public static boolean isAvailable() {
        return NativeLibrary.instance() != null;
    }

    /**
     * Why the native library did not load.
     *
     * @return the reason, or null when it loaded
     */
    public static String unavailableReason() {
        return NativeLibrary.unavailableReason();
    }

    /**
     * Whether {@link #forward} and {@link #backward} serve this input's device, dtype and layout: strided (not
     * sparse, MKL-DNN or nested) float32 or float64, on the CPU, or on CUDA where the library has CUDA kernels.
     *
     * @param input the tensor AReLU would be applied to
     * @return true when the fused kernels serve {@code input}
     */
    public static boolean supports(Tensor input) {
        return FusedKernels.select(input, TensorInfo.dtype(input), true) != null;
    }

    /**
     * Fused forward into a new tensor laid out like the input.
     *
     * @param input the pre-activation, float32 or float64
     * @param alpha the raw alpha: one element, or one per channel of dimension 1
     * @param beta the raw beta, shaped like {@code alpha}
     * @return AReLU of {@code input}, a new tensor
     */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta) {
        return forward(input, alpha, beta, null);
    }

    /**
     * Fused forward into {@code out}, or into a new tensor laid out like the input when {@code out} is null.
     * {@code out} has the input's shape, dtype and device, and the input's strides when the input is dense in
     * memory (contiguous, {@code channels_last}, any permutation), else contiguous strides; it may be
     * {@code input} itself for in-place use.
     *
     * @param input the pre-activation, float32 or float64
     * @param alpha the raw alpha: one element, or one per channel of dimension 1
     * @param beta the raw beta, shaped like {@code alpha}
     * @param out where to write the result, or null for a new tensor
     * @return {@code out}, or the new tensor
     */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        FusedKernels kernels = requireKernels(input, AReLUArguments.check(input, alpha, beta));
        if (out != null) {
            AReLUArguments.checkOutput(out, input, "out");
        }
        return kernels.forward(input, alpha, beta, out).output();
    }

    /**
     * Fused backward: gradients for a given {@code gradOutput} of {@code arelu(input, alpha, beta)}.
     *
     * @param gradOutput the gradient of the loss with respect to AReLU's output, shaped like {@code input}
     * @param input the forward's input
     * @param alpha the forward's raw alpha
     * @param beta the forward's raw beta
     * @return the gradients with respect to the input, alpha and beta
     */
    public static FusedKernels.Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta) {
        return backward(gradOutput, input, alpha, beta, null);
    }

    /**
     * Fused backward writing the input gradient into {@code gradInputOut} (laid out as {@code out} of
     * {@link #forward(Tensor, Tensor, Tensor, Tensor)} must be; it may be {@code gradOutput} itself) or into a
     * new tensor laid out like the input when it is null.
     *
     * @param gradOutput the gradient of the loss with respect to AReLU's output, shaped like {@code input}
     * @param input the forward's input
     * @param alpha the forward's raw alpha
     * @param beta the forward's raw beta
     * @param gradInputOut where to write the input gradient, or null for a new tensor
     * @return the gradients with respect to the input ({@code gradInputOut} when given), alpha and beta
     */
    public static FusedKernels.Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta,
            Tensor gradInputOut) {
        FusedKernels kernels = requireKernels(input, AReLUArguments.check(input, alpha, beta));
        AReLUArguments.checkGradOutput(gradOutput, input);
        if (gradInputOut != null) {
            AReLUArguments.checkOutput(gradInputOut, input, "gradInputOut");
            AReLUArguments.checkNoPartialOverlap(gradInputOut, gradOutput, "gradInputOut", "gradOutput");
        }
        return kernels.backward(gradOutput, input, alpha, beta, gradInputOut, true, null);
    }

    /** The kernels for the input, or an exception naming why none serve it. */
    private static FusedKernels requireKernels(Tensor input, ScalarType dtype) {
        NativeLibrary library = NativeLibrary.instance();
        if (library == null) {
            throw new UnsupportedOperationException("AReLU fused kernels are unavailable: "
                    + NativeLibrary.unavailableReason());
        }
        if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
            throw new IllegalArgumentException("AReLU fused kernels support Float and Double inputs, got " + dtype);
        }
        if (!TensorInfo.isStrided(input)) {
            throw new IllegalArgumentException("AReLU fused kernels support strided inputs, got layout "
                    + TensorInfo.layoutName(input) + "; AReLUFunctional.arelu computes it with libtorch's "
                    + "operations where they support the layout");
        }
        if (input.is_cuda()) {
            if (!library.cudaAvailable()) {
                throw new UnsupportedOperationException("AReLU fused CUDA kernels are unavailable: the native "
                        + "library was built without CUDA or no CUDA device is visible to it");
            }
        } else if (!input.is_cpu()) {
            throw new IllegalArgumentException("AReLU fused kernels run on CPU and CUDA tensors, got device "
                    + TensorInfo.device(input));
        }
        return FusedKernels.select(input, dtype, true);
    }
}
