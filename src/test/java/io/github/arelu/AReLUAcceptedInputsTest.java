package io.github.arelu;

import static io.github.arelu.Tensors.assertClose;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.reference;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.UnaryOperator;

import io.github.arelu.internal.FusedAReLU;
import io.github.arelu.internal.FusedKernels;
import io.github.arelu.internal.TensorInfo;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Inputs that libtorch accepts and that a kernel reading raw memory could get wrong, one class per test, on
 * every path ({@link AReLUPath}s and {@link FusedAReLU}'s explicit calls): lazily negated views, non-finite
 * upstream gradients, non-strided layouts, inference tensors, channels_last memory, signed zeros.
 */
class AReLUAcceptedInputsTest {

    private PointerScope scope;

    @BeforeEach
    void openScope() {
        torch.manual_seed(7);
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    /** The three ways a call can go, named for messages. */
    enum Path {
        FUSED_AUTOGRAD, FUSED_NO_GRAD, COMPOSED, EXPLICIT_FUSED
    }

    /** y of one path; FUSED_NO_GRAD under a NoGradGuard, EXPLICIT_FUSED through FusedAReLU.forward. */
    private static Tensor forward(Path path, Tensor x, Tensor alpha, Tensor beta) {
        return switch (path) {
            case FUSED_AUTOGRAD -> AReLUFunctional.arelu(x, alpha, beta);
            case FUSED_NO_GRAD -> {
                try (NoGradGuard guard = new NoGradGuard()) {
                    yield AReLUFunctional.arelu(x, alpha, beta);
                }
            }
            case COMPOSED -> AReLUFunctional.areluComposed(x, alpha, beta);
            case EXPLICIT_FUSED -> FusedAReLU.forward(x, alpha, beta);
        };
    }

    private static Tensor leaf(double... values) {
        return doubles(values).requires_grad_(true);
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void lazilyNegatedInputIsReadAsItsValues(Path path) {
        // imag(conj(z)) of z = 0 + 1.5i is -1.5, held as 1.5 in memory with the negative bit set.
        Tensor z = torch.view_as_complex(doubles(0.0, 1.5));
        Tensor x = torch.imag(z.conj());
        assertTrue(x.is_neg(), "the test needs a lazily negated view");
        Tensor alpha = doubles(0.3);
        Tensor beta = doubles(2.0);
        assertClose(new double[] {-0.45}, values(forward(path, x, alpha, beta)), 1e-15, 0, path + " y");

        Tensor base = leaf(1.0, -2.0, 0.0, 3.5, -0.25);
        Tensor baseRef = leaf(1.0, -2.0, 0.0, 3.5, -0.25);
        Tensor y = forward(path, base._neg_view(), alpha, beta);
        Tensor want = reference(baseRef._neg_view(), alpha, beta);
        assertClose(values(want), values(y), 1e-15, 0, path + " y of _neg_view()");
        if (path == Path.FUSED_AUTOGRAD || path == Path.COMPOSED) {
            Tensor w = doubles(0.5, -1.0, 2.0, 1.0, 3.0);
            Tensors.backward(y, w);
            Tensors.backward(want, w);
            assertClose(values(baseRef.grad()), values(base.grad()), 1e-15, 0, path + " grad of _neg_view()");
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void lazilyNegatedParametersAreReadAsTheirValues(Path path) {
        Tensor x = doubles(-1.0, 2.0, -3.0, 0.5);
        for (boolean channelwise : new boolean[] {false, true}) {
            Tensor input = channelwise ? x.reshape(1, 4) : x;
            // Stored as -0.4 and 1.0, logically 0.4 and -1.0: read raw, alpha would clamp to 0.01.
            Tensor alphaLeaf = (channelwise ? doubles(-0.4, -0.2, -0.6, -0.8) : doubles(-0.4)).requires_grad_(true);
            Tensor betaLeaf = (channelwise ? doubles(1.0, 0.5, -0.5, 2.0) : doubles(1.0)).requires_grad_(true);
            Tensor alphaRef = alphaLeaf.detach().clone().requires_grad_(true);
            Tensor betaRef = betaLeaf.detach().clone().requires_grad_(true);
            Tensor y = forward(path, input, alphaLeaf._neg_view(), betaLeaf._neg_view());
            Tensor want = reference(input, alphaRef._neg_view(), betaRef._neg_view());
            String what = path + (channelwise ? " channel-wise" : " scalar");
            assertClose(values(want), values(y), 1e-15, 0, what + " y");
            if (path == Path.FUSED_AUTOGRAD || path == Path.COMPOSED) {
                y.sum().backward();
                want.sum().backward();
                assertClose(values(alphaRef.grad()), values(alphaLeaf.grad()), 1e-14, 0, what + " grad alpha");
                assertClose(values(betaRef.grad()), values(betaLeaf.grad()), 1e-14, 0, what + " grad beta");
            }
        }
    }

    @Test
    void explicitFusedCallsRefuseLazyOutputBuffersAndReadLazyGradients() {
        Tensor x = doubles(-1.0, 2.0);
        Tensor alpha = doubles(0.3);
        Tensor beta = doubles(0.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.forward(x, alpha, beta, doubles(0.0, 0.0)._neg_view()));
        assertTrue(e.getMessage().contains("is_neg"), e.getMessage());
        // A negated upstream gradient: g = (-1, -3) held as (1, 3).
        FusedKernels.Gradients g = FusedAReLU.backward(doubles(1.0, 3.0)._neg_view(), x, alpha, beta);
        assertClose(new double[] {-0.3, -3.0 * 1.5}, values(g.input()), 1e-15, 0, "grad x");
        assertClose(new double[] {(-1.0) * (-1.0)}, values(g.alpha()), 1e-15, 0, "grad alpha");
        assertClose(new double[] {(-3.0) * 2.0 * 0.25}, values(g.beta()), 1e-15, 0, "grad beta");
    }

    /**
     * A caller's buffers for a lazily negated or efficient zero input that is not laid out as libtorch would lay
     * out its copy: the kernels make the input real in the layout {@code out} must have (contiguous for an input
     * with gaps, the input's strides for a dense one), not in channels_last (what {@code resolve_neg} picks for
     * these strides) or contiguous (what {@code zeros} gives for a transposed zero tensor).
     */
    @Test
    void explicitFusedCallsWithBuffersReadLazyInputsInTheBuffersLayout() {
        // [1, 2, 2, 4] in channels_last memory, every other element of the last dimension: strides [16, 1, 8, 4].
        Tensor base = torch.arange(new Scalar(1), new Scalar(17)).to(ScalarType.Double).reshape(1, 2, 2, 4)
                .contiguous(MemoryFormat.ChannelsLast);
        Tensor x = base.slice(3, new org.bytedeco.pytorch.LongOptional(0),
                new org.bytedeco.pytorch.LongOptional(4), 2)._neg_view();
        assertTrue(x.is_neg() && !x.is_non_overlapping_and_dense(), "the test needs a negated view with gaps");
        Tensor alpha = doubles(0.5);
        Tensor beta = doubles(0.0);
        Tensor out = torch.zeros(new long[] {1, 2, 2, 2}, new TensorOptions(ScalarType.Double));
        FusedAReLU.forward(x, alpha, beta, out);
        assertClose(values(reference(x, alpha, beta)), values(out), 1e-15, 0, "y into out");
        Tensor g = torch.arange(new Scalar(1), new Scalar(9)).to(ScalarType.Double).reshape(1, 2, 2, 2);
        Tensor gradIn = torch.zeros(new long[] {1, 2, 2, 2}, new TensorOptions(ScalarType.Double));
        FusedKernels.Gradients grads = FusedAReLU.backward(g, x, alpha, beta, gradIn);
        assertClose(values(g.mul(new Scalar(0.5))), values(gradIn), 1e-15, 0, "grad x into gradInputOut");
        assertClose(values(FusedAReLU.backward(g, x, alpha, beta).input()), values(gradIn), 0, 0,
                "grad x into gradInputOut against a new tensor");
        assertClose(new double[] {values(g.mul(x).sum())[0]}, values(grads.alpha()), 1e-15, 0, "grad alpha");

        // A transposed zero tensor, channel-wise with a NaN alpha: NaN marks where channel 1's elements land.
        Tensor zeros = torch.torch__efficientzerotensor(new long[] {2, 3}, new TensorOptions(ScalarType.Double)).t();
        assertTrue(zeros._is_zerotensor() && !zeros.is_contiguous(), "the test needs a transposed zero tensor");
        Tensor channelAlpha = doubles(0.5, Double.NaN);
        Tensor channelBeta = doubles(0.0, 0.0);
        Tensor zeroOut = torch.zeros(new long[] {2, 3}, new TensorOptions(ScalarType.Double)).t();
        FusedAReLU.forward(zeros, channelAlpha, channelBeta, zeroOut);
        assertClose(values(reference(torch.zeros(new long[] {3, 2}, new TensorOptions(ScalarType.Double)),
                channelAlpha, channelBeta)), values(zeroOut), 0, 0, "y of a transposed zero tensor into out");
    }

    /**
     * libtorch's other lazy flags: the conjugate bit exists only on complex tensors, which AReLU refuses by
     * dtype; an efficient zero tensor has no memory at all, and is read as the zeros it stands for.
     */
    @ParameterizedTest
    @EnumSource(Path.class)
    void conjugateViewsAreRefusedAndEfficientZeroTensorsReadAsZeros(Path path) {
        Tensor conj = torch.view_as_complex(doubles(1.0, 2.0, -3.0, 0.5).reshape(2, 2)).conj();
        assertTrue(conj.is_conj(), "the test needs a conjugate view");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> forward(path, conj, doubles(0.3), doubles(0.0)));
        assertTrue(e.getMessage().contains("Complex"), e.getMessage());

        Tensor zeros = torch.torch__efficientzerotensor(new long[] {4}, new TensorOptions(ScalarType.Double));
        assertTrue(zeros._is_zerotensor(), "the test needs an efficient zero tensor");
        Tensor alpha = doubles(0.3);
        Tensor beta = doubles(0.5);
        assertClose(values(reference(torch.zeros(4).to(ScalarType.Double), alpha, beta)),
                values(forward(path, zeros, alpha, beta)), 0, 0, path + " zero-tensor input");
        // alpha as a zero tensor is 0, clamped to 0.01.
        Tensor zeroAlpha = torch.torch__efficientzerotensor(new long[] {1}, new TensorOptions(ScalarType.Double));
        assertClose(new double[] {-0.02, 2.0 * 1.5}, values(forward(path, doubles(-2.0, 2.0), zeroAlpha,
                doubles(0.0))), 1e-15, 0, path + " zero-tensor alpha");
    }

    /**
     * One NaN or infinite upstream gradient at each position in turn: the reference multiplies it by relu(x)
     * and relu(-x), so the parameter gradient of the side whose factor is 0 becomes NaN (0 * Inf, 0 * NaN).
     */
    @ParameterizedTest
    @EnumSource(value = Path.class, names = {"FUSED_AUTOGRAD", "COMPOSED"})
    void nonFiniteUpstreamGradientsPropagateAsInTheReference(Path path) {
        double[] xs = {-1.5, 0.0, 2.0, -0.0, 0.75};
        for (double special : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            for (int at = 0; at < xs.length; at++) {
                for (ScalarType dtype : new ScalarType[] {ScalarType.Double, ScalarType.Float}) {
                    double[] ws = {1.0, -2.0, 0.5, 3.0, -1.0};
                    ws[at] = special;
                    String what = path + " " + dtype + " g=" + special + " at x=" + xs[at];
                    double[][] got = gradients(path, xs, ws, dtype);
                    double[][] want = gradients(null, xs, ws, dtype);
                    for (int k = 0; k < 3; k++) {
                        assertClose(want[k], got[k], 1e-6, 0, what + " gradient " + k);
                    }
                }
            }
        }
        // The case as first seen: g = NaN at x < 0 gives grad beta = NaN (it was 0.4576).
        double[][] got = gradients(path, new double[] {-1.0, 2.0}, new double[] {Double.NaN, 1.0}, ScalarType.Double);
        assertTrue(Double.isNaN(got[2][0]), "grad beta " + got[2][0]);
    }

    /** Gradients of x, alpha, beta for upstream gradient ws; path null is the reference formula. */
    private static double[][] gradients(Path path, double[] xs, double[] ws, ScalarType dtype) {
        Tensor x = doubles(xs).to(dtype).requires_grad_(true);
        Tensor alpha = doubles(0.3).to(dtype).requires_grad_(true);
        Tensor beta = doubles(0.5).to(dtype).requires_grad_(true);
        Tensor y = path == null ? reference(x, alpha, beta) : forward(path, x, alpha, beta);
        Tensors.backward(y, doubles(ws).to(dtype));
        return new double[][] {values(x.grad()), values(alpha.grad()), values(beta.grad())};
    }

    @Test
    void explicitFusedBackwardPropagatesNonFiniteGradients() {
        Tensor x = doubles(-1.0, 2.0, 0.0);
        FusedKernels.Gradients g = FusedAReLU.backward(doubles(1.0, 1.0, Double.POSITIVE_INFINITY), x, doubles(0.3),
                doubles(0.5));
        assertTrue(Double.isNaN(values(g.alpha())[0]) && Double.isNaN(values(g.beta())[0]),
                "Inf at x == 0 makes both sums NaN");
        assertEquals(0.0, values(g.input())[2], "the input gradient at 0 stays 0, as ReLU's backward selects");
    }

    /** Sparse and other non-strided inputs take the composed path, and get its answer or a named error. */
    @Test
    void nonStridedLayoutsTakeTheComposedPathOrANamedError() {
        Tensor noise = torch.randn(3, 4).mul(new Scalar(2.0));
        // Zero where |x| <= 0.5, so the sparse layouts have something to leave out.
        Tensor dense = noise.mul(noise.gt(new Scalar(0.5)).logical_or(noise.lt(new Scalar(-0.5))).to(ScalarType.Float));
        Tensor alpha = Tensors.parameter(0.3, ScalarType.Float);
        Tensor beta = Tensors.parameter(0.5, ScalarType.Float);
        double[] want = values(reference(dense, alpha, beta));
        List<UnaryOperator<Tensor>> layouts = List.of(Tensor::to_sparse, Tensor::to_sparse_csr, Tensor::to_mkldnn);
        int computed = 0;
        for (UnaryOperator<Tensor> layout : layouts) {
            Tensor x;
            try {
                x = layout.apply(dense);
            } catch (RuntimeException e) {
                continue; // this libtorch build lacks the layout (e.g. no MKL-DNN)
            }
            String name = TensorInfo.layoutName(x);
            assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(x, alpha, beta), name);
            assertFalse(FusedAReLU.supports(x), name);
            try {
                Tensor y = AReLUFunctional.arelu(x, alpha, beta);
                assertClose(want, values(y.to_dense()), 1e-6, 1e-7, name + " y");
                computed++;
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().contains(name) && e.getMessage().contains("to_dense()"), e.getMessage());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> FusedAReLU.forward(x, alpha, beta));
            assertTrue(e.getMessage().contains(name), e.getMessage());
        }
        assertTrue(computed >= 1, "sparse COO at least is computed by libtorch's operations");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(dense, alpha.detach().to_sparse(), beta));
        assertTrue(e.getMessage().contains("alpha") && e.getMessage().contains("Sparse"), e.getMessage());
    }

    /**
     * Nested inputs: one-element parameters that need no gradient apply (values of the padded reference);
     * channel-wise parameters and parameters to be trained are refused up front with a message naming nested
     * inputs, where libtorch would fail on dimension 1 or in backward.
     */
    @Test
    void nestedInputsApplyForInferenceAndAreRefusedByNameOtherwise() {
        Tensor nested = torch.nested_tensor(new org.bytedeco.pytorch.TensorVector(torch.randn(2, 3),
                torch.randn(4, 3)));
        Tensor alpha = torch.full(new long[] {1}, new Scalar(0.4), new org.bytedeco.pytorch.DimnameListOptional(),
                new TensorOptions(ScalarType.Float)).requires_grad_(true);
        Tensor beta = torch.full(new long[] {1}, new Scalar(0.5), new org.bytedeco.pytorch.DimnameListOptional(),
                new TensorOptions(ScalarType.Float)).requires_grad_(true);
        IllegalArgumentException train = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(nested, alpha, beta));
        assertTrue(train.getMessage().contains("nested") && train.getMessage().contains("to_padded_tensor"),
                train.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.pathFor(nested, alpha, beta));
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.arelu(nested, torch.rand(3), torch.rand(3)));
        assertTrue(channels.getMessage().contains("nested"), channels.getMessage());
        try (NoGradGuard guard = new NoGradGuard()) {
            Tensor padded = nested.to_padded_tensor(0.0);
            assertArrayEquals(values(reference(padded, alpha, beta)),
                    values(AReLUFunctional.arelu(nested, alpha, beta).to_padded_tensor(0.0)), 1e-6);
        }
    }

    /** A sparse gradient of the output is refused by the fused backward with a message naming its layout. */
    @Test
    void aSparseUpstreamGradientIsRefusedByName() {
        Tensor x = torch.randn(4, 3).requires_grad_(true);
        AReLU module = new AReLU();
        Tensor y = module.forward(x);
        Tensor sparse = torch.randn(4, 3).to_sparse();
        RuntimeException e = assertThrows(RuntimeException.class, () -> Tensors.backward(y, sparse));
        assertTrue(e.getMessage().contains("strided") && e.getMessage().contains("Sparse"), e.getMessage());
    }

    /** Buffers that partly overlap what the kernels read are refused; the whole input itself is in place. */
    @Test
    void partlyOverlappingBuffersAreRefused() {
        Tensor base = torch.randn(11);
        Tensor x = base.narrow(0, 0, 10);
        Tensor shifted = base.narrow(0, 1, 10);
        Tensor alpha = torch.full(new long[] {1}, new Scalar(0.5), new org.bytedeco.pytorch.DimnameListOptional(),
                new TensorOptions(ScalarType.Float));
        Tensor beta = torch.zeros(1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.forward(x, alpha, beta, shifted));
        assertTrue(e.getMessage().contains("partly overlaps the input"), e.getMessage());
        Tensor gBase = torch.randn(11);
        IllegalArgumentException backward = assertThrows(IllegalArgumentException.class,
                () -> FusedAReLU.backward(gBase.narrow(0, 0, 10), x.clone(), alpha, beta, gBase.narrow(0, 1, 10)));
        assertTrue(backward.getMessage().contains("gradInputOut partly overlaps gradOutput"), backward.getMessage());
        Tensor expected = reference(x, alpha, beta);
        Tensor inPlace = x.clone();
        FusedAReLU.forward(inPlace, alpha, beta, inPlace);
        assertArrayEquals(values(expected), values(inPlace), 1e-6);
    }

    /** An input made under InferenceMode, used outside it with parameters that require grad. */
    @ParameterizedTest
    @EnumSource(value = Path.class, names = {"FUSED_AUTOGRAD", "COMPOSED"})
    void inferenceTensorInputTrainsTheParameters(Path path) {
        Tensor x;
        try (InferenceMode guard = new InferenceMode()) {
            x = torch.randn(4, 3).mul(new Scalar(2.0));
        }
        assertTrue(x.is_inference());
        for (long channels : new long[] {1, 3}) {
            Tensor alpha = torch.full(new long[] {channels}, new Scalar(0.4), new org.bytedeco.pytorch.DimnameListOptional(),
                    new TensorOptions(ScalarType.Float)).requires_grad_(true);
            Tensor beta = torch.zeros(channels).requires_grad_(true);
            Tensor alphaRef = alpha.detach().clone().requires_grad_(true);
            Tensor betaRef = beta.detach().clone().requires_grad_(true);
            Tensor y = forward(path, x, alpha, beta);
            Tensor want = reference(x, alphaRef, betaRef);
            assertClose(values(want), values(y), 1e-6, 0, path + " y");
            y.sum().backward();
            want.sum().backward();
            assertClose(values(alphaRef.grad()), values(alpha.grad()), 1e-5, 1e-6, path + " grad alpha");
            assertClose(values(betaRef.grad()), values(beta.grad()), 1e-5, 1e-6, path + " grad beta");
        }
    }

    /** channels_last (and 3d) inputs give outputs and input gradients laid out the same way, on every path. */
    @ParameterizedTest
    @EnumSource(Path.class)
    void channelsLastStaysChannelsLast(Path path) {
        Object[][] cases = {{new long[] {2, 3, 4, 5}, MemoryFormat.ChannelsLast},
            {new long[] {2, 3, 2, 4, 5}, MemoryFormat.ChannelsLast3d}};
        for (Object[] c : cases) {
            long[] shape = (long[]) c[0];
            MemoryFormat format = (MemoryFormat) c[1];
            for (long channels : new long[] {1, 3}) {
                String what = path + " " + format + (channels > 1 ? " channel-wise" : " scalar");
                Tensor base = torch.randn(shape).mul(new Scalar(2.0)).contiguous(format);
                Tensor x = base.clone(new org.bytedeco.pytorch.MemoryFormatOptional(format)).requires_grad_(true);
                Tensor xRef = base.clone().requires_grad_(true);
                Tensor alpha = torch.rand(channels).requires_grad_(true);
                Tensor beta = torch.randn(channels).requires_grad_(true);
                Tensor y = forward(path, x, alpha, beta);
                assertTrue(y.is_contiguous(format), what + ": output is not " + format);
                Tensor want = reference(xRef, alpha.detach(), beta.detach());
                assertClose(values(want), values(y), 1e-6, 0, what + " y");
                Tensor w = torch.randn(shape);
                if (path == Path.FUSED_AUTOGRAD || path == Path.COMPOSED) {
                    Tensors.backward(y, w);
                    Tensors.backward(want, w);
                    assertClose(values(xRef.grad()), values(x.grad()), 1e-6, 0, what + " grad x");
                }
                if (path == Path.EXPLICIT_FUSED) {
                    FusedKernels.Gradients g = FusedAReLU.backward(w.contiguous(format), x.detach(), alpha.detach(),
                            beta.detach());
                    assertTrue(g.input().is_contiguous(format), what + ": input gradient is not " + format);
                    Tensor out = torch.empty_like(x.detach());
                    assertTrue(FusedAReLU.forward(x.detach(), alpha, beta, out).is_same(out));
                    assertClose(values(want), values(out), 1e-6, 0, what + " into out");
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> FusedAReLU.forward(x.detach(), alpha, beta, torch.empty(shape)));
                    assertTrue(e.getMessage().contains("strides"), e.getMessage());
                }
            }
        }
    }

    /** One tensor in several roles: alpha and beta the same tensor, and x itself as both parameters. */
    @ParameterizedTest
    @EnumSource(value = Path.class, names = {"FUSED_AUTOGRAD", "COMPOSED"})
    void oneTensorInSeveralRolesGetsTheSumOfItsGradients(Path path) {
        for (boolean xToo : new boolean[] {false, true}) {
            Tensor p = doubles(0.6).requires_grad_(true);
            Tensor pRef = doubles(0.6).requires_grad_(true);
            Tensor x = xToo ? p : doubles(-1.0, 2.0, -0.5).requires_grad_(true);
            Tensor xRef = xToo ? pRef : doubles(-1.0, 2.0, -0.5).requires_grad_(true);
            Tensor y = forward(path, x, p, p);
            Tensor want = reference(xRef, pRef, pRef);
            String what = path + (xToo ? " arelu(p, p, p)" : " arelu(x, p, p)");
            assertClose(values(want), values(y), 1e-15, 0, what + " y");
            y.sum().backward();
            want.sum().backward();
            assertClose(values(pRef.grad()), values(p.grad()), 1e-14, 0, what + " grad p");
        }
    }

    /** Meta tensors (shape inference without data) take the composed path and give the output's shape. */
    @Test
    void metaTensorsGiveTheOutputShape() {
        TensorOptions meta = new TensorOptions(ScalarType.Float).device(
                new org.bytedeco.pytorch.DeviceOptional(new org.bytedeco.pytorch.Device("meta")));
        Tensor x = torch.empty(new long[] {2, 3, 4}, meta, new org.bytedeco.pytorch.MemoryFormatOptional());
        Tensor alpha = torch.empty(new long[] {3}, meta, new org.bytedeco.pytorch.MemoryFormatOptional());
        Tensor beta = torch.empty(new long[] {3}, meta, new org.bytedeco.pytorch.MemoryFormatOptional());
        assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(x, alpha, beta));
        Tensor y = AReLUFunctional.arelu(x, alpha, beta);
        assertTrue(y.is_meta());
        assertEquals(List.of(2L, 3L, 4L), List.of(y.size(0), y.size(1), y.size(2)));
        // Backward too: gradients of the inputs' shapes, on meta.
        Tensor xg = x.detach().requires_grad_(true);
        Tensor ag = alpha.detach().requires_grad_(true);
        Tensor bg = beta.detach().requires_grad_(true);
        AReLUFunctional.arelu(xg, ag, bg).sum().backward();
        for (Tensor p : new Tensor[] {xg, ag, bg}) {
            assertTrue(p.grad().is_meta());
            assertEquals(io.github.arelu.internal.AReLUArguments.shapeOf(p),
                    io.github.arelu.internal.AReLUArguments.shapeOf(p.grad()));
        }
    }

    /** x * a underflowing to zero: the reference's 0 * b - (-x) * a is +0, never -0. */
    @ParameterizedTest
    @EnumSource(Path.class)
    void underflowingNegativeProductIsPlusZero(Path path) {
        Tensor x64 = doubles(-Double.MIN_VALUE, -Double.MIN_VALUE * 3, -0.0, 0.0);
        Tensor x32 = doubles(-Float.MIN_VALUE, -Float.MIN_VALUE * 3, -0.0, 0.0).to(ScalarType.Float);
        for (Tensor x : new Tensor[] {x64, x32}) {
            Tensor alpha = doubles(0.3).to(x.scalar_type());
            Tensor beta = doubles(0.0).to(x.scalar_type());
            double[] want = values(reference(x, alpha, beta));
            double[] got = values(forward(path, x, alpha, beta));
            for (int i = 0; i < want.length; i++) {
                assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]),
                        path + " " + x.scalar_type() + " element " + i + ": want " + want[i] + " got " + got[i]);
            }
            assertEquals(0L, Double.doubleToRawLongBits(got[0]), "+0 for the underflowing product");
        }
    }
}
