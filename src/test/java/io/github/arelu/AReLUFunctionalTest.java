package io.github.arelu;

import static io.github.arelu.Tensors.assertClose;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.parameter;
import static io.github.arelu.Tensors.reference;
import static io.github.arelu.Tensors.value;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

import io.github.arelu.internal.AReLUArguments;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Values and gradients of the functional form against the reference formula. */
class AReLUFunctionalTest {

    private PointerScope scope;

    @BeforeEach
    void openScope() {
        torch.manual_seed(42);
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    /** Grads of sum(f(x) * w) for x, alpha, beta, evaluated with the given implementation. */
    private static double[][] gradients(BiFunction<Tensor, Tensor[], Tensor> f, double[] xs, double[] ws,
            double alpha, double beta) {
        Tensor x = doubles(xs).requires_grad_(true);
        Tensor a = parameter(alpha, ScalarType.Double);
        Tensor b = parameter(beta, ScalarType.Double);
        Tensor y = f.apply(x, new Tensor[] {a, b});
        y.mul(doubles(ws)).sum().backward();
        return new double[][] {values(y), values(x.grad()), values(a.grad()), values(b.grad())};
    }

    private static final BiFunction<Tensor, Tensor[], Tensor> LIBRARY = (x, p) -> AReLUFunctional.arelu(x, p[0], p[1]);
    private static final BiFunction<Tensor, Tensor[], Tensor> REFERENCE = (x, p) -> reference(x, p[0], p[1]);

    @ParameterizedTest(name = "alpha={0} beta={1}")
    @CsvSource({"0.9, 2.0", "0.005, 2.0", "0.01, -1.0", "0.5, 0.0", "0.99, 3.5", "1.2, -4.0", "-0.3, 0.7"})
    void valuesAndGradientsMatchReferenceOnRandomFloat64(double alpha, double beta) {
        double[] xs = values(torch.randn(new long[] {257}, new TensorOptions(ScalarType.Double)).mul(new org.bytedeco.pytorch.Scalar(3.0)));
        double[] ws = values(torch.randn(new long[] {257}, new TensorOptions(ScalarType.Double)));
        double[][] expected = gradients(REFERENCE, xs, ws, alpha, beta);
        double[][] actual = gradients(LIBRARY, xs, ws, alpha, beta);
        assertClose(expected[0], actual[0], 1e-14, 0, "y");
        assertClose(expected[1], actual[1], 1e-14, 0, "grad x");
        assertClose(expected[2], actual[2], 1e-12, 1e-300, "grad alpha");
        assertClose(expected[3], actual[3], 1e-12, 1e-300, "grad beta");
        boolean clamped = alpha < 0.01 || alpha > 0.99;
        assertEquals(clamped, actual[2][0] == 0.0, "alpha gets a gradient exactly when it is inside [0.01, 0.99]");
    }

    @ParameterizedTest(name = "alpha={0}")
    @ValueSource(doubles = {0.005, 0.01, 0.9, 0.99, 1.2})
    void edgePointsMatchReferenceAndZeroHasZeroGradient(double alpha) {
        double[] xs = {0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, 1.0, -1.0, Double.MIN_VALUE, -Double.MIN_VALUE};
        double[] ws = {1.5, -2.0, 0.5, 0.25, 1e-3, -1e-3, 1.0, 1.0, 3.0, 3.0};
        double[][] expected = gradients(REFERENCE, xs, ws, alpha, 2.0);
        double[][] actual = gradients(LIBRARY, xs, ws, alpha, 2.0);
        assertClose(expected[0], actual[0], 1e-15, 0, "y");
        assertClose(expected[1], actual[1], 1e-15, 0, "grad x");
        assertClose(expected[2], actual[2], 1e-12, 1e-300, "grad alpha");
        assertClose(expected[3], actual[3], 1e-12, 1e-300, "grad beta");
        assertEquals(0.0, actual[1][0], "gradient at +0");
        assertEquals(0.0, actual[1][1], "gradient at -0");
    }

    @Test
    void nanAndInfinityPropagateAsInReference() {
        double[] xs = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 2.0, -2.0};
        Tensor a = parameter(0.9, ScalarType.Double);
        Tensor b = parameter(2.0, ScalarType.Double);
        double[] expected = values(reference(doubles(xs), a, b));
        assertTrue(Double.isNaN(expected[0]) && expected[1] == Double.POSITIVE_INFINITY
                && expected[2] == Double.NEGATIVE_INFINITY, "reference itself propagates NaN and infinities");
        assertClose(expected, values(AReLUFunctional.arelu(doubles(xs), a, b)), 1e-15, 0, "composed");
        try (NoGradGuard guard = new NoGradGuard()) {
            assertClose(expected, values(AReLUFunctional.arelu(doubles(xs), a, b)), 1e-15, 0, "no-grad");
        }
        // A NaN input poisons both parameter gradients, in the reference and here.
        double[] ws = {1, 1, 1, 1, 1};
        double[][] ours = gradients(LIBRARY, xs, ws, 0.9, 2.0);
        double[][] ref = gradients(REFERENCE, xs, ws, 0.9, 2.0);
        assertTrue(Double.isNaN(ref[2][0]) && Double.isNaN(ours[2][0]), "grad alpha is NaN");
        assertTrue(Double.isNaN(ref[3][0]) && Double.isNaN(ours[3][0]), "grad beta is NaN");
        assertClose(new double[] {ref[1][1], ref[1][2], ref[1][3], ref[1][4]},
                new double[] {ours[1][1], ours[1][2], ours[1][3], ours[1][4]}, 1e-15, 0, "grad x at +-Inf, +-2");
    }

