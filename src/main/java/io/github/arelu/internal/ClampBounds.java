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
 * and {@code projectAlpha} puts alpha where that clamp passes a gradient: asked of libtorch once, at first use,
 * for each bound. bytedeco 1.5.13's libtorch 2.10 passes it on both, where nothing here changes a value.
 */
final class ClampBounds {

    /**
     * Whether libtorch's clamp passes the gradient to an input lying on its lower and on its upper bound.
     *
     * @param atMin on the lower bound
     * @param atMax on the upper bound
     */
    record Rule(boolean atMin, boolean atMax) {
        /** Whether the clamp passes it on both bounds, as the fused kernels do: then nothing is to be changed. */
        boolean passesOnBoth() {
            return atMin && atMax;
        }
    }

    private ClampBounds() {
    }

    /** Initialized at first use: the question takes a small backward. */
    private static final class Asked {
        static final Rule RULE = ask();
    }

    /** The rule of this process's libtorch clamp. */
    static Rule rule() {
        return Asked.RULE;
    }

    /**
     * Zeroes alpha's gradient where alpha lies on a bound on which the clamp passes none (compared in alpha's dtype,
     * as the kernels and libtorch's clamp compare).
     *
     * @param alpha alpha as forward read it, shaped like {@code gradAlpha}
     * @param gradAlpha the fused kernels' gradient of alpha, changed in place
     * @param rule the clamp's rule ({@link #rule()})
     */
    static void zeroGradientOnBounds(Tensor alpha, Tensor gradAlpha, Rule rule) {
        try (PointerScope scope = new PointerScope()) {
            if (!rule.atMin()) {
                gradAlpha.masked_fill_(alpha.eq(new Scalar(ComposedAReLU.ALPHA_MIN)), new Scalar(0.0));
            }
            if (!rule.atMax()) {
                gradAlpha.masked_fill_(alpha.eq(new Scalar(ComposedAReLU.ALPHA_MAX)), new Scalar(0.0));
            }
        }
    }

    /**
     * The range that alpha is projected onto: each bound where the clamp passes the gradient on it, else the value
     * of {@code dtype} next to it inside, the nearest that still gets a gradient.
     *
     * @param dtype alpha's dtype
     * @param rule the clamp's rule ({@link #rule()})
     * @return {lower, upper}, each a value of {@code dtype}
     */
    static double[] trainableRange(ScalarType dtype, Rule rule) {
        try (PointerScope scope = new PointerScope()) {
            return new double[] {
                rule.atMin() ? ComposedAReLU.ALPHA_MIN : nextInside(ComposedAReLU.ALPHA_MIN, 1.0, dtype),
                rule.atMax() ? ComposedAReLU.ALPHA_MAX : nextInside(ComposedAReLU.ALPHA_MAX, 0.0, dtype)};
        }
    }

    /** The value of dtype next to bound (as dtype holds it) towards {@code toward}. */
    private static double nextInside(double bound, double toward, ScalarType dtype) {
        TensorOptions options = new TensorOptions(dtype);
        return torch.scalar_tensor(new Scalar(bound), options)
                .nextafter(torch.scalar_tensor(new Scalar(toward), options)).item_double();
    }

    private static Rule ask() {
        // Asked from wherever alpha's gradient is first needed: in a backward (grad mode off), or under
        // InferenceMode. Autograd on for the question.
        try (PointerScope scope = new PointerScope(); InferenceMode notInference = new InferenceMode(false);
                AutoGradMode gradMode = new AutoGradMode(true)) {
            TensorOptions f64 = new TensorOptions(ScalarType.Double);
            Tensor min = torch.scalar_tensor(new Scalar(ComposedAReLU.ALPHA_MIN), f64).requires_grad_(true);
            Tensor max = torch.scalar_tensor(new Scalar(ComposedAReLU.ALPHA_MAX), f64).requires_grad_(true);
            ScalarOptional lo = new ScalarOptional(new Scalar(ComposedAReLU.ALPHA_MIN));
            ScalarOptional hi = new ScalarOptional(new Scalar(ComposedAReLU.ALPHA_MAX));
            torch.clamp(min, lo, hi).add(torch.clamp(max, lo, hi)).backward();
            return new Rule(min.grad().item_double() != 0.0, max.grad().item_double() != 0.0);
        }
    }
}
