package io.github.arelu;

import static io.github.arelu.Tensors.assertClose;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.parameter;
import static io.github.arelu.Tensors.reference;
import static io.github.arelu.Tensors.value;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;

import io.github.arelu.internal.AReLUArguments;
import io.github.arelu.internal.ComposedAReLU;
import io.github.arelu.internal.FusedAReLU;
import io.github.arelu.internal.FusedKernels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The fused native kernels against the composed autograd path and the reference formula. */
class FusedAReLUTest {

    private PointerScope scope;

    @BeforeAll
    static void kernelsLoaded() {
        // On linux-x86_64 the jar carries the library: its absence is a build error, not a skip.
        assertTrue(FusedAReLU.isAvailable(), "native kernels did not load: " + FusedAReLU.unavailableReason());
    }

    @BeforeEach
    void openScope() {
        torch.manual_seed(1234);
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    /** Reference autograd: [y, grad x, grad alpha, grad beta] for the loss sum(f(x) * g). */
    private static double[][] referenceGradients(Tensor x, Tensor g, double alpha, double beta, ScalarType dtype) {
        Tensor xr = x.detach().clone().requires_grad_(true);
        Tensor a = parameter(alpha, dtype);
        Tensor b = parameter(beta, dtype);
        Tensor y = reference(xr, a, b);
        Tensors.backward(y, g);
        return new double[][] {values(y), values(xr.grad()), values(a.grad()), values(b.grad())};
    }

    private static double[][] fusedGradients(Tensor x, Tensor g, double alpha, double beta, ScalarType dtype) {
        Tensor a = parameter(alpha, dtype);
        Tensor b = parameter(beta, dtype);
        Tensor y = FusedAReLU.forward(x, a, b);
        FusedKernels.Gradients grads = FusedAReLU.backward(g, x, a, b);
        assertEquals(AReLUArguments.shapeOf(a), AReLUArguments.shapeOf(grads.alpha()));
        assertEquals(dtype, grads.beta().scalar_type().intern());
        return new double[][] {values(y), values(grads.input()), values(grads.alpha()), values(grads.beta())};
    }

    private static double absSum(Tensor g, Tensor x) {
        return value(g.to(ScalarType.Double).mul(x.to(ScalarType.Double)).abs().sum());
    }

    /**
     * The sizes that matter to the binding: empty (no data pointer), a few elements, and one above the kernels'
     * parallel threshold (libtorch's thread count passed through). The size sweep up to 10^7 elements, thread
     * counts and determinism are the native suite's (arelu_cpu_test: ScalarSizes, AreluCpuDeterminism).
     */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {0, 1, 7, 65_537})
    void float64MatchesReferenceThroughTheBinding(int n) {
        TensorOptions f64 = new TensorOptions(ScalarType.Double);
        Tensor x = torch.randn(new long[] {n}, f64);
        Tensor g = torch.randn(new long[] {n}, f64);
        double[][] expected = referenceGradients(x, g, 0.37, -0.8, ScalarType.Double);
        double[][] actual = fusedGradients(x, g, 0.37, -0.8, ScalarType.Double);
        assertClose(expected[0], actual[0], 1e-15, 0, "y");
        assertClose(expected[1], actual[1], 1e-15, 0, "grad x");
        // Sums are accumulated in another order: bound the difference by the sum of magnitudes.
        double scale = Math.max(absSum(g, x), 1e-300);
        assertEquals(expected[2][0], actual[2][0], 1e-13 * scale, "grad alpha");
        assertEquals(expected[3][0], actual[3][0], 1e-13 * scale, "grad beta");
    }

    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 17, 65_537})
    void float32ValuesMatchTheReferenceToTheBit(int n) {
        Tensor x = torch.randn(new long[] {n});
        Tensor g = torch.randn(new long[] {n});
        double[][] expected = referenceGradients(x, g, 0.9, 2.0, ScalarType.Float);
        double[][] actual = fusedGradients(x, g, 0.9, 2.0, ScalarType.Float);
        // The scales are libtorch's (clamp, 1 + its float sigmoid of one element), and y and the input gradient
        // are single products of them, as in the reference: the same floats, to the bit.
        assertArrayEquals(expected[0], actual[0], "y");
        assertArrayEquals(expected[1], actual[1], "grad x");
        double scale = absSum(g, x);
        // libtorch sums in float; the kernels in double: compare against float's own error bound.
        assertEquals(expected[2][0], actual[2][0], 1e-6 * scale + 1e-6, "grad alpha");
        assertEquals(expected[3][0], actual[3][0], 1e-6 * scale + 1e-6, "grad beta");
    }

    @ParameterizedTest(name = "alpha={0}")
    @ValueSource(doubles = {0.005, 0.01, 0.5, 0.99, 1.2})
    void edgePointsFollowTheReferenceIncludingNaNAndInfinity(double alpha) {
        double[] xs = {0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, Double.NaN, Double.POSITIVE_INFINITY,
            Double.NEGATIVE_INFINITY, 1.0, -1.0};
        double[] gs = {1.0, 1.0, 2.0, 2.0, 0.5, 0.5, 1.0, 1.0, 1.0, -3.0, -3.0};
        double[][] expected = referenceGradients(doubles(xs), doubles(gs), alpha, 2.0, ScalarType.Double);
        double[][] actual = fusedGradients(doubles(xs), doubles(gs), alpha, 2.0, ScalarType.Double);
        assertClose(expected[0], actual[0], 1e-15, 0, "y");
        assertClose(expected[1], actual[1], 1e-15, 0, "grad x");
        assertClose(expected[2], actual[2], 1e-15, 0, "grad alpha");
        assertClose(expected[3], actual[3], 1e-15, 0, "grad beta");
        assertEquals(0.0, actual[1][0]);
        assertEquals(0.0, actual[1][1]);
    }

    /** NaN and clamped parameters, each with the input it is tested on, for both dtypes and both layouts. */
    static Stream<Arguments> nanParameterCases() {
        double[][] scales = {{Double.NaN, 2.0}, {0.5, Double.NaN}, {Double.NaN, Double.NaN}, {1.2, -1.0}};
        Stream.Builder<Arguments> cases = Stream.builder();
        for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
            for (boolean channelwise : new boolean[] {false, true}) {
                for (double[] s : scales) {
                    cases.add(Arguments.of(s[0], s[1], dtype, channelwise));
                }
            }
        }
        return cases.build();
    }

    /**
     * The parameter-gradient finish of the library (clamp-range select, sigmoid'(beta), NaN rule) reached
     * through the binding, scalar and channel-wise, against libtorch's autograd of the reference: a NaN alpha
     * or one outside [0.01, 0.99] gets 0 even where its sum is NaN (a NaN input), a NaN beta gets NaN.
     */
    @ParameterizedTest(name = "alpha={0} beta={1} {2} channel-wise={3}")
    @MethodSource("nanParameterCases")
    void nanAndClampedParametersGetTheReferenceGradients(double alpha, double beta, ScalarType dtype,
            boolean channelwise) {
        // A NaN input (NaN sums on both sides) only with finite parameters, so each NaN has one cause.
        boolean nanInput = !Double.isNaN(alpha) && !Double.isNaN(beta);
        Tensor x = doubles(-2.0, nanInput ? Double.NaN : -0.5, 0.0, 1.5, 4.0, 3.0).to(dtype).reshape(1, 2, 3);
        Tensor g = doubles(1.0, -2.0, 3.0, 0.5, 1.0, -1.0).to(dtype).reshape(1, 2, 3);
        Tensor a = (channelwise ? doubles(alpha, 0.3) : doubles(alpha)).to(dtype);
        Tensor b = (channelwise ? doubles(beta, 0.7) : doubles(beta)).to(dtype);

        Tensor xr = x.clone().requires_grad_(true);
        Tensor ar = a.clone().requires_grad_(true);
        Tensor br = b.clone().requires_grad_(true);
        Tensor y = AReLUFunctional.areluComposed(xr, ar, br);
        Tensors.backward(y, g);

        FusedKernels.Gradients grads = FusedAReLU.backward(g, x, a, b);
        double tolerance = dtype == ScalarType.Float ? 1e-6 : 1e-15;
        assertClose(values(y), values(FusedAReLU.forward(x, a, b)), tolerance, 0, "y");
        assertClose(values(xr.grad()), values(grads.input()), tolerance, 0, "grad x");
        assertClose(values(ar.grad()), values(grads.alpha()), tolerance, 0, "grad alpha");
        assertClose(values(br.grad()), values(grads.beta()), tolerance, 0, "grad beta");
        boolean alphaPasses = alpha >= ComposedAReLU.ALPHA_MIN && alpha <= ComposedAReLU.ALPHA_MAX;
        assertEquals(alphaPasses, values(grads.alpha())[0] != 0.0,
                "only an alpha inside [0.01, 0.99] gets a gradient; a NaN or clamped one 0, NaN sum or not");
        assertEquals(Double.isNaN(beta) || nanInput, Double.isNaN(values(grads.beta())[0]),
                "grad beta is NaN for a NaN beta or a NaN sum");
    }

    @Test
    void channelwiseForwardAndBackwardMatchComposedAutograd() {
        TensorOptions f64 = new TensorOptions(ScalarType.Double);
        Tensor x = torch.randn(new long[] {4, 3, 9, 11}, f64);
        Tensor g = torch.randn(new long[] {4, 3, 9, 11}, f64);
        Tensor alpha = doubles(0.005, 0.5, 0.99).requires_grad_(true);
        Tensor beta = doubles(-2.0, 0.0, 1.5).requires_grad_(true);
        Tensor xr = x.clone().requires_grad_(true);
        Tensor y = AReLUFunctional.areluComposed(xr, alpha, beta);
        Tensors.backward(y, g);

        Tensor fused = FusedAReLU.forward(x, alpha, beta);
        FusedKernels.Gradients grads = FusedAReLU.backward(g, x, alpha, beta);
        assertClose(values(y), values(fused), 1e-15, 0, "y");
        assertClose(values(xr.grad()), values(grads.input()), 1e-15, 0, "grad x");
        assertClose(values(alpha.grad()), values(grads.alpha()), 1e-12, 1e-12, "grad alpha");
        assertClose(values(beta.grad()), values(grads.beta()), 1e-12, 1e-12, "grad beta");
        assertTrue(values(grads.alpha())[0] == 0.0, "alpha 0.005 is clamped");

        Tensor x32 = x.to(ScalarType.Float);
        Tensor y32 = FusedAReLU.forward(x32, alpha.to(ScalarType.Float), beta.to(ScalarType.Float));
        assertClose(values(y), values(y32), 1e-6, 1e-6, "channel-wise float32");
    }

    @Test
    void preallocatedInPlaceAndNonContiguousBuffers() {
        Tensor a = doubles(0.25);
        Tensor b = doubles(0.5);
        Tensor x = torch.randn(new long[] {6, 10}, new TensorOptions(ScalarType.Double));
        double[] expected = values(reference(x, a, b));

        Tensor out = torch.empty_like(x);
        assertSame(out, FusedAReLU.forward(x, a, b, out));
        assertArrayEquals(expected, values(out), 0.0);

        Tensor inPlace = x.clone();
        FusedAReLU.forward(inPlace, a, b, inPlace);
        assertArrayEquals(expected, values(inPlace), 0.0);

        Tensor transposed = x.t();
        assertClose(values(reference(transposed, a, b)), values(FusedAReLU.forward(transposed, a, b)), 0, 0,
                "non-contiguous input");

        Tensor g = torch.ones(new long[] {6, 10}, new TensorOptions(ScalarType.Double));
        FusedKernels.Gradients grads = FusedAReLU.backward(g, x, a, b, g);
        assertSame(g, grads.input(), "grad input written into the supplied buffer");

        IllegalArgumentException wrongShape = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.forward(x, a, b, torch.empty(new long[] {60}, new TensorOptions(ScalarType.Double),
                        new org.bytedeco.pytorch.MemoryFormatOptional())));
        assertTrue(wrongShape.getMessage().contains("[6, 10]") && wrongShape.getMessage().contains("[60]"),
                wrongShape.getMessage());
        // A dense input in another dimension order is written in its own layout: out must share its strides.
        Tensor transposedOut = torch.empty_like(x).t();
        assertSame(transposedOut, FusedAReLU.forward(transposed, a, b, transposedOut));
        assertClose(values(reference(transposed, a, b)), values(transposedOut), 0, 0, "into a transposed out");
        IllegalArgumentException strided = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.forward(transposed, a, b, torch.empty_like(transposed.contiguous())));
        assertTrue(strided.getMessage().contains("strides [1, 10]") && strided.getMessage().contains("[6, 1]"),
                strided.getMessage());
        // An input with gaps in memory is copied to a contiguous tensor first: out must be contiguous.
        Tensor gaps = x.slice(1, new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional(10), 2);
        IllegalArgumentException notContiguous = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.forward(gaps, a, b, torch.empty_like(x).t().slice(0,
                        new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional(10), 2).t()));
        assertTrue(notContiguous.getMessage().contains("contiguous"), notContiguous.getMessage());
        Tensor gapsOut = torch.empty_like(gaps.contiguous());
        assertSame(gapsOut, FusedAReLU.forward(gaps, a, b, gapsOut));
        assertClose(values(reference(gaps, a, b)), values(gapsOut), 0, 0, "input with gaps into a contiguous out");
    }

    @Test
    void unsupportedDtypesAreRejectedAndTheModuleFallsBack() {
        Tensor half = torch.randn(new long[] {8}).to(ScalarType.Half);
        Tensor a = doubles(0.9).to(ScalarType.Half);
        Tensor b = doubles(2.0).to(ScalarType.Half);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FusedAReLU.forward(half, a, b));
        assertTrue(e.getMessage().contains("Half"), e.getMessage());
        assertTrue(!FusedAReLU.supports(half));
        try (NoGradGuard guard = new NoGradGuard()) {
            assertEquals(ScalarType.Half, AReLUFunctional.arelu(half, a, b).scalar_type().intern(),
                    "the module runs half precision through the composed path");
        }
    }

    @Test
    void moduleUsesTheFusedKernelWhenNoGradientIsNeeded() {
        AReLU arelu = new AReLU(0.3, 1.0);
        Tensor x = torch.randn(new long[] {1000});
        Tensor fused = FusedAReLU.forward(x, arelu.alpha(), arelu.beta());
        try (NoGradGuard guard = new NoGradGuard()) {
            Tensor y = arelu.forward(x);
            assertTrue(fused.equal(y), "no-grad forward is the fused forward");
            assertTrue(!y.requires_grad());
        }
        Tensor y = arelu.forward(x);
        assertTrue(y.requires_grad(), "with parameters requiring grad, the autograd path runs");
        assertClose(values(fused), values(y), 4 * 0x1p-23, 1e-37, "both paths agree");
        y.sum().backward();
        assertTrue(Double.isFinite(value(arelu.beta().grad())));
        assertTrue(value(arelu.alpha().grad().abs()) > 0);
        assertEquals(ScalarType.Float, arelu.alpha().grad().scalar_type().intern());
    }
}
