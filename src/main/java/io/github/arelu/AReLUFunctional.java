package io.github.arelu;

import io.github.arelu.internal.AReLUArguments;
import io.github.arelu.internal.ComposedAReLU;
import io.github.arelu.internal.FusedKernels;
import io.github.arelu.internal.Switches;
import io.github.arelu.internal.Tangents;
import io.github.arelu.internal.TensorInfo;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;

/**
 * Functional AReLU: {@code arelu(x, alpha, beta)} computes {@code (1 + sigmoid(beta)) * x} for
 * {@code x > 0} and {@code clamp(alpha, 0.01, 0.99) * x} for {@code x < 0}, with the values, NaN and
 * infinity handling and gradients of the reference {@code relu(x) * b - relu(-x) * a}. The {@link AReLU}
 * module calls this with its parameters, so module and function share one implementation.
 *
 * <p>{@code alpha} and {@code beta} hold one element each (the paper's form, any shape with one element) or
 * one element per channel of dimension 1 of the input (the channel-wise form: shape {@code [C]}, or a shape that
 * broadcasts along dimension 1 only, such as {@code [C, 1, 1]} for NCHW). They must have the input's
 * dtype and device.
 *
 * <p>Each call takes one of the {@link AReLUPath}s: the fused kernels, recorded as one autograd node when a
 * gradient is needed, wherever they serve the input; libtorch operations of the reference formula elsewhere, and
 * for arguments that carry a forward-mode AD tangent (dual tensors), whose tangent those operations carry.
 * The fused CUDA kernels are opt-in per call ({@code fusedCuda}), by default off unless the JVM runs with
 * {@code -Darelu.cuda.fused=true}: they stay so until they have been run from Java on a GPU.
 */
public final class AReLUFunctional {

    /** Whether CUDA tensors take the fused kernels when a call does not say: {@code -Darelu.cuda.fused}. */
    private static final Switches.Setting FUSED_CUDA = Switches.read("arelu.cuda.fused", "true", "false");

    private AReLUFunctional() {
    }

    /**
     * Whether CUDA tensors take the fused kernels when a call does not say.
     *
     * @throws IllegalArgumentException where {@code -Darelu.cuda.fused} is neither true nor false
     */
    static boolean fusedCudaDefault() {
        return FUSED_CUDA.on();
    }

    /**
     * AReLU of {@code input} with the given raw parameters; see the class documentation. CUDA tensors take the
     * fused kernels only with {@code -Darelu.cuda.fused=true}.
     *
     * @param input the pre-activation, floating point, any shape
     * @param alpha the raw alpha (clamped to [0.01, 0.99] here): one element, or one per channel of dimension 1
     * @param beta the raw beta, as many elements as {@code alpha}
     * @return AReLU of {@code input}, a new tensor recorded in autograd's graph when a gradient is needed
     * @throws IllegalArgumentException for a non-floating-point input, parameters of another dtype or
     *     device than the input, parameters whose element counts differ, or a channel-wise parameter count
     *     that does not match {@code input.size(1)}
     */
    public static Tensor arelu(Tensor input, Tensor alpha, Tensor beta) {
        return arelu(input, alpha, beta, fusedCudaDefault());
    }

    /**
     * AReLU of {@code input}, saying whether a CUDA input may take the fused CUDA kernels (on libtorch's
     * current stream of the current device) or the reference formula in libtorch operations.
     *
     * @param input the pre-activation, floating point, any shape
     * @param alpha the raw alpha (clamped to [0.01, 0.99] here): one element, or one per channel of dimension 1
     * @param beta the raw beta, as many elements as {@code alpha}
     * @param fusedCuda whether a CUDA input takes the fused kernels where the native library has them
     * @return AReLU of {@code input}, a new tensor recorded in autograd's graph when a gradient is needed
     * @throws IllegalArgumentException for the arguments {@link #arelu(Tensor, Tensor, Tensor)} refuses
     */
    public static Tensor arelu(Tensor input, Tensor alpha, Tensor beta, boolean fusedCuda) {
        FusedKernels kernels = kernelsFor(input, alpha, beta, fusedCuda);
        if (kernels == null) {
            return ComposedAReLU.forward(input, alpha, beta);
        }
        if (gradientNeeded(input, alpha, beta)) {
            return kernels.function().apply(input, alpha, beta)[0];
        }
        return kernels.forward(input, alpha, beta, null).output();
    }

    /**
     * The path {@link #arelu(Tensor, Tensor, Tensor)} takes for these arguments under the current grad mode.
     *
     * @param input the pre-activation
     * @param alpha the raw alpha
     * @param beta the raw beta
     * @return the path a call of {@link #arelu(Tensor, Tensor, Tensor)} with these arguments would take now
     * @throws IllegalArgumentException for the arguments {@link #arelu(Tensor, Tensor, Tensor)} refuses up front,
     *     with the same message (see {@link #pathFor(Tensor, Tensor, Tensor, boolean)} for other layouts)
     */
    public static AReLUPath pathFor(Tensor input, Tensor alpha, Tensor beta) {
        return pathFor(input, alpha, beta, fusedCudaDefault());
    }

