package io.github.arelu.examples.train;

import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;

/**
 * The process-wide libtorch settings the experiments train under. A program sets them once, at its start
 * ({@code cli.Main} after parsing its options); the training code itself changes none of them.
 */
public final class LibTorchSettings {

    private LibTorchSettings() {
    }

    /**
     * libtorch's own convolutions (oneDNN off, no NNPACK) and one OpenBLAS thread under libtorch's.
     *
     * <p>libtorch's oneDNN (MKL-DNN) convolutions are off unless asked for ({@link #setOneDnnEnabled}): in
     * bytedeco's 2.10.0 CPU build they return NaN on some machines for ConvMNIST's third convolution (20 -> 40
     * channels, 3x3 on 4x4): whole output channels of NaN from finite inputs and weights, which ones and
     * whether at all varying from process to process. libtorch's own convolutions are exact and
     * deterministic. NNPACK, which libtorch tries next, does not run on our CPUs and would log a warning on
     * every convolution.
     *
     * <p>libtorch already splits its work over its own OpenMP threads; OpenBLAS's threads on top
     * oversubscribe the cores. On our 2-core machine one OpenBLAS thread made LinearMNIST about 15 times
     * faster (2540 -> 40196 images/s with ReLU) and ConvMNIST about 15 % faster.
     */
    public static void applyDefaults() {
        torch.globalContext().setUserEnabledMkldnn(false);
        torch.globalContext().setUserEnabledNNPACK(false);
        openblas_nolapack.blas_set_num_threads(1);
    }

    /** The defaults, with {@code threads} libtorch threads. */
    public static void applyDefaults(int threads) {
        applyDefaults();
        torch.set_num_threads(threads);
    }

    /** Switches libtorch's oneDNN convolutions on or off for this process (off by default, see above). */
    public static void setOneDnnEnabled(boolean enabled) {
        torch.globalContext().setUserEnabledMkldnn(enabled);
    }

    /** Whether libtorch's oneDNN convolutions are on. */
    public static boolean oneDnnEnabled() {
        return torch.globalContext().userEnabledMkldnn();
    }
}
