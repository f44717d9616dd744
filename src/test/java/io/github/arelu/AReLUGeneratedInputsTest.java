package io.github.arelu;

import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

import io.github.arelu.internal.FusedAReLU;
import io.github.arelu.internal.FusedKernels;
import io.github.arelu.internal.TensorInfo;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Seeded random cases against the reference formula in float64: random shape, strides (permuted, gaps with a
 * storage offset, expanded), memory format (channels_last), dtype, lazy negation of the input and of the
 * parameters, special values in x, alpha, beta and the upstream gradient, scalar and channel-wise parameters;
 * every path ({@link AReLUFunctional#arelu} with and without grad, {@link AReLUFunctional#areluComposed},
 * {@link FusedAReLU}'s explicit forward and backward), values and all three gradients. A failure names the
 * case and its seed; {@code -Darelu.generated.seed=N -Darelu.generated.cases=1} replays one.
 */
class AReLUGeneratedInputsTest {

    private static final long FIRST_SEED = Long.getLong("arelu.generated.seed", 20261205L);
    private static final int CASES = Integer.getInteger("arelu.generated.cases", 600);

    private static final double[] ALPHAS = {0.9, 0.3, 0.005, 0.5, 1.2, -0.3, 0.01, 0.99};
    private static final double[] BETAS = {2.0, -3.0, 0.0, 0.5, 20.0, -20.0};

    @Test
    void everyPathMatchesTheFloat64Reference() {
        int fused = 0;
        for (int i = 0; i < CASES; i++) {
            long seed = FIRST_SEED + i;
            try (PointerScope scope = new PointerScope()) {
                Case c = new Case(new SplittableRandom(seed));
                try {
                    fused += c.check() ? 1 : 0;
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError("case with seed " + seed + " (replay: -Darelu.generated.seed=" + seed
                            + " -Darelu.generated.cases=1): " + c + "\n" + e.getMessage(), e);
                }
            }
        }
        if (CASES >= 100) {
            // The draw reaches the fused kernels in most cases, not only the composed path.
            assertEquals(true, fused > CASES / 2, fused + " of " + CASES + " cases on the fused path");
        }
    }

    /** One drawn case: how to build x, alpha, beta and the upstream gradient, and what to expect. */
    private static final class Case {
        final ScalarType dtype;
        final long[] shape;
        final boolean channelwise;
        final String layout;
        final boolean negatedInput;
        final boolean negatedParameters;
        final double[] alphas;
        final double[] betas;
        final long[] parameterShape;
        final double[] baseValues;
        final long[] baseShape;
        final UnaryOperator<Tensor> view;
        final double[] gradValues;
        final boolean gradChannelsLast;

        Case(SplittableRandom r) {
            double d = r.nextDouble();
            dtype = d < 0.45 ? ScalarType.Double : d < 0.9 ? ScalarType.Float : d < 0.95 ? ScalarType.Half
                    : ScalarType.BFloat16;
            int rank = 1 + r.nextInt(5);
            shape = new long[rank];
            for (int k = 0; k < rank; k++) {
                shape[k] = r.nextDouble() < 0.04 ? 0 : 1 + r.nextInt(4);
            }
            channelwise = rank >= 2 && shape[1] >= 2 && r.nextBoolean();
            long channels = channelwise ? shape[1] : 1;
            negatedInput = r.nextDouble() < 0.2;
            negatedParameters = r.nextDouble() < 0.2;
            // Bounds of the clamp only in float64: a float32 0.01 lies below the float64 0.01, so the float64
            // reference would clamp where the element type's comparison (libtorch's, and ours) does not.
            int alphaChoices = dtype == ScalarType.Double ? ALPHAS.length : ALPHAS.length - 2;
            // beta = +-20 only in float64: in narrower types sigmoid(20) rounds to 1, so the reference formula in
            // that type (the composed path) gets sigmoid'(beta) = 0 and NaN for an infinite sum, where the float64
            // reference gets infinity.
            int betaChoices = dtype == ScalarType.Double ? BETAS.length : BETAS.length - 2;
            alphas = new double[(int) channels];
            betas = new double[(int) channels];
            for (int c = 0; c < channels; c++) {
                alphas[c] = r.nextDouble() < 0.03 ? special(r, false) : ALPHAS[r.nextInt(alphaChoices)];
                betas[c] = r.nextDouble() < 0.03 ? special(r, false) : BETAS[r.nextInt(betaChoices)];
            }
            parameterShape = channelwise ? new long[] {channels}
                    : new long[][] {{1}, {}, {1, 1, 1}}[r.nextInt(3)];

            // The input as a view of a leaf ("base"), so gradients reach the leaf through the view.
            List<String> layouts = new ArrayList<>(List.of("contiguous", "contiguous", "permuted", "gaps", "expanded"));
            if (rank == 4 || rank == 5) {
                layouts.add(rank == 4 ? "channels_last" : "channels_last_3d");
                layouts.add(rank == 4 ? "channels_last" : "channels_last_3d");
                layouts.add("channels_last_gaps");
            }
            layout = layouts.get(r.nextInt(layouts.size()));
            int last = rank - 1;
            switch (layout) {
                case "permuted" -> {
                    // base holds the dimensions reversed; x = base.permute(reversed) is dense, not contiguous.
                    baseShape = reversed(shape);
                    long[] order = new long[rank];
                    for (int k = 0; k < rank; k++) {
                        order[k] = rank - 1 - k;
                    }
                    view = t -> t.permute(order);
                }
                case "gaps" -> {
                    // Every other element of the last dimension, from element 1: a storage offset and gaps.
                    baseShape = shape.clone();
                    baseShape[last] = 2 * shape[last] + 1;
                    long end = 2 * shape[last] + 1;
                    view = t -> t.slice(last, new LongOptional(1), new LongOptional(end), 2);
                }
                case "expanded" -> {
                    // Dimension 0 broadcast from one element (stride 0: overlapping memory).
                    baseShape = shape.clone();
                    baseShape[0] = 1;
                    view = t -> t.expand(shape);
                }
                case "channels_last_gaps" -> {
                    // channels_last memory, every other element of the last dimension: gaps, in an order whose
                    // dense copy libtorch would lay out channels_last, not contiguous.
                    baseShape = shape.clone();
                    baseShape[last] = 2 * shape[last] + 1;
                    long end = 2 * shape[last] + 1;
                    MemoryFormat format = rank == 4 ? MemoryFormat.ChannelsLast : MemoryFormat.ChannelsLast3d;
                    view = t -> t.contiguous(format).slice(last, new LongOptional(1), new LongOptional(end), 2);
                }
                case "channels_last", "channels_last_3d" -> {
                    baseShape = shape.clone();
                    MemoryFormat format = rank == 4 ? MemoryFormat.ChannelsLast : MemoryFormat.ChannelsLast3d;
                    view = t -> t.contiguous(format);
                }
                default -> {
                    baseShape = shape.clone();
                    view = t -> t;
                }
            }
            baseValues = draws(r, numel(baseShape), r.nextDouble() < 0.5 ? 0.1 : 0.0);
            gradValues = draws(r, numel(shape), r.nextDouble() < 0.25 ? 0.05 : 0.0);
            gradChannelsLast = rank == 4 && r.nextBoolean();
        }

        /** Normal values with a share of specials: signed zeros, NaN, infinities, tiny and large values. */
        private double[] draws(SplittableRandom r, long n, double specialShare) {
            double[] v = new double[(int) n];
            for (int i = 0; i < v.length; i++) {
                double u = r.nextDouble();
                v[i] = u < specialShare ? special(r, true) : 2 * gaussian(r);
            }
            return v;
        }

        private double special(SplittableRandom r, boolean tiny) {
            // Large, but within half's range (65504) even after the scales and summing.
            double large = dtype == ScalarType.Half ? 100 : 1e4;
            double[] pool = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, large, -large,
                tiny && dtype == ScalarType.Double ? -Double.MIN_VALUE : -1.0,
                tiny && dtype == ScalarType.Float ? -Float.MIN_VALUE : 1.0};
            return pool[r.nextInt(pool.length)];
        }

        private static double gaussian(SplittableRandom r) {
            double u = 1 - r.nextDouble();
            return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
        }

        /** The leaves of one evaluation, in dtype, requiring grad. */
        private Tensor[] leaves(ScalarType type) {
            Tensor base = Tensor.create(baseValues).reshape(baseShape).to(dtype).to(type).requires_grad_(true);
            // Negated parameters are stored negated, as their view's negative bit says.
            double sign = negatedParameters ? -1 : 1;
            Tensor alpha = parameterTensor(alphas, sign).to(dtype).to(type).requires_grad_(true);
            Tensor beta = parameterTensor(betas, sign).to(dtype).to(type).requires_grad_(true);
            return new Tensor[] {base, alpha, beta};
        }

        private Tensor parameterTensor(double[] v, double sign) {
            double[] s = v.clone();
            for (int i = 0; i < s.length; i++) {
                s[i] *= sign;
            }
            return Tensor.create(s).reshape(parameterShape);
        }

        /** x, alpha, beta as the call sees them: views of the leaves. */
        private Tensor[] arguments(Tensor[] leaves) {
            Tensor x = view.apply(leaves[0]);
            if (negatedInput) {
                x = x._neg_view();
            }
            Tensor alpha = negatedParameters ? leaves[1]._neg_view() : leaves[1];
            Tensor beta = negatedParameters ? leaves[2]._neg_view() : leaves[2];
            return new Tensor[] {x, alpha, beta};
        }

        private Tensor upstream(ScalarType type) {
            Tensor w = Tensor.create(gradValues).reshape(shape).to(dtype).to(type);
            return gradChannelsLast ? w.contiguous(MemoryFormat.ChannelsLast) : w;
        }

        /** Checks every path; returns whether the fused kernels served the case. */
        boolean check() {
            // The reference: relu(x) * b - relu(-x) * a in float64 on the same (dtype-rounded) values.
            Tensor[] refLeaves = leaves(ScalarType.Double);
            Tensor[] refArgs = arguments(refLeaves);
            refArgs[0].retain_grad();
            refArgs[1].retain_grad();
            refArgs[2].retain_grad();
            Tensor refY = Tensors.reference(refArgs[0], refArgs[1], refArgs[2]);
            Tensors.backward(refY, upstream(ScalarType.Double));
            Expected want = new Expected(values(refY), values(refLeaves[0].grad()), values(refLeaves[1].grad()),
                    values(refLeaves[2].grad()), values(refArgs[0].grad()), values(refArgs[1].grad()),
                    values(refArgs[2].grad()));
            Tolerance tol = new Tolerance(dtype, sumOfTerms(refArgs[0]), sumOfGradients());

            Tensor[] probe = arguments(leaves(dtype));
            boolean fusedServes = FusedAReLU.supports(probe[0]);
            assertEquals(fusedServes ? AReLUPath.FUSED_AUTOGRAD : AReLUPath.COMPOSED,
                    AReLUFunctional.pathFor(probe[0], probe[1], probe[2]), "path");

            checkAutograd("arelu", (x, a, b) -> AReLUFunctional.arelu(x, a, b), want, tol);
            checkAutograd("areluComposed", (x, a, b) -> AReLUFunctional.areluComposed(x, a, b), want, tol);
            try (NoGradGuard guard = new NoGradGuard()) {
                Tensor[] args = arguments(leaves(dtype));
                tol.assertClose(want.y, values(AReLUFunctional.arelu(args[0], args[1], args[2])), "no-grad y", false);
            }
            if (fusedServes) {
                Tensor[] args = arguments(leaves(dtype));
                Tensor x = args[0].detach();
                Tensor a = args[1].detach();
                Tensor b = args[2].detach();
                tol.assertClose(want.y, values(FusedAReLU.forward(x, a, b)), "FusedAReLU.forward y", false);
                FusedKernels.Gradients g = FusedAReLU.backward(upstream(dtype), x, a, b);
                tol.assertClose(want.gradXView, values(g.input()), "FusedAReLU.backward grad x", false);
                tol.assertClose(want.gradAlphaView, values(g.alpha()), "FusedAReLU.backward grad alpha", true);
                tol.assertClose(want.gradBetaView, values(g.beta()), "FusedAReLU.backward grad beta", true);
                Tensor out = bufferFor(x);
                FusedAReLU.forward(x, a, b, out);
                tol.assertClose(want.y, values(out), "FusedAReLU.forward y into out", false);
                Tensor gradIn = bufferFor(x);
                FusedAReLU.backward(upstream(dtype), x, a, b, gradIn);
                tol.assertClose(want.gradXView, values(gradIn), "FusedAReLU.backward grad x into gradInputOut", false);
            }
            return fusedServes;
        }

        /** A buffer laid out as FusedAReLU's {@code out} must be for x: x's strides where x is dense, else contiguous. */
        private static Tensor bufferFor(Tensor x) {
            long[] shape = TensorInfo.shape(x);
            return x.is_contiguous() || x.is_non_overlapping_and_dense()
                    ? torch.empty_strided(shape, TensorInfo.strides(x), x.options())
                    : torch.empty(shape, x.options(), new MemoryFormatOptional());
        }

        private interface Call {
            Tensor apply(Tensor x, Tensor alpha, Tensor beta);
        }

        private void checkAutograd(String name, Call call, Expected want, Tolerance tol) {
            Tensor[] leaves = leaves(dtype);
            Tensor[] args = arguments(leaves);
            Tensor y = call.apply(args[0], args[1], args[2]);
            tol.assertClose(want.y, values(y), name + " y", false);
            Tensors.backward(y, upstream(dtype));
            // An expanded x's leaf gradient is a sum over the broadcast dimension: a sum's tolerance.
            tol.assertClose(want.gradBase, values(leaves[0].grad()), name + " grad x", layout.equals("expanded"));
            tol.assertClose(want.gradAlpha, values(leaves[1].grad()), name + " grad alpha", true);
            tol.assertClose(want.gradBeta, values(leaves[2].grad()), name + " grad beta", true);
        }

        /** The sum of |w| * 2 (b < 2) over finite terms: the scale of a summed input gradient's rounding error. */
        private double sumOfGradients() {
            double sum = 0;
            for (double w : gradValues) {
                sum += Double.isFinite(w) ? 2 * Math.abs(w) : 0;
            }
            return sum;
        }

        /** The sum of |w * x| over finite terms: the scale of a parameter gradient's rounding error. */
        private double sumOfTerms(Tensor x64) {
            double[] x = values(x64);
            double sum = 0;
            for (int i = 0; i < x.length; i++) {
                double t = Math.abs(gradValues[i] * x[i]);
                sum += Double.isFinite(t) ? t : 0;
            }
            return sum;
        }

        @Override
        public String toString() {
            return dtype + Arrays.toString(shape) + (channelwise ? " channel-wise" : " scalar "
                    + Arrays.toString(parameterShape)) + ", x " + layout + (negatedInput ? " negated" : "")
                    + (negatedParameters ? ", parameters negated" : "") + ", alpha " + Arrays.toString(alphas)
                    + ", beta " + Arrays.toString(betas) + ", gradient" + (gradChannelsLast ? " channels_last" : "")
                    + "\n  x base " + abbreviated(baseValues) + "\n  gradient " + abbreviated(gradValues);
        }

        private static String abbreviated(double[] v) {
            return v.length <= 24 ? Arrays.toString(v) : Arrays.toString(Arrays.copyOf(v, 24)) + "...";
        }
    }

    /** The reference's values and gradients: of the leaves, and of the call's arguments themselves (views). */
    private record Expected(double[] y, double[] gradBase, double[] gradAlpha, double[] gradBeta,
            double[] gradXView, double[] gradAlphaView, double[] gradBetaView) {
    }

    /** How close a dtype's result must be to the float64 reference. */
    private record Tolerance(ScalarType dtype, double sumOfTerms, double sumOfGradients) {

        double relative() {
            return switch (dtype) {
                case Double -> 1e-13;
                case Float -> 2e-6;
                default -> 2e-2;
            };
        }

        /** Where a product of the type underflows: below it, a float64 value and zero are alike. */
        double underflow() {
            return switch (dtype) {
                case Double -> 0;
                case Half -> 1e-4;
                default -> 1e-37;
            };
        }

        /** NaN where the reference has NaN, the same infinities, else close (sums: relative to their terms). */
        void assertClose(double[] expected, double[] actual, String what, boolean sum) {
            assertEquals(expected.length, actual.length, what + ": element count");
            double absolute = (sum ? relative() * Math.max(sumOfTerms, sumOfGradients) * 4 : 0) + underflow();
            for (int i = 0; i < expected.length; i++) {
                double e = expected[i];
                double a = actual[i];
                boolean ok = Double.isNaN(e) ? Double.isNaN(a)
                        : Double.isInfinite(e) ? e == a
                        : Math.abs(e - a) <= absolute + relative() * Math.abs(e);
                if (ok && dtype == ScalarType.Double && !sum && e == 0 && a == 0) {
                    ok = Double.doubleToRawLongBits(e) == Double.doubleToRawLongBits(a);
                }
                if (!ok) {
                    int from = Math.max(0, i - 4);
                    int to = Math.min(expected.length, i + 5);
                    fail(what + "[" + i + "]: expected " + e + ", got " + a + "\n  expected [" + from + ".." + to + ") "
                            + Arrays.toString(Arrays.copyOfRange(expected, from, to)) + "\n  actual   [" + from + ".."
                            + to + ") " + Arrays.toString(Arrays.copyOfRange(actual, from, to)));
                }
            }
        }
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    private static long[] reversed(long[] shape) {
        long[] r = new long[shape.length];
        for (int k = 0; k < shape.length; k++) {
            r[k] = shape[shape.length - 1 - k];
        }
        return r;
    }
}