    @Test
    void centralFiniteDifferencesAgreeWithAutogradInFloat64() {
        double[] xs = {-2.5, -1.0, -0.3, 0.2, 0.7, 1.9, -0.15, 3.0};
        double[] ws = {0.3, -1.2, 0.8, 1.1, -0.4, 0.9, 2.0, -0.7};
        double alpha = 0.4;
        double beta = 0.3;
        double[][] analytic = gradients(LIBRARY, xs, ws, alpha, beta);
        double h = 1e-6;
        for (int i = 0; i < xs.length; i++) {
            double[] plus = xs.clone();
            double[] minus = xs.clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (loss(plus, ws, alpha, beta) - loss(minus, ws, alpha, beta)) / (2 * h);
            assertEquals(numeric, analytic[1][i], 1e-8, "d loss / d x[" + i + "]");
        }
        double dAlpha = (loss(xs, ws, alpha + h, beta) - loss(xs, ws, alpha - h, beta)) / (2 * h);
        double dBeta = (loss(xs, ws, alpha, beta + h) - loss(xs, ws, alpha, beta - h)) / (2 * h);
        assertEquals(dAlpha, analytic[2][0], 1e-8, "d loss / d alpha");
        assertEquals(dBeta, analytic[3][0], 1e-8, "d loss / d beta");
        assertNotEquals(0.0, analytic[2][0]);
        assertNotEquals(0.0, analytic[3][0]);
    }

    private static double loss(double[] xs, double[] ws, double alpha, double beta) {
        try (NoGradGuard guard = new NoGradGuard()) {
            Tensor y = AReLUFunctional.areluComposed(doubles(xs), doubles(alpha), doubles(beta));
            return value(y.mul(doubles(ws)).sum());
        }
    }

