package io.github.arelu;

import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;

/** How {@link AReLUFunctional#arelu} computes a call; {@link AReLUFunctional#pathFor} tells which one it takes. */
public enum AReLUPath {

    /**
     * A gradient is needed and the fused kernels serve the input (float32 or float64 on the CPU, on CUDA when
     * enabled): one fused pass forward, recorded as one autograd node whose backward is one fused pass.
     */
    FUSED_AUTOGRAD,

    /** No gradient is needed (grad mode off, or nothing requires grad): one fused pass, nothing recorded. */
    FUSED_NO_GRAD,

    /**
     * The fused kernels do not serve the input (bfloat16, half, other devices, CUDA unless enabled, or no
     * native library for this platform): the reference formula in libtorch operations, differentiable on
     * every device.
     */
    COMPOSED;

    /** The path for checked arguments, under the current grad mode. */
    static AReLUPath choose(Tensor input, Tensor alpha, Tensor beta) {
        if (!FusedAReLU.supports(input)) {
            return COMPOSED;
        }
        boolean gradientNeeded = GradMode.is_enabled()
                && (input.requires_grad() || alpha.requires_grad() || beta.requires_grad());
        return gradientNeeded ? FUSED_AUTOGRAD : FUSED_NO_GRAD;
    }
}
