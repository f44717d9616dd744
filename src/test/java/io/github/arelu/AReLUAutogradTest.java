package io.github.arelu;

import static io.github.arelu.Tensors.assertClose;
import static io.github.arelu.Tensors.backward;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.parameter;
import static io.github.arelu.Tensors.reference;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.arelu.autograd.JavaFunction;
import io.github.arelu.internal.AReLUArguments;
import io.github.arelu.internal.FusedAReLUFunction;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * AReLU's fused training path (one fused kernel pass each way, recorded as one autograd node) has the
 * autograd semantics of a built-in operation: every case is checked in float64 against the composed path,
 * the reference formula in libtorch operations.
 */
class AReLUAutogradTest {

    private PointerScope scope;

    @BeforeEach
    void openScope() {
        torch.manual_seed(2024);
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    private static Tensor randomDoubles(long... shape) {
        return torch.randn(shape, new TensorOptions(ScalarType.Double)).mul(new Scalar(2.0));
    }

    @Test
    void thePathIsVisibleAndTheFusedNodeIsAReLUs() {
        Tensor x = randomDoubles(4, 5).requires_grad_(true);
        Tensor a = parameter(0.9, ScalarType.Double);
        Tensor b = parameter(2.0, ScalarType.Double);
        assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(x, a, b));
        Tensor y = AReLUFunctional.arelu(x, a, b);
        assertInstanceOf(FusedAReLUFunction.class, JavaFunction.functionOf(y));
        assertEquals("AReLU", JavaFunction.functionOf(y).name());
        try (NoGradGuard noGrad = new NoGradGuard()) {
            assertEquals(AReLUPath.FUSED_NO_GRAD, AReLUFunctional.pathFor(x, a, b));
            assertFalse(AReLUFunctional.arelu(x, a, b).requires_grad());
        }
        Tensor plain = randomDoubles(3);
        assertEquals(AReLUPath.FUSED_NO_GRAD, AReLUFunctional.pathFor(plain, doubles(0.9), doubles(2.0)));
        for (ScalarType half : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
            Tensor h = x.detach().to(half).requires_grad_(true);
            assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(h, a.to(half), b.to(half)));
            assertNull(JavaFunction.functionOf(AReLUFunctional.arelu(h, a.detach().to(half), b.detach().to(half))));
        }
        assertNull(JavaFunction.functionOf(AReLUFunctional.areluComposed(x, a, b)));
    }

    /** [y, grad of each of root, x, alpha, beta] for loss = sum(f(x) * w); undefined gradients as null. */
    private static double[][] run(boolean fused, boolean[] requires, boolean leafX, Tensor xs, Tensor w,
            double alpha, double beta) {
        Tensor root = xs.clone().requires_grad_(requires[0]);
        Tensor x = leafX ? root : root.mul(new Scalar(0.75));
        if (!leafX && requires[0]) {
            x.retain_grad();
        }
        Tensor a = doubles(alpha).requires_grad_(requires[1]);
        Tensor b = doubles(beta).requires_grad_(requires[2]);
        Tensor y = fused ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
        if (y.requires_grad()) {
            backward(y.mul(w).sum(), false);
        }
        return new double[][] {values(y), grad(root), grad(x), grad(a), grad(b)};
    }

    private static double[] grad(Tensor t) {
        Tensor g = t.grad();
        return g.defined() ? values(g) : null;
    }

    @Test
    void everyCombinationOfInputsRequiringGradLeafAndNonLeafMatchesTheComposedPath() {
        Tensor xs = randomDoubles(6, 7);
        Tensor w = randomDoubles(6, 7);
        for (int mask = 0; mask < 8; mask++) {
            for (boolean leafX : new boolean[] {true, false}) {
                boolean[] requires = {(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0};
                double[][] fused = run(true, requires, leafX, xs, w, 0.4, -0.7);
                double[][] composed = run(false, requires, leafX, xs, w, 0.4, -0.7);
                String what = "mask " + mask + (leafX ? " leaf" : " non-leaf");
                assertClose(composed[0], fused[0], 0, 0, what + " y");
                for (int i = 1; i < 5; i++) {
                    assertEquals(composed[i] == null, fused[i] == null, what + " gradient " + i + " defined");
                    if (composed[i] != null) {
                        // x's gradient is one product per element either way; parameter gradients are sums.
                        double tolerance = i <= 2 ? 0 : 1e-13;
                        assertClose(composed[i], fused[i], tolerance, 1e-300, what + " gradient " + i);
                    }
                }
            }
        }
    }

    @Test
    void autogradGradForTheParametersOnlySkipsTheInputGradient() {
        Tensor x = randomDoubles(50).requires_grad_(true);
        Tensor a = parameter(0.3, ScalarType.Double);
        Tensor b = parameter(1.0, ScalarType.Double);
        Tensor loss = AReLUFunctional.arelu(x, a, b).pow(new Scalar(2.0)).sum();
        TensorVector grads = torch.grad(new TensorVector(loss), new TensorVector(a, b), new TensorVector(),
                new BoolOptional(false), false, false);
        Tensor xr = x.detach().clone().requires_grad_(true);
        Tensor ar = parameter(0.3, ScalarType.Double);
        Tensor br = parameter(1.0, ScalarType.Double);
        reference(xr, ar, br).pow(new Scalar(2.0)).sum().backward();
        assertClose(values(ar.grad()), values(grads.get(0)), 1e-13, 0, "grad alpha");
        assertClose(values(br.grad()), values(grads.get(1)), 1e-13, 0, "grad beta");
        assertFalse(x.grad().defined(), "x was not asked for");
    }

    @Test
    void retainGraphSecondBackwardAccumulatesAndAThirdFailsLikeLibtorch() {
        for (boolean fused : new boolean[] {true, false}) {
            Tensor x = randomDoubles(10).requires_grad_(true);
            Tensor a = parameter(0.5, ScalarType.Double);
            Tensor b = parameter(0.0, ScalarType.Double);
            Tensor y = fused ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
            Tensor loss = y.sum();
            backward(loss, true);
            double[] once = values(x.grad());
            double alphaOnce = values(a.grad())[0];
            backward(loss, false);
            double[] twice = values(x.grad());
            for (int i = 0; i < once.length; i++) {
                assertEquals(2 * once[i], twice[i], "accumulated gradient " + i);
            }
            assertEquals(2 * alphaOnce, values(a.grad())[0], 1e-15);
            RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
            assertTrue(e.getMessage().contains("backward through the graph a second time"),
                    (fused ? "fused: " : "composed: ") + e.getMessage());
            assertArrayEquals(twice, values(x.grad()), "the failed backward left the gradients alone");
        }
    }

    /**
     * The fused node saves x (its backward needs the signs and g * x): modifying x in place after forward
     * fails like a built-in operation whose saved tensor changed. The reference formula saves only relu's
     * outputs, so there the same program is correct and gets the gradient of the values x had.
     */
    @Test
    void anInputModifiedInPlaceAfterForwardIsAnErrorNotAWrongGradient() {
        double[][] composedGradient = new double[1][];
        for (boolean fused : new boolean[] {true, false}) {
            Tensor leaf = randomDoubles(8).requires_grad_(true);
            Tensor x = leaf.mul(new Scalar(1.0));
            Tensor a = parameter(0.5, ScalarType.Double);
            Tensor b = parameter(0.0, ScalarType.Double);
            Tensor y = fused ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
            x.mul_(new Scalar(-1.0));
            if (fused) {
                RuntimeException e = assertThrows(RuntimeException.class, () -> backward(y.sum(), false));
                assertTrue(e.getMessage().contains("modified by an inplace operation"), e.getMessage());
                assertFalse(a.grad().defined(), "no gradient from a failed backward");
            } else {
                backward(y.sum(), false);
                composedGradient[0] = values(leaf.grad());
                Tensor fresh = leaf.detach().clone().requires_grad_(true);
                AReLUFunctional.areluComposed(fresh, a.detach(), b.detach()).sum().backward();
                assertArrayEquals(values(fresh.grad()), composedGradient[0]);
            }
        }
    }

    /** Hooks libtorch owns call Java through a weak reference: kept reachable here. */
    private static final java.util.List<Object> HOOKS = new java.util.ArrayList<>();

    /** x [1, 3], alpha 0.3 and beta 0.7, all requiring grad, and y through the fused node or the reference formula. */
    private static Graph xAlphaBetaY(boolean fused) {
        Tensor x = doubles(-1.5, 0.5, 2.0).reshape(1, 3).requires_grad_(true);
        Tensor a = parameter(0.3, ScalarType.Double);
        Tensor b = parameter(0.7, ScalarType.Double);
        return new Graph(x, a, b, fused ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b));
    }

    /** An input, the parameters and AReLU's output of them. */
    private record Graph(Tensor x, Tensor a, Tensor b, Tensor y) {
    }

    /** The gradients scaled by {@code scale}; undefined ones stay as they are. */
    private static TensorVector scaled(TensorVector gradients, double scale) {
        TensorVector out = new TensorVector();
        for (long i = 0; i < gradients.size(); i++) {
            Tensor g = gradients.get(i);
            out.push_back(g.defined() ? g.mul(new Scalar(scale)) : g);
        }
        return out;
    }

    /**
     * A pre-hook added to the output's node ({@code y.grad_fn().add_pre_hook}) that triples the gradient. With our
     * own virtual table, it does, as on the reference's node. Where nodes run on hooks, libtorch runs it after the
     * node's own pre-hook, on the undefined gradient that one hands the carrier, and ignores what it returns: the
     * gradients came back untripled, with no error. There it must be refused.
     */
    @Test
    void aPreHookOnTheOutputsNodeChangesTheGradientsOrIsRefused() {
        // The build's second test run asks for hooks; PerCallResidueTest checks that nodes have them exactly then.
        boolean hooks = "hooks".equals(System.getProperty("io.github.arelu.autograd.node"));
        double[][] got = new double[2][];
        for (int k = 0; k < 2; k++) {
            boolean fused = k == 0;
            Graph graph = xAlphaBetaY(fused);
            Tensor y = graph.y();
            org.bytedeco.pytorch.FunctionPreHook triple = new org.bytedeco.pytorch.FunctionPreHook() {
                @Override
                public TensorVector apply(TensorVector gradients) {
                    return scaled(gradients, 3.0);
                }
            };
            HOOKS.add(triple);
            y.grad_fn().add_pre_hook(triple);
            if (fused && hooks) {
                RuntimeException e = assertThrows(RuntimeException.class, () -> backward(y.sum(), false));
                assertTrue(e.getMessage().contains("add_tensor_pre_hook"), e.getMessage());
                return;
            }
            backward(y.sum(), false);
            got[k] = concat(values(graph.x().grad()), values(graph.a().grad()), values(graph.b().grad()));
        }
        assertClose(got[1], got[0], 1e-14, 1e-15, "gradients through a pre-hook on the output's node");
    }

    /**
     * A post-hook added to the output's node ({@code y.grad_fn().add_post_hook}) is handed the node's input
     * gradients and the outputs' gradients, and may change the former. Where nodes run on hooks, libtorch hands it
     * the node's inputs as the pre-hooks left them: the undefined gradient the node's own pre-hook gives the
     * carrier. A hook that scales the gradients by the upstream gradient's sum (an undefined gradient is zero)
     * zeroed every gradient, with no error, where the reference gives x [0.3, 3.336, -3.336], alpha -1.5 and
     * beta -0.665 (also with -Dio.github.arelu.autograd.perCallHooks=true).
     */
    @Test
    void aPostHookOnTheOutputsNodeSeesTheOutputsGradient() {
        double[][] seen = new double[2][];
        double[][] got = new double[2][];
        for (int k = 0; k < 2; k++) {
            int slot = k;
            Graph graph = xAlphaBetaY(k == 0);
            Tensor y = graph.y();
            org.bytedeco.pytorch.FunctionPostHook scaleByUpstream = new org.bytedeco.pytorch.FunctionPostHook() {
                @Override
                public TensorVector apply(TensorVector gradInputs, TensorVector gradOutputs) {
                    Tensor g = gradOutputs.size() > 0 ? gradOutputs.get(0) : new Tensor();
                    seen[slot] = g.defined() ? values(g) : new double[0];
                    return scaled(gradInputs, g.defined() ? g.sum().item_double() : 0.0);
                }
            };
            HOOKS.add(scaleByUpstream);
            y.grad_fn().add_post_hook(scaleByUpstream);
            backward(y.mul(doubles(1.0, 2.0, -2.0).reshape(1, 3)).sum(), false);
            got[k] = concat(values(graph.x().grad()), values(graph.a().grad()), values(graph.b().grad()));
        }
        assertArrayEquals(seen[1], seen[0], "the outputs' gradient a post-hook on the output's node is handed");
        assertClose(got[1], got[0], 1e-14, 1e-15, "gradients through a post-hook on the output's node");
    }

    /**
     * {@code set_data} (PyTorch's {@code x.data = ...}) replaces a tensor's data and shape without a version bump.
     * Done to a saved input after forward, libtorch's own nodes then fail on the mismatched shape (a {@code mul}
     * that saved x: "The size of tensor a (64) must match the size of tensor b (65)"). The fused backward read the
     * new x by its own size, past the end of the output's gradient: alpha's gradient came back 4.1e167, -3.3e130 or
     * -4039, beta's -1.18e70 or 1018, from run to run and mode to mode, with no error.
     */
    @Test
    void aSavedInputWhoseDataWasReplacedIsAnErrorNotAReadPastTheGradient() {
        TensorOptions float64 = new TensorOptions(ScalarType.Double);
        Tensor[] replacements = {
            torch.ones(new long[] {64, 65}, float64), // more elements than the gradient: read past its end
            torch.ones(new long[] {4096}, float64), // as many, another shape: libtorch's mul refuses it too
            torch.ones(new long[] {64, 64}, new TensorOptions(ScalarType.Float))}; // another dtype
        for (Tensor replacement : replacements) {
            for (boolean createGraph : new boolean[] {false, true}) {
                Tensor x = randomDoubles(64, 64);
                Tensor a = parameter(0.3, ScalarType.Double);
                Tensor b = parameter(0.2, ScalarType.Double);
                Tensor y = AReLUFunctional.arelu(x, a, b);
                x.set_data(replacement);
                RuntimeException e = assertThrows(RuntimeException.class, () -> torch.grad(new TensorVector(y.sum()),
                        new TensorVector(a, b), new TensorVector(), new BoolOptional(true), createGraph, false),
                        () -> "x replaced by " + replacement + ", create_graph " + createGraph);
                assertTrue(e.getMessage().contains("set_data"), e.getMessage());
            }
        }
    }

    /**
     * One-element parameters replaced by {@code set_data} with one per channel after forward: refused with and without
     * create_graph (the C++ op wrote channel-wise sums into one-element tensors there; here the fused backward uses
     * forward's values, and the reference formula under create_graph would broadcast the new ones).
     */
    @Test
    void aSavedParameterWhoseDataWasReplacedIsAnError() {
        for (boolean createGraph : new boolean[] {false, true}) {
            Tensor x = randomDoubles(8, 64);
            Tensor a = parameter(0.3, ScalarType.Double);
            Tensor b = parameter(0.2, ScalarType.Double);
            Tensor y = AReLUFunctional.arelu(x, a, b);
            TensorOptions float64 = new TensorOptions(ScalarType.Double);
            a.set_data(torch.full(new long[] {64}, new Scalar(0.3), new org.bytedeco.pytorch.DimnameListOptional(),
                    float64));
            assertThrows(RuntimeException.class, () -> torch.grad(new TensorVector(y.sum()), new TensorVector(a, b),
                    new TensorVector(), new BoolOptional(true), createGraph, false), () -> "create_graph " + createGraph);
        }
    }

    /**
     * Channel-wise parameters replaced by {@code set_data} with another channel count after forward: the fused
     * backward, which reads forward's copies, gave alpha a gradient of 3 values on an alpha of 4, for an optimizer to
     * trip over (or broadcast); the reference's backward refuses it, and so does the fused one now.
     */
    @Test
    void aChannelwiseParameterReplacedByAnotherChannelCountIsAnErrorInBackward() {
        for (int replaced = 0; replaced < 2; replaced++) {
            Tensor x = randomDoubles(8, 3);
            Tensor[] p = {torch.full(new long[] {3}, new Scalar(0.3), new org.bytedeco.pytorch.DimnameListOptional(),
                    new TensorOptions(ScalarType.Double)).requires_grad_(true),
                torch.full(new long[] {3}, new Scalar(0.2), new org.bytedeco.pytorch.DimnameListOptional(),
                    new TensorOptions(ScalarType.Double)).requires_grad_(true)};
            Tensor y = AReLUFunctional.arelu(x, p[0], p[1]);
            p[replaced].set_data(torch.full(new long[] {4}, new Scalar(0.5), new org.bytedeco.pytorch.DimnameListOptional(),
                    new TensorOptions(ScalarType.Double)));
            String name = replaced == 0 ? "alpha" : "beta";
            RuntimeException e = assertThrows(RuntimeException.class, () -> backward(y.sum(), false));
            assertTrue(e.getMessage().contains("its saved " + name + " is now") && e.getMessage().contains("set_data"),
                    e.getMessage());
        }
        // A frozen parameter replaced so takes no gradient: no error, as in the reference, and x's gradient is
        // forward's (the kernels read forward's copies; the reference's graph keeps forward's scales).
        double[][] grads = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor x = doubles(-1.5, 0.5, 2.0, -0.25, 1.0, -3.0).reshape(2, 3).requires_grad_(true);
            Tensor alpha = doubles(0.3, 0.6, 0.2);
            Tensor beta = doubles(0.2, -0.4, 1.0).requires_grad_(true);
            Tensor y = k == 0 ? AReLUFunctional.arelu(x, alpha, beta) : AReLUFunctional.areluComposed(x, alpha, beta);
            alpha.set_data(torch.full(new long[] {4}, new Scalar(0.5), new org.bytedeco.pytorch.DimnameListOptional(),
                    new TensorOptions(ScalarType.Double)));
            backward(y.sum(), false);
            grads[k] = concat(values(x.grad()), values(beta.grad()));
        }
        assertClose(grads[1], grads[0], 1e-14, 1e-15, "gradients with a frozen alpha replaced after forward");
    }

    /**
     * An input that is the result of an operation, detached in place ({@code detach_()}) after forward, has lost
     * the graph it was computed from. libtorch's own nodes refuse to use such a saved tensor; the fused node did
     * not, and under create_graph its parameter gradients then lost their derivatives through x: d(dL/dbeta)/dw
     * came back undefined (zero) where the reference gives [0, 0.44, 0.44].
     */
    @Test
    void anInputDetachedInPlaceAfterForwardIsAnErrorNotAMissingSecondDerivative() {
        Tensor w = doubles(-1.5, 0.5, 2.0).reshape(1, 3).requires_grad_(true);
        Tensor a = parameter(0.3, ScalarType.Double);
        Tensor b = parameter(0.7, ScalarType.Double);
        Tensor x = w.mul(new Scalar(2.0));
        Tensor y = AReLUFunctional.arelu(x, a, b);
        x.detach_();
        RuntimeException e = assertThrows(RuntimeException.class, () -> {
            TensorVector g = torch.grad(new TensorVector(y.sum()), new TensorVector(b), new TensorVector(),
                    new BoolOptional(true), true, false);
            torch.grad(new TensorVector(g.get(0).sum()), new TensorVector(w), new TensorVector(),
                    new BoolOptional(true), false, true);
        });
        assertTrue(e.getMessage().contains("detached in-place"), e.getMessage());
        // Without create_graph, backward reads only x's values: the gradients are the reference's, which never
        // refuses (its nodes save relu's results, not x).
        double[][] got = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor w2 = doubles(-1.5, 0.5, 2.0).reshape(1, 3).requires_grad_(true);
            Tensor a2 = parameter(0.3, ScalarType.Double);
            Tensor b2 = parameter(0.7, ScalarType.Double);
            Tensor x2 = w2.mul(new Scalar(2.0));
            Tensor y2 = k == 0 ? AReLUFunctional.arelu(x2, a2, b2) : AReLUFunctional.areluComposed(x2, a2, b2);
            x2.detach_();
            backward(y2.sum(), false);
            got[k] = concat(values(w2.grad()), values(a2.grad()), values(b2.grad()));
        }
        assertClose(got[1], got[0], 1e-14, 1e-15, "gradients after x.detach_() without create_graph");
    }

    /**
     * libtorch's optimizers write a parameter through its data, which leaves its version as it was. Fed to AReLU
     * itself (or through a view, or detached), a parameter stepped between forward and backward must leave
     * backward's values as they were at forward, as in the reference, which saved {@code relu(x)} and
     * {@code relu(-x)}: the fused backward reads x, so it keeps a copy of a leaf's.
     */
    @Test
    void anInputSteppedByAnOptimizerBetweenForwardAndBackwardLeavesTheGradientsOfForwardsValues() {
        for (String input : new String[] {"leaf", "view", "detached"}) {
            for (boolean channelwise : new boolean[] {false, true}) {
                for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
                    String what = input + (channelwise ? " channel-wise " : " scalar ") + dtype;
                    double[][] got = new double[2][];
                    for (int k = 0; k < 2; k++) {
                        torch.manual_seed(5);
                        TensorOptions options = new TensorOptions(dtype);
                        Tensor p = torch.randn(new long[] {4, 3, 5}, options).requires_grad_(true);
                        Tensor w = torch.randn(new long[] {4, 3, 5}, options);
                        long c = channelwise ? 3 : 1;
                        Tensor a = torch.full(new long[] {c}, new Scalar(0.5), options).requires_grad_(true);
                        Tensor b = torch.full(new long[] {c}, new Scalar(1.0), options).requires_grad_(true);
                        Tensor x = switch (input) {
                            case "leaf" -> p;
                            case "view" -> p.narrow(2, 1, 3);
                            default -> p.detach();
                        };
                        Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
                        Tensor loss = y.mul(w.narrow(2, 0, x.size(2))).sum();
                        p.mutable_grad().put(torch.ones_like(p));
                        new SGD(new TensorVector(p), new SGDOptions(1.0)).step();
                        p.mutable_grad().reset();
                        backward(loss, false);
                        got[k] = concat(values(a.grad()), values(b.grad()),
                                input.equals("detached") ? new double[0] : values(p.grad()));
                    }
                    double tolerance = dtype == ScalarType.Float ? 1e-5 : 1e-12;
                    assertClose(got[1], got[0], tolerance, tolerance, what);
                }
            }
        }
    }

    /** The same under {@code create_graph}, with alpha and beta stepped: second derivatives at forward's values. */
    @Test
    void createGraphAfterAStepOfTheParametersDifferentiatesAtForwardsValues() {
        for (boolean channelwise : new boolean[] {false, true}) {
            double[][] results = new double[2][];
            for (int k = 0; k < 2; k++) {
                torch.manual_seed(6);
                Tensor x = randomDoubles(5, 3).requires_grad_(true);
                Tensor w = randomDoubles(5, 3);
                long c = channelwise ? 3 : 1;
                TensorOptions options = new TensorOptions(ScalarType.Double);
                Tensor a = torch.full(new long[] {c}, new Scalar(0.5), options).requires_grad_(true);
                Tensor b = torch.full(new long[] {c}, new Scalar(1.0), options).requires_grad_(true);
                Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
                Tensor loss = y.mul(y).mul(w).sum();
                a.mutable_grad().put(torch.ones_like(a));
                b.mutable_grad().put(torch.ones_like(b));
                new SGD(new TensorVector(a, b), new SGDOptions(0.1)).step();
                a.mutable_grad().reset();
                b.mutable_grad().reset();
                TensorVector first = torch.grad(new TensorVector(loss), new TensorVector(x, a, b), new TensorVector(),
                        new BoolOptional(true), true, false);
                Tensor penalty = first.get(0).pow(new Scalar(2.0)).sum().add(first.get(1).sum())
                        .add(first.get(2).mul(first.get(2)).sum());
                TensorVector second = torch.grad(new TensorVector(penalty), new TensorVector(x, a, b),
                        new TensorVector(), new BoolOptional(false), false, false);
                results[k] = concat(values(first.get(0)), values(first.get(1)), values(first.get(2)),
                        values(second.get(0)), values(second.get(1)), values(second.get(2)));
            }
            assertClose(results[1], results[0], 1e-12, 1e-300, (channelwise ? "channel-wise" : "scalar")
                    + " first and second-order gradients");
        }
    }

    /**
     * Under {@code create_graph} a leaf input is compared with forward's copy: unchanged NaN and infinite elements
     * (NaN never equals itself) keep their gradients, and only the elements a step moved are taken at forward's
     * values.
     */
    @Test
    void createGraphKeepsTheGradientOfUnchangedNonFiniteInputs() {
        for (boolean stepped : new boolean[] {false, true}) {
            double[][] results = new double[2][];
            for (int k = 0; k < 2; k++) {
                Tensor x = doubles(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1.5, -2.0, -0.0,
                        0.25).requires_grad_(true);
                Tensor a = parameter(0.5, ScalarType.Double);
                Tensor b = parameter(1.0, ScalarType.Double);
                Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
                Tensor loss = y.mul(y).sum();
                if (stepped) {
                    // Moves the finite elements only (the step of a NaN or infinite element is itself).
                    x.mutable_grad().put(doubles(0, 0, 0, 1, 1, 1, 1));
                    new SGD(new TensorVector(x), new SGDOptions(0.5)).step();
                    x.mutable_grad().reset();
                }
                TensorVector first = torch.grad(new TensorVector(loss), new TensorVector(x), new TensorVector(),
                        new BoolOptional(true), true, false);
                results[k] = values(first.get(0));
            }
            assertClose(results[1], results[0], 1e-12, 1e-300, (stepped ? "stepped" : "unchanged")
                    + " input with NaN and infinities");
        }
    }

    /**
     * A NaN in x or in a parameter made the unchanged input look stepped (NaN never equals itself), and the
     * gradients under {@code create_graph} came back +0 where the reference gives -0 (found by a differential
     * fuzz). Compared bit for bit, signs of zeros included.
     */
    @Test
    void createGraphKeepsSignedZerosWithNaNsInTheInputs() {
        for (boolean channelwise : new boolean[] {false, true}) {
            double[][] results = new double[2][];
            for (int k = 0; k < 2; k++) {
                Tensor x = (channelwise ? doubles(1, 1, 2, -2).reshape(1, 2, 2) : doubles(1, Double.NaN, -2, 0))
                        .requires_grad_(true);
                Tensor a = channelwise ? doubles(0.5, Double.NaN).requires_grad_(true) : parameter(0.5, ScalarType.Double);
                Tensor b = channelwise ? doubles(100, 0.5).requires_grad_(true) : parameter(0.5, ScalarType.Double);
                Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
                Tensor g = torch.full_like(y, new Scalar(-0.0));
                TensorVector grads = torch.grad(new TensorVector(y), new TensorVector(x, a, b), new TensorVector(g),
                        new BoolOptional(true), true, false);
                results[k] = concat(values(grads.get(0)), values(grads.get(1)), values(grads.get(2)));
            }
            for (int i = 0; i < results[0].length; i++) {
                assertEquals(0, Double.compare(results[1][i], results[0][i]), (channelwise ? "channel-wise" : "scalar")
                        + " gradient " + i + ": fused " + results[0][i] + ", reference " + results[1][i]);
            }
        }
    }

    @Test
    void createGraphGivesTheComposedPathsSecondOrderGradients() {
        Tensor xs = randomDoubles(5, 6);
        Tensor w = randomDoubles(5, 6);
        double[][] results = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor x = xs.clone().requires_grad_(true);
            Tensor a = parameter(0.3, ScalarType.Double);
            Tensor b = parameter(0.8, ScalarType.Double);
            Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
            // y * y makes the loss's second derivatives non-trivial in x, alpha and beta.
            Tensor loss = y.mul(y).mul(w).sum();
            TensorVector first = torch.grad(new TensorVector(loss), new TensorVector(x, a, b), new TensorVector(),
                    new BoolOptional(true), true, false);
            Tensor penalty = first.get(0).pow(new Scalar(2.0)).sum().add(first.get(1).sum())
                    .add(first.get(2).mul(first.get(2)).sum());
            TensorVector second = torch.grad(new TensorVector(penalty), new TensorVector(x, a, b), new TensorVector(),
                    new BoolOptional(false), false, false);
            results[k] = concat(values(second.get(0)), values(second.get(1)), values(second.get(2)));
        }
        assertClose(results[1], results[0], 1e-12, 1e-300, "second-order gradients");
    }

    /**
     * Under {@code create_graph} the fused backward differentiates the reference formula with libtorch's grad,
     * which sums every path to what it is asked about: where the parameters also lie upstream of x (the same
     * AReLU twice in a row, x computed from alpha or beta, alpha computed from x), the path through x was counted
     * there and again by the engine, and one tensor given in two places got both places' gradients twice. First
     * and second derivatives with respect to every leaf, scalar and channel-wise, against the composed path.
     */
    @Test
    void createGraphWithTheParametersUpstreamOfTheInputMatchesTheComposedPath() {
        Tensor zs = randomDoubles(4, 3);
        Tensor w = randomDoubles(4, 3);
        String[] wirings = {"the same AReLU twice", "x = alpha * z", "x = z + beta", "alpha = a * (1 + mean(x) / 10)",
            "beta = alpha (one tensor in two places)"};
        for (boolean channelwise : new boolean[] {false, true}) {
            for (String wiring : wirings) {
                double[][] results = new double[2][];
                for (int k = 0; k < 2; k++) {
                    boolean fused = k == 0;
                    Tensor z = zs.clone().requires_grad_(true);
                    Tensor a = channelwise ? doubles(0.3, 0.6, 0.95).requires_grad_(true) : parameter(0.3, ScalarType.Double);
                    Tensor b = channelwise ? doubles(0.8, -0.5, 2.0).requires_grad_(true) : parameter(0.8, ScalarType.Double);
                    Tensor y = switch (wiring) {
                        case "the same AReLU twice" -> activate(activate(z, a, b, fused), a, b, fused);
                        case "x = alpha * z" -> activate(z.mul(a), a, b, fused);
                        case "x = z + beta" -> activate(z.add(b), a, b, fused);
                        case "beta = alpha (one tensor in two places)" -> activate(z.mul(b), a, a, fused);
                        default -> activate(z, a.mul(z.mean().div(new Scalar(10.0)).add(new Scalar(1.0))), b, fused);
                    };
                    Tensor loss = y.mul(y).mul(w).sum();
                    TensorVector first = torch.grad(new TensorVector(loss), new TensorVector(z, a, b),
                            new TensorVector(), new BoolOptional(true), true, false);
                    Tensor penalty = first.get(0).pow(new Scalar(2.0)).sum().add(first.get(1).pow(new Scalar(2.0)).sum())
                            .add(first.get(2).mul(first.get(2)).sum());
                    TensorVector second = torch.grad(new TensorVector(penalty), new TensorVector(z, a, b),
                            new TensorVector(), new BoolOptional(false), false, true);
                    results[k] = concat(values(first.get(0)), values(first.get(1)), values(first.get(2)),
                            values(second.get(0)), values(second.get(1)), values(second.get(2)));
                }
                assertClose(results[1], results[0], 1e-12, 1e-300,
                        (channelwise ? "channel-wise, " : "scalar, ") + wiring + ": first and second derivatives");
            }
        }
    }

    private static Tensor activate(Tensor x, Tensor a, Tensor b, boolean fused) {
        return fused ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
    }

    /**
     * MAML's outer gradient differentiates through an inner SGD step: w' = w - lr * dL_train(w)/dw, then
     * d L_test(w') / dw. With AReLU between two linear maps the inner gradient passes through AReLU's
     * backward, so the outer one needs its second derivatives.
     */
    @Test
    void mamlOuterGradientThroughAnInnerUpdateMatchesTheComposedPath() {
        Tensor trainX = randomDoubles(16, 4);
        Tensor trainY = randomDoubles(16, 1);
        Tensor testX = randomDoubles(16, 4);
        Tensor testY = randomDoubles(16, 1);
        Tensor w1Init = randomDoubles(4, 8).mul(new Scalar(0.5));
        Tensor w2Init = randomDoubles(8, 1).mul(new Scalar(0.5));
        double[][] results = new double[2][];
        for (int k = 0; k < 2; k++) {
            boolean fused = k == 0;
            Tensor w1 = w1Init.clone().requires_grad_(true);
            Tensor w2 = w2Init.clone().requires_grad_(true);
            Tensor a = parameter(0.2, ScalarType.Double);
            Tensor b = parameter(0.5, ScalarType.Double);
            Tensor trainLoss = mse(net(trainX, w1, w2, a, b, fused), trainY);
            TensorVector g = torch.grad(new TensorVector(trainLoss), new TensorVector(w1, w2, a, b), new TensorVector(),
                    new BoolOptional(true), true, false);
            Scalar lr = new Scalar(0.1);
            Tensor w1Adapted = w1.sub(g.get(0).mul(lr));
            Tensor w2Adapted = w2.sub(g.get(1).mul(lr));
            Tensor aAdapted = a.sub(g.get(2).mul(lr));
            Tensor bAdapted = b.sub(g.get(3).mul(lr));
            Tensor testLoss = mse(net(testX, w1Adapted, w2Adapted, aAdapted, bAdapted, fused), testY);
            testLoss.backward();
            results[k] = concat(values(w1.grad()), values(w2.grad()), values(a.grad()), values(b.grad()));
        }
        assertClose(results[1], results[0], 1e-12, 1e-300, "MAML outer gradients");
    }

    private static Tensor net(Tensor x, Tensor w1, Tensor w2, Tensor a, Tensor b, boolean fused) {
        Tensor h = x.matmul(w1);
        Tensor activated = fused ? AReLUFunctional.arelu(h, a, b) : AReLUFunctional.areluComposed(h, a, b);
        return activated.matmul(w2);
    }

    private static Tensor mse(Tensor prediction, Tensor target) {
        return prediction.sub(target).pow(new Scalar(2.0)).mean();
    }

    @Test
    void channelwiseParametersMatchTheComposedPath() {
        Tensor xs = randomDoubles(3, 4, 5);
        Tensor w = randomDoubles(3, 4, 5);
        double[] alphas = {0.005, 0.3, 0.99, 1.5};
        double[] betas = {-1, 0, 2, 0.5};
        double[][] results = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor x = xs.clone().requires_grad_(true);
            Tensor a = doubles(alphas).requires_grad_(true);
            Tensor b = doubles(betas).requires_grad_(true);
            Tensor y = k == 0 ? AReLUFunctional.arelu(x, a, b) : AReLUFunctional.areluComposed(x, a, b);
            assertEquals(k == 0, JavaFunction.functionOf(y) != null);
            backward(y.mul(w).sum(), false);
            results[k] = concat(values(y), values(x.grad()), values(a.grad()), values(b.grad()));
        }
        assertClose(results[1], results[0], 1e-13, 1e-300, "channel-wise values and gradients");
    }

    @Test
    void emptyZeroDimensionalAndNonContiguousInputs() {
        Tensor a = parameter(0.6, ScalarType.Double);
        Tensor b = parameter(-0.4, ScalarType.Double);
        Tensor empty = torch.empty(new long[] {0, 3}, new TensorOptions(ScalarType.Double), new org.bytedeco.pytorch.MemoryFormatOptional()).requires_grad_(true);
        Tensor yEmpty = AReLUFunctional.arelu(empty, a, b);
        assertEquals("[0, 3]", AReLUArguments.shapeOf(yEmpty));
        backward(yEmpty.sum(), false);
        assertEquals("[0, 3]", AReLUArguments.shapeOf(empty.grad()));
        assertArrayEquals(new double[] {0}, values(a.grad()));
        assertArrayEquals(new double[] {0}, values(b.grad()));
        // Channel-wise, on the fused path too: zero rows of three channels, zero gradients per channel.
        for (long[] shape : new long[][] {{0, 3}, {2, 3, 0}}) {
            Tensor alphas = doubles(0.6, 1.2, 0.3).requires_grad_(true);
            Tensor betas = doubles(-0.4, 0.0, 2.0).requires_grad_(true);
            Tensor none = torch.empty(shape, new TensorOptions(ScalarType.Double),
                    new org.bytedeco.pytorch.MemoryFormatOptional()).requires_grad_(true);
            assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(none, alphas, betas));
            backward(AReLUFunctional.arelu(none, alphas, betas).sum(), false);
            assertArrayEquals(new double[] {0, 0, 0}, values(alphas.grad()), AReLUArguments.shapeOf(none));
            assertArrayEquals(new double[] {0, 0, 0}, values(betas.grad()), AReLUArguments.shapeOf(none));
        }

        for (boolean fused : new boolean[] {true, false}) {
            Tensor scalar = doubles(-1.5).reshape().requires_grad_(true);
            Tensor ap = parameter(0.6, ScalarType.Double);
            Tensor bp = parameter(-0.4, ScalarType.Double);
            Tensor y = fused ? AReLUFunctional.arelu(scalar, ap, bp) : AReLUFunctional.areluComposed(scalar, ap, bp);
            assertEquals(0, y.dim());
            backward(y, false);
            assertArrayEquals(new double[] {0.6}, values(scalar.grad()), 1e-15);
            assertArrayEquals(new double[] {-1.5}, values(ap.grad()), 1e-15);
        }

        Tensor base = randomDoubles(7, 5);
        Tensor w = randomDoubles(5, 7);
        double[][] results = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor leaf = base.clone().requires_grad_(true);
            Tensor transposed = leaf.t();
            assertFalse(transposed.is_contiguous());
            Tensor ap = parameter(0.6, ScalarType.Double);
            Tensor bp = parameter(-0.4, ScalarType.Double);
            Tensor y = k == 0 ? AReLUFunctional.arelu(transposed, ap, bp)
                    : AReLUFunctional.areluComposed(transposed, ap, bp);
            // A non-contiguous upstream gradient too (w's transpose).
            backward(y.mul(w.t().contiguous().t()).sum(), false);
            results[k] = concat(values(y), values(leaf.grad()), values(ap.grad()), values(bp.grad()));
        }
        assertClose(results[1], results[0], 1e-13, 1e-300, "non-contiguous");
    }

    /**
     * One rule for NaN and infinity on every path, the reference formula's: a NaN scale makes every output
     * NaN (0 * NaN), infinite inputs stay infinite, NaN inputs stay NaN.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = ScalarType.class, names = {"Double", "Float"})
    void nanAndInfinityFollowTheReferenceOnEveryPath(ScalarType dtype) {
        double[][] cases = {{Double.NaN, 2.0}, {0.5, Double.NaN}, {Double.NaN, Double.NaN}};
        for (double[] scales : cases) {
            Tensor x = doubles(0, 1, -1, -0.0, Double.POSITIVE_INFINITY).to(dtype);
            Tensor a = doubles(scales[0]).to(dtype);
            Tensor b = doubles(scales[1]).to(dtype);
            double[] expected = values(reference(x, a, b));
            for (double v : expected) {
                assertTrue(Double.isNaN(v), "the reference is all NaN for a NaN scale");
            }
            assertEveryPathGives(expected, x, a, b, dtype + " alpha=" + scales[0] + " beta=" + scales[1]);
        }
        Tensor x = doubles(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0, 3).to(dtype);
        Tensor a = doubles(0.2).to(dtype);
        Tensor b = doubles(1.0).to(dtype);
        assertEveryPathGives(values(reference(x, a, b)), x, a, b, dtype + " non-finite inputs");
    }

    private static void assertEveryPathGives(double[] expected, Tensor x, Tensor a, Tensor b, String what) {
        assertClose(expected, values(AReLUFunctional.areluComposed(x, a, b)), 0, 0, what + ", composed");
        try (NoGradGuard noGrad = new NoGradGuard()) {
            assertEquals(AReLUPath.FUSED_NO_GRAD, AReLUFunctional.pathFor(x, a, b));
            assertClose(expected, values(AReLUFunctional.arelu(x, a, b)), 0, 0, what + ", fused without grad");
        }
        Tensor xg = x.clone().requires_grad_(true);
        assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(xg, a, b));
        assertClose(expected, values(AReLUFunctional.arelu(xg, a, b)), 0, 0, what + ", fused with autograd");
    }

    private static double[] concat(double[]... parts) {
        int n = 0;
        for (double[] p : parts) {
            n += p.length;
        }
        double[] r = new double[n];
        int at = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, r, at, p.length);
            at += p.length;
        }
        return r;
    }
}
