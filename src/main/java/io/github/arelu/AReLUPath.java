package io.github.arelu;

/** How {@link AReLUFunctional#arelu} computes a call; {@link AReLUFunctional#pathFor} tells which one it takes. */
public enum AReLUPath {

    /**
     * A gradient is needed and the fused kernels serve the input (strided float32 or float64 on the CPU, on CUDA
     * when the call allows it): one fused pass forward, recorded as one autograd node whose backward is one fused
     * pass.
     */
    FUSED_AUTOGRAD,

    /** No gradient is needed (grad mode off, or nothing requires grad): one fused pass, nothing recorded. */
    FUSED_NO_GRAD,

    /**
     * The fused kernels do not serve the input (bfloat16, half, other devices, CUDA unless the call allows it,
     * layouts other than strided (sparse, MKL-DNN, nested), or no native library for this platform), or an
     * argument carries a forward-mode AD tangent (a dual tensor): the reference formula in libtorch operations,
     * differentiable on every device and in both modes.
     */
    COMPOSED
}