    @Test
    void zeroDimensionalEmptyAndNonContiguousInputs() {
        Tensor a = parameter(0.3, ScalarType.Double);
        Tensor b = parameter(-0.5, ScalarType.Double);

        Tensor scalar = Tensor.create(-4.0).reshape();
        Tensor y0 = AReLUFunctional.arelu(scalar, a, b);
        assertEquals(0, y0.dim(), "0-dim input gives 0-dim output");
        assertEquals(-1.2, value(y0), 1e-15);

        Tensor empty = torch.zeros(new long[] {0, 3}, new TensorOptions(ScalarType.Double));
        Tensor yEmpty = AReLUFunctional.arelu(empty, a, b);
        assertEquals("[0, 3]", AReLUArguments.shapeOf(yEmpty));

        Tensor base = torch.randn(new long[] {5, 7}, new TensorOptions(ScalarType.Double));
        Tensor transposed = base.t();
        assertTrue(!transposed.is_contiguous());
        Tensor y = AReLUFunctional.arelu(transposed, a, b);
        assertEquals("[7, 5]", AReLUArguments.shapeOf(y));
        assertClose(values(reference(transposed, a, b)), values(y), 1e-15, 0, "transposed");
        try (NoGradGuard guard = new NoGradGuard()) {
            assertClose(values(reference(transposed, a, b)), values(AReLUFunctional.arelu(transposed, a, b)),
                    1e-15, 0, "transposed, no grad");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = ScalarType.class, names = {"Float", "BFloat16", "Half"})
    void float32FollowsFloat64AndHalfTypesRunWhereLibtorchAllows(ScalarType dtype) {
        Tensor x64 = torch.randn(new long[] {1000}, new TensorOptions(ScalarType.Double));
        double[] expected = values(reference(x64, doubles(0.9), doubles(2.0)));
        Tensor x = x64.to(dtype);
        Tensor a = parameter(0.9, dtype);
        Tensor b = parameter(2.0, dtype);
        Tensor y = AReLUFunctional.arelu(x, a, b);
        assertEquals(dtype, y.scalar_type().intern());
        double tol = dtype == ScalarType.Float ? 1e-6 : dtype == ScalarType.Half ? 2e-3 : 1.6e-2;
        // The input itself was rounded to dtype, so compare with the reference on the rounded input.
        assertClose(values(reference(x.to(ScalarType.Double), doubles(0.9), doubles(2.0))), values(y), tol,
                1e-6, "arelu in " + dtype);
        assertClose(expected, values(y), 4 * tol, 1e-2, "arelu in " + dtype + " vs float64");
        y.sum().backward();
        assertTrue(Double.isFinite(value(b.grad())), "beta gradient in " + dtype);
    }

    @Test
    void integerBoolAndMismatchedArgumentsAreRejectedWithClearMessages() {
        Tensor a = doubles(0.9);
        Tensor b = doubles(2.0);
        IllegalArgumentException ints = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(Tensor.create(1, 2, 3), a.to(ScalarType.Int), b.to(ScalarType.Int)));
        assertTrue(ints.getMessage().contains("floating-point") && ints.getMessage().contains("Int"), ints.getMessage());
        IllegalArgumentException bools = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(Tensor.create(true, false), a, b));
        assertTrue(bools.getMessage().contains("Bool"), bools.getMessage());
        // Floating point, but without libtorch's operations of the reference: refused by name, by pathFor too.
        for (ScalarType eight : new ScalarType[] {ScalarType.Float8_e5m2, ScalarType.Float8_e4m3fn}) {
            Tensor x8 = doubles(1, -2).to(eight);
            Tensor a8 = a.to(eight);
            Tensor b8 = b.to(eight);
            for (var call : List.<org.junit.jupiter.api.function.Executable>of(() -> AReLUFunctional.arelu(x8, a8, b8),
                    () -> AReLUFunctional.pathFor(x8, a8, b8))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
                assertTrue(e.getMessage().contains(eight.toString()) && e.getMessage().contains("BFloat16"),
                        e.getMessage());
            }
        }

        IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(doubles(1, 2).to(ScalarType.Float), a, b));
        assertTrue(dtype.getMessage().contains("alpha") && dtype.getMessage().contains("Double")
                && dtype.getMessage().contains("Float"), dtype.getMessage());

        Tensor metaAlpha = a.to(new Device("meta"), ScalarType.Double);
        IllegalArgumentException device = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(doubles(1, 2), metaAlpha, b));
        assertTrue(device.getMessage().contains("meta") && device.getMessage().contains("cpu"), device.getMessage());

        Tensor three = doubles(0.5, 0.5, 0.5);
        Tensor x = torch.zeros(new long[] {2, 4, 5}, new TensorOptions(ScalarType.Double));
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(x, three, three));
        assertTrue(channels.getMessage().contains("3 channels") && channels.getMessage().contains("[2, 4, 5]"),
                channels.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.arelu(doubles(1, 2, 3), three, three),
                "channel-wise parameters need a channel dimension");
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.arelu(x, three, doubles(1, 2)));
        // Two channels, the fewest of the channel-wise form, are checked as any other count: unchecked, the fused
        // kernels would read [2, 4, 5] as 4 rows of 2 channels of 5 elements and answer without a word.
        Tensor two = doubles(0.5, 0.5);
        IllegalArgumentException twoChannels = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(x, two, two));
        assertTrue(twoChannels.getMessage().contains("2 channels") && twoChannels.getMessage().contains("[2, 4, 5]"),
                twoChannels.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.pathFor(x, two, two));
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.arelu(doubles(1, 2, 3, 4), two, two),
                "two channel-wise parameters need a channel dimension");
    }

    /**
     * Channel-wise parameters must lie along dimension 1. Six elements as [2, 3] against channels of 6, or [1, 1, 3]
     * (which the reference broadcasts along the last dimension) against channels of 3, were read along dimension 1,
     * silently unlike the reference; [C], [C, 1, ...] and [1, C, 1, ...] aligned with dimension 1 are taken.
     */
    @Test
    void channelwiseParametersOfOtherShapesAreRefusedByName() {
        TensorOptions options = new TensorOptions(ScalarType.Double);
        Tensor x = torch.randn(new long[] {2, 3, 4, 5}, options);
        Tensor y = AReLUFunctional.arelu(x, doubles(0.2, 0.6, 0.9), doubles(1.0, 2.0, 3.0));
        for (long[] shape : new long[][] {{3, 1, 1}, {1, 3, 1, 1}}) {
            Tensor a = doubles(0.2, 0.6, 0.9).reshape(shape);
            Tensor b = doubles(1.0, 2.0, 3.0).reshape(shape);
            assertArrayEquals(values(y), values(AReLUFunctional.arelu(x, a, b)), "shape " + Arrays.toString(shape));
        }
        Tensor six = torch.full(new long[] {2, 3}, new Scalar(0.5), options);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(torch.randn(new long[] {4, 6, 5}, options), six, six));
        assertTrue(e.getMessage().contains("alpha has shape [2, 3]") && e.getMessage().contains("[6]"), e.getMessage());
        Tensor lastDimension = doubles(0.2, 0.6, 0.9).reshape(1, 1, 3);
        e = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(torch.randn(new long[] {2, 3, 3}, options), lastDimension, lastDimension));
        assertTrue(e.getMessage().contains("[1, 1, 3]") && e.getMessage().contains("dimension 1"), e.getMessage());
        Tensor trailing = doubles(0.2, 0.6, 0.9).reshape(3, 1);
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.arelu(x, trailing, trailing),
                "[3, 1] broadcasts along dimension 2 of a 4-dimensional input");
    }

    @Test
    void channelwiseBroadcastsOverBatchChannelsAndSpace() {
        Tensor x = torch.randn(new long[] {2, 3, 4, 5}, new TensorOptions(ScalarType.Double)).requires_grad_(true);
        Tensor xr = x.detach().clone().requires_grad_(true);
        Tensor alpha = doubles(0.2, 0.6, 1.5).requires_grad_(true);
        Tensor beta = doubles(-1.0, 0.0, 2.0).requires_grad_(true);
        Tensor alphaR = alpha.detach().clone().requires_grad_(true);
        Tensor betaR = beta.detach().clone().requires_grad_(true);
        Tensor w = torch.randn(new long[] {2, 3, 4, 5}, new TensorOptions(ScalarType.Double));

        Tensor y = AReLUFunctional.arelu(x, alpha, beta);
        Tensor yr = reference(xr, alphaR, betaR);
        assertClose(values(yr), values(y), 1e-14, 0, "channel-wise values");
        y.mul(w).sum().backward();
        yr.mul(w).sum().backward();
        assertClose(values(xr.grad()), values(x.grad()), 1e-14, 0, "grad x");
        assertClose(values(alphaR.grad()), values(alpha.grad()), 1e-12, 1e-300, "grad alpha");
        assertClose(values(betaR.grad()), values(beta.grad()), 1e-12, 1e-300, "grad beta");
        assertEquals(0.0, values(alpha.grad())[2], "channel 2's alpha (1.5) is clamped: no gradient");
        try (NoGradGuard guard = new NoGradGuard()) {
            assertClose(values(yr), values(AReLUFunctional.arelu(x, alpha, beta)), 1e-14, 0, "channel-wise no-grad");
        }
        assertArrayEquals(new double[] {0.2, 0.6, 1.5}, values(alpha), "parameters are not modified");
    }
}
