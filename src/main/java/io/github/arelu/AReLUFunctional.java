package io.github.arelu;

import org.bytedeco.pytorch.Tensor;

/**
 * Functional AReLU: {@code arelu(x, alpha, beta)} computes {@code (1 + sigmoid(beta)) * x} for
 * {@code x > 0} and {@code clamp(alpha, 0.01, 0.99) * x} for {@code x < 0}, with the values, NaN and
 * infinity handling and gradients of the reference {@code relu(x) * b - relu(-x) * a}. The {@link AReLU}
 * module calls this with its parameters, so module and function share one implementation.
 *
 * <p>{@code alpha} and {@code beta} hold one element each (the paper's form, any shape with one element) or
 * one element per channel of dimension 1 of the input (the channel-wise form). They must have the input's
 * dtype and device.
 *
 * <p>Each call takes one of the {@link AReLUPath}s: the fused kernels, recorded as one autograd node when a
 * gradient is needed, wherever they serve the input; libtorch operations of the reference formula elsewhere.
 */
public final class AReLUFunctional {

    /** Lower clamp bound of alpha, from the paper. */
    public static final double ALPHA_MIN = 0.01;
    /** Upper clamp bound of alpha, from the paper. */
    public static final double ALPHA_MAX = 0.99;

    private AReLUFunctional() {
    }

    /**
     * AReLU of {@code input} with the given raw parameters; see the class documentation.
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
        AReLUArguments.check(input, alpha, beta);
        return switch (AReLUPath.choose(input, alpha, beta)) {
            case FUSED_AUTOGRAD -> FusedAReLUFunction.INSTANCE.apply(input, alpha, beta)[0];
            case FUSED_NO_GRAD -> FusedAReLU.forwardChecked(input, alpha, beta, null);
            case COMPOSED -> ComposedAReLU.forward(input, alpha, beta);
        };
    }

    /**
     * The path {@link #arelu} takes for these arguments under the current grad mode.
     *
     * @param input the pre-activation
     * @param alpha the raw alpha
     * @param beta the raw beta
     * @return the path a call of {@link #arelu} with these arguments would take now
     * @throws IllegalArgumentException for the arguments {@link #arelu} refuses, with the same message
     */
    public static AReLUPath pathFor(Tensor input, Tensor alpha, Tensor beta) {
        AReLUArguments.check(input, alpha, beta);
        return AReLUPath.choose(input, alpha, beta);
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
     * @throws IllegalArgumentException for the arguments {@link #arelu} refuses
     */
    public static Tensor areluComposed(Tensor input, Tensor alpha, Tensor beta) {
        AReLUArguments.check(input, alpha, beta);
        return ComposedAReLU.forward(input, alpha, beta);
    }
}