    /**
     * The path {@link #arelu(Tensor, Tensor, Tensor, boolean)} takes for these arguments under the current
     * grad mode. Nothing is computed.
     *
     * @param input the pre-activation
     * @param alpha the raw alpha
     * @param beta the raw beta
     * @param fusedCuda whether a CUDA input may take the fused kernels
     * @return the path a call with these arguments would take now
     * @throws IllegalArgumentException for the arguments {@link #arelu(Tensor, Tensor, Tensor)} refuses up front,
     *     with the same message. An input of a layout other than strided and sparse COO (sparse CSR, MKL-DNN)
     *     passes those checks and gets {@link AReLUPath#COMPOSED}; {@code arelu} may then still refuse it by
     *     name, when libtorch's operations of the reference formula fail on that layout, which only running
     *     them tells.
     */
    public static AReLUPath pathFor(Tensor input, Tensor alpha, Tensor beta, boolean fusedCuda) {
        if (kernelsFor(input, alpha, beta, fusedCuda) == null) {
            return AReLUPath.COMPOSED;
        }
        return gradientNeeded(input, alpha, beta) ? AReLUPath.FUSED_AUTOGRAD : AReLUPath.FUSED_NO_GRAD;
    }

    /**
     * The {@link AReLUPath#COMPOSED} path whatever the input: the reference formula
     * {@code relu(x) * b - relu(-x) * a} in libtorch operations, with {@code a = clamp(alpha, 0.01, 0.99)}
     * and {@code b = 1 + sigmoid(beta)}. For comparisons and for code that needs libtorch's own graph nodes.
     *
     * @param input the pre-activation
     * @param alpha the raw alpha
     * @param beta the raw beta
     * @return AReLU of {@code input} computed by libtorch operations, differentiable through libtorch's autograd
     * @throws IllegalArgumentException for the arguments {@link #arelu(Tensor, Tensor, Tensor)} refuses
     */
    public static Tensor areluComposed(Tensor input, Tensor alpha, Tensor beta) {
        AReLUArguments.check(input, alpha, beta);
        return ComposedAReLU.forward(input, alpha, beta);
    }

    /**
     * Projects a raw alpha onto the forward pass's clamp range [0.01, 0.99], in place and outside autograd: an
     * opt-in for training, called after each optimizer step, that is <em>not</em> the paper's AReLU.
     *
     * <p>Why: the forward pass clamps alpha, so alpha gets no gradient while it lies outside the range. With
     * momentum, the last steps inside the range can carry it past a bound, where it then stays for good (at
     * the bound's slope). Projected back after each step, alpha sits on the bound, where the clamp passes the
     * gradient again, so a later step can take it back inside. (libtorch's clamp passed the gradient on its bounds
     * up to 2.13, bytedeco 1.5.13's 2.10 among them; from 2.14 it passes none there, and on such a libtorch alpha
     * goes to the value of its dtype next to the bound inside.) A value inside the range is left as it is, so
     * the forward pass computes the same function before and after; NaN stays NaN.
     *
     * @param alpha the raw alpha (a parameter or any floating-point tensor), changed in place
     * @return {@code alpha}
     * @throws IllegalArgumentException for a null, undefined or non-floating-point tensor
     */
    public static Tensor projectAlpha(Tensor alpha) {
        if (alpha == null || !alpha.defined() || !alpha.is_floating_point()) {
            throw new IllegalArgumentException("projectAlpha expects a floating-point alpha, got "
                    + TensorInfo.describe(alpha));
        }
        // Through a detached alias (the same memory and version counter) rather than under NoGradGuard, whose
        // thread-local grad mode a virtual thread could carry to another OS thread.
        try (PointerScope scope = new PointerScope()) {
            double[] range = ComposedAReLU.trainableAlphaRange(TensorInfo.dtype(alpha));
            alpha.detach().clamp_(new ScalarOptional(new Scalar(range[0])), new ScalarOptional(new Scalar(range[1])));
        }
        return alpha;
    }

    /**
     * The fused kernels that serve the call, or null for the composed path. A tangent of forward-mode AD (a dual
     * tensor) on any argument takes the composed path too: the kernels would return the output without its
     * tangent, where libtorch's operations carry it.
     */
    private static FusedKernels kernelsFor(Tensor input, Tensor alpha, Tensor beta, boolean fusedCuda) {
        FusedKernels kernels = FusedKernels.select(input, AReLUArguments.check(input, alpha, beta), fusedCuda);
        return kernels == null || Tangents.firstWithTangent(input, alpha, beta) >= 0 ? null : kernels;
    }

    private static boolean gradientNeeded(Tensor input, Tensor alpha, Tensor beta) {
        return GradMode.is_enabled() && (input.requires_grad() || alpha.requires_grad() || beta.requires_grad());
    }
}
