package io.github.arelu.internal;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * What libtorch's clamp gives alpha lying exactly on a bound of [0.01, 0.99]. From 2018 up to libtorch 2.13 it
 * passed the gradient there (the subgradient 1), as the fused kernels do; 2.14 passes none (a bound counts as
 * clamped). The reference's gradient is the clamp's of the libtorch in the process, so the fused path follows it,
 * and {@code projectAlpha} puts alpha where that clamp passes a gradient: asked of libtorch once, at first use.
 * bytedeco 1.5.13's libtorch 2.10 passes it, where nothing here changes a value.
 */
final class ClampBounds {

    private ClampBounds() {
    }

    /** Initialized at first use: the question takes a small backward. */
    private static final class Asked {
        static final boolean PASSES_GRADIENT = ask();
    }

    /** Whether this process's libtorch clamp passes the gradient to an input lying on a bound. */
    static boolean passGradient() {
        return Asked.PASSES_GRADIENT;
    }

    /**
     * Zeroes alpha's gradient where alpha lies on a bound (compared in alpha's dtype, as the kernels and libtorch's
     * clamp compare), unless the clamp passes the gradient there.
     *
     * @param alpha alpha as forward read it, shaped like {@code gradAlpha}
     * @param gradAlpha the fused kernels' gradient of alpha, changed in place
     * @param passes whether the clamp passes the gradient on a bound ({@link #passGradient()})
     */
    static void zeroGradientOnBounds(Tensor alpha, Tensor gradAlpha, boolean passes) {
        if (passes) {
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            gradAlpha.masked_fill_(alpha.eq(new Scalar(ComposedAReLU.ALPHA_MIN))
                    .logical_or(alpha.eq(new Scalar(ComposedAReLU.ALPHA_MAX))), new Scalar(0.0));
        }
    }

    /**
     * The range that alpha is projected onto: the bounds where the clamp passes the gradient on them, else the
     * values of {@code dtype} next to them inside, the nearest that still get a gradient.
     *
     * @param dtype alpha's dtype
     * @param passes whether the clamp passes the gradient on a bound ({@link #passGradient()})
     * @return {lower, upper}, each a value of {@code dtype}
     */
    static double[] trainableRange(ScalarType dtype, boolean passes) {
        if (passes) {
            return new double[] {ComposedAReLU.ALPHA_MIN, ComposedAReLU.ALPHA_MAX};
        }
        try (PointerScope scope = new PointerScope()) {
            return new double[] {nextInside(ComposedAReLU.ALPHA_MIN, 1.0, dtype),
                nextInside(ComposedAReLU.ALPHA_MAX, 0.0, dtype)};
        }
    }

    /** The value of dtype next to bound (as dtype holds it) towards {@code toward}. */
    private static double nextInside(double bound, double toward, ScalarType dtype) {
        TensorOptions options = new TensorOptions(dtype);
        return torch.scalar_tensor(new Scalar(bound), options)
                .nextafter(torch.scalar_tensor(new Scalar(toward), options)).item_double();
    }

    private static boolean ask() {
        // Asked from wherever alpha's gradient is first needed: in a backward (grad mode off), or under
        // InferenceMode. Autograd on for the question.
        try (PointerScope scope = new PointerScope(); InferenceMode notInference = new InferenceMode(false);
                AutoGradMode gradMode = new AutoGradMode(true)) {
            Tensor bound = torch.scalar_tensor(new Scalar(ComposedAReLU.ALPHA_MIN),
                    new TensorOptions(ScalarType.Double)).requires_grad_(true);
            torch.clamp(bound, new ScalarOptional(new Scalar(ComposedAReLU.ALPHA_MIN)),
                    new ScalarOptional(new Scalar(ComposedAReLU.ALPHA_MAX))).backward();
            return bound.grad().item_double() != 0.0;
        }
    }
}
