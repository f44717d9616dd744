package io.github.arelu.autograd;

import static io.github.arelu.Tensors.backward;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.github.arelu.internal.Scopes;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The facility on a function that knows nothing of AReLU: {@code (x, w, c) -> (x * w + c, x * x)} with
 * {@code w} and {@code c} of one element, checked in float64 against libtorch's autograd of the same
 * operations (values and gradients equal to the last bit: the same operations in the same order).
 */
class JavaFunctionTest {

    /** out0 = x * w + c, out1 = x * x; backward written with differentiable ops, so double backward works. */
    static class AffineAndSquare extends JavaFunction {
        final AtomicInteger backwardCalls = new AtomicInteger();
        final List<Boolean> gradModeInBackward = new ArrayList<>();

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0], in[1]);
            return new Tensor[] {in[0].mul(in[1]).add(in[2]), in[0].mul(in[0])};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            backwardCalls.incrementAndGet();
            gradModeInBackward.add(GradMode.is_enabled());
            Tensor[] saved = ctx.savedTensors();
            Tensor x = saved[0];
            Tensor w = saved[1];
            return new Tensor[] {
                ctx.needsInputGrad(0) ? g[0].mul(w).add(g[1].mul(x).mul(new Scalar(2.0))) : null,
                ctx.needsInputGrad(1) ? g[0].mul(x).sum().reshape(1) : null,
                ctx.needsInputGrad(2) ? g[0].sum().reshape(1) : null};
        }
    }

    static Tensor[] reference(Tensor x, Tensor w, Tensor c) {
        return new Tensor[] {x.mul(w).add(c), x.mul(x)};
    }

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

    /** loss = sum(out0 * g0) + sum(out1 * g1), so each output gets a non-trivial gradient. */
    static Tensor loss(Tensor[] outs, Tensor g0, Tensor g1) {
        return outs[0].mul(g0).sum().add(outs[1].mul(g1).sum());
    }

    @Test
    void gradientsMatchLibtorchForEveryCombinationOfInputsRequiringGrad() {
        Tensor g0 = torch.randn(5).to(ScalarType.Double);
        Tensor g1 = torch.randn(5).to(ScalarType.Double);
        for (int mask = 0; mask < 8; mask++) {
            for (boolean leafX : new boolean[] {true, false}) {
                boolean[] requires = {(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0};
                Tensor[] ours = inputs(requires, leafX);
                Tensor[] theirs = inputs(requires, leafX);
                Tensor[] out = new AffineAndSquare().apply(ours[1], ours[2], ours[3]);
                Tensor[] ref = reference(theirs[1], theirs[2], theirs[3]);
                assertArrayEquals(values(ref[0]), values(out[0]));
                assertArrayEquals(values(ref[1]), values(out[1]));
                boolean anyGrad = requires[0] || requires[1] || requires[2];
                assertEquals(anyGrad, out[0].requires_grad(), "mask " + mask);
                if (!anyGrad) {
                    assertNull(JavaFunction.functionOf(out[0]));
                    continue;
                }
                assertTrue(JavaFunction.functionOf(out[0]) instanceof AffineAndSquare);
                // Named as PyTorch names a custom function's node; with hooks, the carrier's name.
                assertEquals(CarrierTable.available() ? "AffineAndSquareBackward" : "CatBackward0",
                        out[0].grad_fn().name().getString());
                backward(loss(out, g0, g1), false);
                backward(loss(ref, g0, g1), false);
                for (int i = 0; i < 4; i++) {
                    Tensor a = ours[i].grad();
                    Tensor b = theirs[i].grad();
                    assertEquals(b.defined(), a.defined(), "mask " + mask + " leafX " + leafX + " input " + i);
                    if (b.defined()) {
                        assertArrayEquals(values(b), values(a), "mask " + mask + " leafX " + leafX + " input " + i);
                    }
                }
            }
        }
    }

    /** [root of x (or x itself), x, w, c]; a non-leaf x is root * 1.5 of a leaf root. */
    private static Tensor[] inputs(boolean[] requires, boolean leafX) {
        Tensor root = doubles(-2, -0.5, 0, 0.75, 3).requires_grad_(requires[0]);
        Tensor x = leafX ? root : root.mul(new Scalar(1.5));
        if (!leafX && requires[0]) {
            x.retain_grad();
        }
        return new Tensor[] {root, x, doubles(0.8).requires_grad_(requires[1]), doubles(-0.3).requires_grad_(requires[2])};
    }

    @Test
    void autogradGradForSomeInputsSkipsTheOthers() {
        Tensor x = doubles(1, 2, 3).requires_grad_(true);
        Tensor w = doubles(2).requires_grad_(true);
        Tensor c = doubles(5).requires_grad_(true);
        AffineAndSquare f = new AffineAndSquare();
        Tensor[] out = f.apply(x, w, c);
        Tensor loss = out[0].sum().add(out[1].sum());
        TensorVector grads = torch.grad(new TensorVector(loss), new TensorVector(w), new TensorVector(),
                new BoolOptional(false), false, false);
        assertEquals(1, grads.size());
        assertArrayEquals(new double[] {6}, values(grads.get(0)));
        assertFalse(x.grad().defined(), "x was not asked for and must get no gradient");
        assertEquals(1, f.backwardCalls.get());
    }

    /** y = x * k, with k read from the one-element s in forward and kept for backward as a Java value. */
    static final class ScaleBySavedValue extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            double k = in[1].item_double();
            ctx.savedData().put("k", k);
            return new Tensor[] {in[0].mul(new Scalar(k))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            double k = (Double) ctx.savedData().get("k");
            return new Tensor[] {g[0].mul(new Scalar(k)), null};
        }
    }

    /** y = x * 2, saving x: each call of a chain holds the previous call's node through its saved input. */
    static final class DoubleIt extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return new Tensor[] {in[0].mul(new Scalar(2.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0].mul(new Scalar(2.0))};
        }
    }

    /**
     * A graph of 20000 chained calls (an RNN evaluated with grad mode on, say) dropped without backward: each
     * node's death releases the saved input that holds the node before it. Released one after another, not by a
     * recursion per node: that overflowed the stack inside libtorch's destructor upcall at a few hundred calls,
     * and the JVM aborted. Every node is released.
     */
    @Test
    void aLongChainDroppedWithoutBackwardIsReleasedWithoutRecursion() {
        int before = JavaFunction.liveNodeCount();
        DoubleIt f = new DoubleIt();
        Tensor y = torch.ones(4).requires_grad_(true);
        for (int i = 0; i < 20_000; i++) {
            try (PointerScope step = new PointerScope()) {
                // Retained past the step's scope; the previous output's handle is dropped: its node holds it.
                Tensor next = Scopes.retained(f.apply(y)[0]);
                if (i > 0) {
                    y.releaseReference();
                }
                y = next;
            }
        }
        assertEquals(before + 20_000, JavaFunction.liveNodeCount());
        y.releaseReference();
        assertEquals(before, JavaFunction.liveNodeCount(), "every node of the chain was released");
    }

    /** Saves its input, then fails in forward, or returns its input (which the output checks refuse). */
    static final class SavesThenFails extends JavaFunction {
        final boolean throwInForward;

        SavesThenFails(boolean throwInForward) {
            this.throwInForward = throwInForward;
        }

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            if (throwInForward) {
                throw new IllegalStateException("forward failed after saving");
            }
            return new Tensor[] {in[0]};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0]};
        }
    }

    /** A call that fails after forward saved a tensor keeps nothing: no node will ever release it. */
    @Test
    void aFailedCallReleasesWhatItsForwardSaved() {
        Tensor x = torch.ones(4).requires_grad_(true);
        long uses = x.use_count();
        int nodes = JavaFunction.liveNodeCount();
        for (boolean throwInForward : new boolean[] {true, false}) {
            assertThrows(IllegalStateException.class, () -> new SavesThenFails(throwInForward).apply(x));
            assertEquals(uses, x.use_count(), "the failed call holds no reference to its input ("
                    + (throwInForward ? "forward threw" : "its output was refused") + ")");
            assertEquals(nodes, JavaFunction.liveNodeCount());
        }
    }

    @Test
    void savedDataCarriesForwardsValuesToBackwardPerCall() {
        ScaleBySavedValue f = new ScaleBySavedValue();
        Tensor x = doubles(1, -2).requires_grad_(true);
        Tensor first = f.apply(x, doubles(3))[0];
        Tensor second = f.apply(x, doubles(-5))[0];
        backward(first.sum().add(second.sum()), false);
        assertArrayEquals(new double[] {-2, -2}, values(x.grad()), "3 from the first call plus -5 from the second");
    }

    @Test
    void retainGraphAllowsASecondBackwardThatAccumulatesThenTheGraphIsReleased() {
        Tensor x = doubles(1, -2).requires_grad_(true);
        Tensor w = doubles(3).requires_grad_(true);
        Tensor c = doubles(0).requires_grad_(true);
        Tensor loss = new AffineAndSquare().apply(x, w, c)[0].sum();
        backward(loss, true);
        assertArrayEquals(new double[] {3, 3}, values(x.grad()));
        backward(loss, false);
        assertArrayEquals(new double[] {6, 6}, values(x.grad()));
        assertArrayEquals(new double[] {-2}, values(w.grad()));
        RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
        assertTrue(e.getMessage().contains("backward through the graph a second time"), e.getMessage());
        assertArrayEquals(new double[] {6, 6}, values(x.grad()), "a failed backward must not touch gradients");
    }

    /** Counted on x's TensorImpl: its Java handle, its AccumulateGrad (held by the graph) and the saved copy. */
    @Test
    void savedTensorsAreFreedByABackwardWithoutRetainGraphWhileTheGraphLives() {
        Tensor x = doubles(1, -2).requires_grad_(true);
        Tensor w = doubles(3).requires_grad_(true);
        Tensor out = new AffineAndSquare().apply(x, w, doubles(0))[0];
        Tensor loss = out.sum();
        long whileSaved = x.use_count();
        backward(loss, true);
        assertEquals(whileSaved, x.use_count(), "retain_graph keeps the saved tensors");
        backward(loss, false);
        assertEquals(whileSaved - 1, x.use_count(), "the saved reference to x is gone after the last backward");
        assertNotNull(JavaFunction.functionOf(out), "while the node itself still lives");
    }

    /**
     * A fused loss: forward computes loss = sum(x^2) / 2 and its gradient x * 1, which it saves and the context
     * alone then owns; backward returns the saved tensor itself. libtorch must get its reference before the
     * saved tensors are released (without retain_graph, right after backward), else it gets freed memory.
     */
    @Test
    void aSavedTensorReturnedAsAGradientOutlivesTheRelease() {
        JavaFunction fusedLoss = new JavaFunction() {
            @Override
            protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                try (PointerScope scope = new PointerScope()) {
                    ctx.saveForBackward(in[0].mul(new Scalar(1.0)));
                }
                return new Tensor[] {in[0].pow(new Scalar(2)).sum().mul(new Scalar(0.5))};
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                return new Tensor[] {ctx.savedTensors()[0]};
            }
        };
        for (int i = 0; i < 50; i++) {
            try (PointerScope step = new PointerScope()) {
                Tensor x = torch.randn(new long[] {1000, 10}).to(ScalarType.Double).requires_grad_(true);
                backward(fusedLoss.apply(x)[0], false);
                assertArrayEquals(values(x), values(x.grad()), "grad x = x, call " + i);
                assertEquals(1, x.grad().use_count(), "the gradient's one owner is x.grad, call " + i);
            }
        }
    }

    /** Under NoGradGuard nothing is recorded, as by libtorch's own operations: no node, outputs without gradient. */
    @Test
    void underNoGradGuardNothingIsRecorded() {
        Tensor x = doubles(1, 2, 3).requires_grad_(true);
        Tensor w = doubles(2).requires_grad_(true);
        int before = JavaFunction.liveNodeCount();
        try (org.bytedeco.pytorch.NoGradGuard noGrad = new org.bytedeco.pytorch.NoGradGuard()) {
            Tensor[] out = new AffineAndSquare().apply(x, w, doubles(1));
            assertArrayEquals(new double[] {3, 5, 7}, values(out[0]));
            for (Tensor o : out) {
                assertFalse(o.requires_grad(), "an output under NoGradGuard");
                assertNull(JavaFunction.functionOf(o));
            }
            assertEquals(before, JavaFunction.liveNodeCount(), "no node made");
        }
    }

    @Test
    void aSavedInputModifiedInPlaceAfterForwardIsAnError() {
        Tensor x0 = doubles(1, 2).requires_grad_(true);
        Tensor x = x0.mul(new Scalar(1.0));
        Tensor w = doubles(3).requires_grad_(true);
        Tensor loss = new AffineAndSquare().apply(x, w, doubles(0))[0].sum();
        try (org.bytedeco.pytorch.NoGradGuard noGrad = new org.bytedeco.pytorch.NoGradGuard()) {
            x.add_(new Scalar(1.0));
        }
        RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
        assertTrue(e.getMessage().contains("modified by an inplace operation"), e.getMessage());
        assertFalse(w.grad().defined());
    }

    @Test
    void anExceptionInBackwardReachesTheCallerAndTheProcessGoesOn() {
        JavaFunction failing = new AffineAndSquare() {
            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                throw new IllegalStateException("deliberate failure in backward");
            }
        };
        Tensor x = doubles(1, 2).requires_grad_(true);
        Tensor loss = failing.apply(x, doubles(2), doubles(0))[0].sum();
        RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
        assertTrue(e.getMessage().contains(
                "backward failed: java.lang.IllegalStateException: deliberate failure in backward"), e.getMessage());
        // An Error too reaches the caller as an exception naming the function, the class and the message.
        JavaFunction asserting = failingInBackward("Asserting", new AssertionError("assertion in backward"));
        Tensor loss2 = asserting.apply(x, doubles(2), doubles(0))[0].sum();
        RuntimeException e2 = assertThrows(RuntimeException.class, () -> backward(loss2, false));
        assertTrue(e2.getMessage().contains("Asserting backward failed: java.lang.AssertionError: assertion in backward"),
                e2.getMessage());
        Tensor again = new AffineAndSquare().apply(x, doubles(2), doubles(0))[0].sum();
        backward(again, false);
        assertArrayEquals(new double[] {2, 2}, values(x.grad()));
    }

    @Test
    void aGradientOfTheWrongShapeIsReportedNotPassedOn() {
        JavaFunction wrong = new AffineAndSquare() {
            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                return new Tensor[] {g[0].sum(), null, null};
            }
        };
        Tensor x = doubles(1, 2).requires_grad_(true);
        Tensor loss = wrong.apply(x, doubles(2), doubles(0))[0].sum();
        RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
        assertTrue(e.getMessage().contains("invalid gradient for input 0"), e.getMessage());
    }

    @Test
    void createGraphGivesSecondOrderGradients() {
        Tensor g0 = doubles(0.5, -1, 2);
        Tensor g1 = doubles(1, 0.25, -3);
        double[][] results = new double[2][];
        for (int k = 0; k < 2; k++) {
            Tensor x = doubles(1, -2, 0.5).requires_grad_(true);
            Tensor w = doubles(1.5).requires_grad_(true);
            Tensor c = doubles(0.1).requires_grad_(true);
            AffineAndSquare f = new AffineAndSquare();
            Tensor[] out = k == 0 ? f.apply(x, w, c) : reference(x, w, c);
            Tensor loss = loss(out, g0, g1);
            TensorVector first = torch.grad(new TensorVector(loss), new TensorVector(x, w), new TensorVector(),
                    new BoolOptional(true), true, false);
            // d/dx and d/dw of sum(dloss/dx^2) + dloss/dw: exercises x*x's and x*w's second derivatives.
            Tensor second = first.get(0).pow(new Scalar(2.0)).sum().add(first.get(1).sum());
            TensorVector grads = torch.grad(new TensorVector(second), new TensorVector(x, w), new TensorVector(),
                    new BoolOptional(false), false, false);
            results[k] = concat(values(grads.get(0)), values(grads.get(1)));
            if (k == 0) {
                assertEquals(List.of(true), f.gradModeInBackward, "backward runs with grad mode on under create_graph");
            }
        }
        assertArrayEquals(results[1], results[0], 1e-12);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = new double[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void forwardMustReturnNewTensors() {
        JavaFunction passThrough = new AffineAndSquare() {
            @Override
            protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                return new Tensor[] {in[0]};
            }
        };
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> passThrough.apply(doubles(1).requires_grad_(true), doubles(1), doubles(1)));
        assertTrue(e.getMessage().contains("shares memory with input 0"), e.getMessage());
    }

    @Test
    void droppedGraphsReleaseTheirNodesAndGcPressureDoesNotBreakLiveOnes() throws Exception {
        int before = JavaFunction.liveNodeCount();
        Tensor x = doubles(1, 2, 3).requires_grad_(true);
        Tensor kept;
        try (PointerScope step = new PointerScope()) {
            for (int i = 0; i < 1000; i++) {
                try (PointerScope dropped = new PointerScope()) {
                    new AffineAndSquare().apply(x, doubles(2), doubles(1));
                }
            }
            kept = new AffineAndSquare().apply(x, doubles(2), doubles(1))[0].sum();
            step.detach(kept.retainReference());
        }
        assertEquals(before + 1, JavaFunction.liveNodeCount(), "1000 dropped graphs, one kept");
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        backward(kept, false);
        assertArrayEquals(new double[] {2, 2, 2}, values(x.grad()));
        kept.releaseReference();
        assertEquals(before, JavaFunction.liveNodeCount());
    }

    /**
     * A dead node's record leaves with it: a node of another operation that libtorch later makes at the same
     * address (a cat of as many inputs, the carrier's kind and size) is no JavaFunction's.
     */
    @Test
    void aNodeMadeWhereADeadOnesWasIsNoJavaFunctions() {
        Tensor x = doubles(1, 2, 3).requires_grad_(true);
        for (int i = 0; i < 200; i++) {
            try (PointerScope dropped = new PointerScope()) {
                Tensor y = new AffineAndSquare().apply(x, doubles(2), doubles(1))[0];
                assertNotNull(JavaFunction.functionOf(y));
            }
            try (PointerScope later = new PointerScope()) {
                Tensor other = torch.cat(new TensorVector(x, doubles(2), doubles(1)));
                assertNull(JavaFunction.functionOf(other), "a cat made after " + (i + 1) + " dropped graphs");
            }
        }
    }

    /** y = x * x, saving x; the first backward waits, between taking the saved handles and reading them, for a go. */
    static final class SquareThatWaits extends JavaFunction {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch go = new CountDownLatch(1);
        final AtomicInteger backwardCalls = new AtomicInteger();

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return new Tensor[] {in[0].mul(in[0])};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            Tensor x = ctx.savedTensors()[0];
            if (backwardCalls.getAndIncrement() == 0) {
                entered.countDown();
                try {
                    go.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return new Tensor[] {g[0].mul(x).mul(new Scalar(2.0))};
        }
    }

    /** A thread that takes {@code d loss / d x} into {@code result}, or its failure into {@code failure}. */
    private static Thread startGradient(Tensor loss, Tensor x, boolean retainGraph, AtomicReference<double[]> result,
            AtomicReference<Throwable> failure) {
        Thread thread = new Thread(() -> {
            try {
                result.set(gradientOf(loss, x, retainGraph));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        thread.start();
        return thread;
    }

    private static double[] gradientOf(Tensor loss, Tensor x, boolean retainGraph) {
        try (PointerScope s = new PointerScope()) {
            return values(torch.grad(new TensorVector(loss), new TensorVector(x), new TensorVector(),
                    new BoolOptional(retainGraph), false, false).get(0));
        }
    }

    /**
     * Two threads' backward through one retained graph: the one without retain_graph releases the saved tensors
     * only after the other has read them, as libtorch's nodes lock their mutex in apply and release alike. Before,
     * the release gave the saved tensors' vector back to the pool while the first backward still read through its
     * handles, and forwards in between put their own tensors there: gradients of 2 * 1001 instead of 2 * x.
     */
    @Test
    void aBackwardWithoutRetainGraphWaitsForAnotherThreadsBackwardOfTheSameNode() throws Exception {
        Tensor x = doubles(1, 2, 3).requires_grad_(true);
        SquareThatWaits f = new SquareThatWaits();
        Tensor loss = f.apply(x)[0].sum();
        AtomicReference<double[]> first = new AtomicReference<>();
        AtomicReference<double[]> second = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread retaining = startGradient(loss, x, true, first, failure);
        assertTrue(f.entered.await(10, TimeUnit.SECONDS), "the first backward started");
        Thread releasing = startGradient(loss, x, false, second, failure);
        releasing.join(500);
        List<Tensor> others = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            others.add(new SquareThatWaits().apply(torch.full(new long[] {3}, new Scalar(1001.0),
                    new org.bytedeco.pytorch.DimnameListOptional(),
                    new org.bytedeco.pytorch.TensorOptions(ScalarType.Double)).requires_grad_(true))[0]);
        }
        f.go.countDown();
        retaining.join(10_000);
        releasing.join(10_000);
        assertNull(failure.get(), () -> String.valueOf(failure.get()));
        assertArrayEquals(new double[] {2, 4, 6}, first.get(), "the retaining backward read its own saved x");
        assertArrayEquals(new double[] {2, 4, 6}, second.get());
        assertEquals(200, others.size());
    }

    /** {@link AffineAndSquare} named {@code name}, whose backward throws {@code thrown}, checked or not. */
    private static JavaFunction failingInBackward(String name, Throwable thrown) {
        return new AffineAndSquare() {
            @Override
            public String name() {
                return name;
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                JavaFunctionTest.<RuntimeException>throwUnchecked(thrown);
                return null;
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void throwUnchecked(Throwable e) throws T {
        throw (T) e;
    }

    /** A checked exception thrown past javac (Kotlin, Lombok's @SneakyThrows) is named like any other. */
    @Test
    void aCheckedExceptionFromBackwardIsNamedToo() {
        JavaFunction sneaky = failingInBackward("Sneaky", new java.io.IOException("checked from backward"));
        int nodes = JavaFunction.liveNodeCount();
        try (PointerScope s = new PointerScope()) {
            Tensor x = doubles(1, 2).requires_grad_(true);
            Tensor loss = sneaky.apply(x, doubles(2), doubles(0))[0].sum();
            RuntimeException e = assertThrows(RuntimeException.class, () -> backward(loss, false));
            assertTrue(e.getMessage().contains("Sneaky backward failed: java.io.IOException: checked from backward"),
                    e.getMessage());
        }
        assertEquals(nodes, JavaFunction.liveNodeCount());
    }

    /** The message of the exception that {@code backward()} raises through {@code function}'s node. */
    private static String backwardFailure(JavaFunction function) {
        try (PointerScope s = new PointerScope()) {
            Tensor x = doubles(1, 2).requires_grad_(true);
            Tensor loss = function.apply(x, doubles(2), doubles(0))[0].sum();
            return assertThrows(RuntimeException.class, () -> backward(loss, false)).getMessage();
        }
    }

    /**
     * What crosses libtorch as text names the function whatever it threw: an anonymous function by its binary
     * name (its simple name is empty: the message began " backward failed" and the node was "Backward"), an
     * exception whose toString throws by its class, a NUL in a message as {@code \0} (C ended the text there),
     * and a message longer than the text libtorch carries cut before a character, not inside one.
     */
    @Test
    void aBackwardFailureIsNamedWhateverItThrows() {
        JavaFunction anonymous = new AffineAndSquare() {
            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                throw new IllegalStateException("from an anonymous function");
            }
        };
        assertTrue(anonymous.name().startsWith("JavaFunctionTest$"), anonymous.name());
        String message = backwardFailure(anonymous);
        assertTrue(message.contains(anonymous.name() + " backward failed: java.lang.IllegalStateException: from an "
                + "anonymous function"), message);
        boolean hooks;
        try (PointerScope s = new PointerScope()) {
            Tensor x = doubles(1, 2).requires_grad_(true);
            String node = anonymous.apply(x, doubles(2), doubles(0))[0].grad_fn().name().getString();
            // Nodes with hooks keep the carrier's name.
            hooks = node.equals("CatBackward0");
            assertTrue(hooks || node.equals(anonymous.name() + "Backward"), node);
        }

        RuntimeException unprintable = new IllegalStateException("never shown") {
            @Override
            public String toString() {
                throw new UnsupportedOperationException("no toString");
            }
        };
        message = backwardFailure(failingInBackward("Unprintable", unprintable));
        assertTrue(message.contains("Unprintable backward failed: " + unprintable.getClass().getName()
                + " (its toString threw java.lang.UnsupportedOperationException)"), message);

        message = backwardFailure(failingInBackward("Nul", new IllegalStateException("before\0after")));
        assertTrue(message.contains("Nul backward failed: java.lang.IllegalStateException: before\\0after"), message);

        // 3 bytes a character, after 0, 1 and 2 bytes of padding: one of the three cuts falls inside a character.
        for (int padding = 0; padding < 3; padding++) {
            String euros = "x".repeat(padding) + "\u20ac".repeat(2000);
            message = backwardFailure(failingInBackward("Long", new IllegalStateException(euros)));
            int start = message.indexOf("\u20ac");
            assertTrue(start > 0, message);
            String kept = message.substring(start).replaceAll("[^\u20ac][\\s\\S]*$", "");
            // The node's message holds 4095 bytes; with hooks JavaCPP's holds 1023, the exception's class included.
            int least = hooks ? 300 : 1300;
            assertTrue(kept.length() > least, "padding " + padding + ": kept " + kept.length() + " characters");
            assertFalse(message.contains("\ufffd"), "padding " + padding + ": a character cut in two");
        }
    }

    /** y = exp(x), saving what {@code save} makes of the output. */
    static final class Exp extends JavaFunction {
        private final java.util.function.UnaryOperator<Tensor> save;

        Exp(java.util.function.UnaryOperator<Tensor> save) {
            this.save = save;
        }

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            Tensor y = in[0].exp();
            ctx.saveForBackward(save.apply(y));
            return new Tensor[] {y};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0].mul(ctx.savedTensors()[0].reshape(g[0].sizes()))};
        }
    }

    /**
     * An output saved for backward would hold its own node for ever (the reviewer's 1000 calls left 500 nodes
     * alive): refused by name, a view of it too; its detached alias is accepted and leaves nothing behind.
     */
    @Test
    void savingAnOutputIsRefusedAndItsDetachedAliasLeavesNothingBehind() {
        int nodes = JavaFunction.liveNodeCount();
        try (PointerScope s = new PointerScope()) {
            Tensor x = doubles(0.5, -1).requires_grad_(true);
            IllegalStateException asIs = assertThrows(IllegalStateException.class,
                    () -> new Exp(y -> y).apply(x));
            assertTrue(asIs.getMessage().contains("Exp.forward saved output 0 as saved tensor 0"), asIs.getMessage());
            IllegalStateException view = assertThrows(IllegalStateException.class,
                    () -> new Exp(y -> y.view(2, 1)).apply(x));
            assertTrue(view.getMessage().contains("saved output 0 (a view of it)"), view.getMessage());
            assertEquals(nodes, JavaFunction.liveNodeCount(), "the refused calls left no node");
            for (int i = 0; i < 100; i++) {
                try (PointerScope step = new PointerScope()) {
                    Tensor loss = new Exp(Tensor::detach).apply(x)[0].sum();
                    if (i % 2 == 0) {
                        backward(loss, false);
                    }
                }
            }
            assertArrayEquals(new double[] {50 * Math.exp(0.5), 50 * Math.exp(-1)}, values(x.grad()), 1e-12);
        }
        assertEquals(nodes, JavaFunction.liveNodeCount(), "100 calls that saved a detached output, 50 without backward");
    }

    /** y = 2 x, after a pause in forward, during which a virtual thread leaves its carrier. */
    static final class DoubleAfterAPause extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new Tensor[] {in[0].mul(new Scalar(2.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0].mul(new Scalar(2.0))};
        }
    }

    /**
     * libtorch keeps grad mode per OS thread and {@code apply} switches it off for forward. A virtual thread that
     * blocks in forward may resume on another OS thread (carrier): grad mode was then switched back on there and
     * left off on the first, and the virtual threads that ran there next recorded no graph, without an error (a
     * review saw 1998 calls of 2000 return outputs without a node). Every call records its node and computes
     * its gradient, and afterwards grad mode is on wherever virtual threads run.
     */
    @Test
    void forwardsThatBlockOnVirtualThreadsLeaveGradModeOnEveryCarrier() throws Exception {
        AtomicInteger unrecorded = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        JavaFunction pause = new DoubleAfterAPause();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 100; t++) {
                threads.submit(() -> {
                    for (int call = 0; call < 10; call++) {
                        try (PointerScope step = new PointerScope()) {
                            Tensor x = doubles(1.5, -2).requires_grad_(true);
                            Tensor y = pause.apply(x)[0];
                            if (!y.requires_grad()) {
                                unrecorded.incrementAndGet();
                                continue;
                            }
                            backward(y.sum(), false);
                            if (!java.util.Arrays.equals(new double[] {2, 2}, values(x.grad()))) {
                                wrong.incrementAndGet();
                            }
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    }
                });
            }
        }
        assertNull(failure.get(), () -> "a call failed: " + failure.get());
        assertEquals(0, unrecorded.get(), "calls whose outputs record no node");
        assertEquals(0, wrong.get(), "calls with a wrong gradient");
        AtomicInteger gradModeOff = new AtomicInteger();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 200; t++) {
                threads.submit(() -> {
                    if (!GradMode.is_enabled()) {
                        gradModeOff.incrementAndGet();
                    }
                });
            }
        }
        assertEquals(0, gradModeOff.get(), "virtual threads that found grad mode off afterwards");
    }

    /** y = exp(2 x), the doubling by a nested apply of {@link DoubleAfterAPause} in forward. */
    static final class ExpOfTwice extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            Tensor y = new DoubleAfterAPause().apply(in[0])[0].exp();
            ctx.saveForBackward(y.detach());
            return new Tensor[] {y};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0].mul(ctx.savedTensors()[0]).mul(new Scalar(2.0))};
        }
    }

    /** Its forward throws. */
    static final class ThrowsInForward extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            throw new IllegalArgumentException("from forward");
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0]};
        }
    }

    /** On a virtual thread forward's exceptions reach the caller as they are, and applies nest. */
    @Test
    void onVirtualThreadsForwardsExceptionsReachTheCallerAndAppliesNest() throws Exception {
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread thread = Thread.ofVirtual().start(() -> {
            try (PointerScope step = new PointerScope()) {
                Tensor x = doubles(0.5, -1).requires_grad_(true);
                backward(new ExpOfTwice().apply(x)[0].sum(), false);
                double[] grad = values(x.grad());
                IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                        () -> new ThrowsInForward().apply(x));
                outcome.set(new Object[] {grad, refused.getMessage(), GradMode.is_enabled()});
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        assertTrue(thread.join(java.time.Duration.ofMinutes(2)), "the virtual thread finished");
        if (outcome.get() instanceof Throwable e) {
            throw new AssertionError("on a virtual thread", e);
        }
        Object[] result = (Object[]) outcome.get();
        assertArrayEquals(new double[] {2 * Math.exp(1), 2 * Math.exp(-2)}, (double[]) result[0], 1e-12);
        assertEquals("from forward", result[1]);
        assertEquals(true, result[2], "grad mode on after the failed forward");
    }

    /** Multiplies its input by a saved weight; its backward reads the context on a helper thread and waits for it. */
    static final class ReadsItsContextOnAnotherThread extends JavaFunction {
        private final ExecutorService helper;

        ReadsItsContextOnAnotherThread(ExecutorService helper) {
            this.helper = helper;
        }

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[1]);
            ctx.savedData().put("scale", 1.0);
            return new Tensor[] {in[0].mul(in[1])};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            try {
                Tensor dx = helper.submit(() -> {
                    ctx.needsInputGrad(0);
                    double scale = (Double) ctx.savedData().get("scale");
                    return g[0].mul(ctx.savedTensors()[0]).mul(new Scalar(scale));
                }).get(30, TimeUnit.SECONDS);
                return new Tensor[] {dx, null};
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("the helper thread could not read the context", e);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * A backward may hand work that reads its context to another thread, as with libtorch's C++ Function: the node held
     * the context's own monitor, on which its accessors synchronize, through the whole backward, and such a backward
     * hung for ever.
     */
    @Test
    void aBackwardMayReadItsContextOnAnotherThread() {
        ExecutorService helper = Executors.newSingleThreadExecutor();
        try {
            Tensor x = doubles(1, 3).requires_grad_(true);
            Tensor w = doubles(2, 2);
            backward(new ReadsItsContextOnAnotherThread(helper).apply(x, w)[0].sum(), false);
            assertArrayEquals(new double[] {2, 2}, values(x.grad()), 0.0);
        } finally {
            helper.shutdownNow();
        }
    }

    /** Passes its gradient on, after calling another graph's node directly: {@code node.apply(ones)}. */
    static final class CallsANodeInItsBackward extends JavaFunction {
        private final Tensor other;

        CallsANodeInItsBackward(Tensor other) {
            this.other = other;
        }

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            return new Tensor[] {in[0].mul(new Scalar(1.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            other.grad_fn().apply(new TensorVector(torch.ones_like(other)));
            return new Tensor[] {g[0]};
        }
    }

    /**
     * The engine frees a node's saved tensors after its backward for the nodes of its own graph task; a node called
     * directly frees nothing, as libtorch's own nodes. Called inside another graph's backward (which keeps no
     * graph), the node freed them, and its own graph's backward then failed as a second one.
     */
    @Test
    void aNodeCalledDirectlyInsideAnotherBackwardKeepsItsSavedTensors() {
        Tensor a = doubles(1, 2).requires_grad_(true);
        Tensor other = new Exp(Tensor::detach).apply(a)[0]; // its backward reads its saved output
        Tensor x = doubles(5).requires_grad_(true);
        backward(new CallsANodeInItsBackward(other).apply(x)[0].sum(), false);
        assertArrayEquals(new double[] {1}, values(x.grad()), 0.0);
        backward(other.sum(), false);
        assertArrayEquals(new double[] {Math.exp(1), Math.exp(2)}, values(a.grad()), 1e-15);
    }

    /** Keeps its last context, as a user's function should not. */
    static final class KeepsItsContext extends JavaFunction {
        FunctionContext kept;

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            kept = ctx;
            return new Tensor[] {in[0].mul(new Scalar(3.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {ctx.needsInputGrad(0) ? g[0].mul(new Scalar(3.0)) : null};
        }
    }

    /**
     * A context kept past its call reached its node through a raw pointer after libtorch had destroyed the
     * node (freed memory: the review saw needsInputGrad(0) answer true and needsInputGrad(1) fail with a garbage
     * "Index out of range"). Once the node is gone it says so; while the node lives (a kept graph) it answers.
     */
    @Test
    void aContextKeptPastItsNodesDeathSaysSo() {
        KeepsItsContext function = new KeepsItsContext();
        int nodes = JavaFunction.liveNodeCount();
        try (PointerScope call = new PointerScope()) {
            Tensor x = doubles(1, 2).requires_grad_(true);
            Tensor y = function.apply(x)[0];
            backward(y.sum(), true);
            assertTrue(function.kept.needsInputGrad(0), "the node lives on in the kept graph");
        }
        assertEquals(nodes, JavaFunction.liveNodeCount(), "the graph and its node are gone");
        IllegalStateException gone = assertThrows(IllegalStateException.class, () -> function.kept.needsInputGrad(0));
        assertEquals("KeepsItsContext: this call's graph node was destroyed; a FunctionContext serves its call's "
                + "forward and backward only", gone.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> function.kept.needsInputGrad(1));
        // Saving on it would hold the tensor (and a pooled vector) unread for as long as the context lives.
        IllegalStateException saving = assertThrows(IllegalStateException.class,
                () -> function.kept.saveForBackward(doubles(1, 2)));
        assertEquals("KeepsItsContext: saveForBackward on a context whose graph was released; a FunctionContext "
                + "serves its call's forward and backward only", saving.getMessage());
    }

    /**
     * Keeps the handles its backward was given, as a user's function should not: its output's gradient, passed on
     * as the input's (so that the handle it returns is the one it was given), and its saved input.
     */
    static final class KeepsItsHandles extends JavaFunction {
        Tensor keptGradient;
        Tensor keptSaved;

        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return new Tensor[] {in[0].add(new Scalar(1.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            keptSaved = ctx.savedTensors()[0];
            keptGradient = g[0];
            return new Tensor[] {g[0]};
        }
    }

    /**
     * The handles of gradOutputs and savedTensors() point into libtorch's vector of gradients and the context's
     * pooled vector. Kept past the call, they read the next call's tensors (the saved x of a second call, 7 where
     * the first saved 1) with no error; nulled when backward returns and when the graph is released, their use
     * throws. The gradient passed on as it is still reaches x.
     */
    @Test
    void handlesKeptPastBackwardThrowInsteadOfReadingAnotherCallsTensors() {
        KeepsItsHandles function = new KeepsItsHandles();
        try (PointerScope call = new PointerScope()) {
            Tensor first = doubles(1, 1, 1).requires_grad_(true);
            backward(function.apply(first)[0].mul(new Scalar(2.0)).sum(), false);
            assertArrayEquals(new double[] {2, 2, 2}, values(first.grad()), 0.0);

            Tensor second = doubles(7, 7, 7).requires_grad_(true);
            Tensor y = function.apply(second)[0];
            NullPointerException saved = assertThrows(NullPointerException.class, () -> function.keptSaved.sum());
            assertEquals("This pointer address is NULL.", saved.getMessage());
            assertThrows(NullPointerException.class, () -> function.keptGradient.sum());

            backward(y.mul(new Scalar(3.0)).sum(), false);
            assertArrayEquals(new double[] {3, 3, 3}, values(second.grad()), 0.0);
        }
    }

    /** y = 3 x, written for any layout (sparse COO too, which libtorch's custom functions accept). */
    static final class Triple extends JavaFunction {
        @Override
        protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
            return new Tensor[] {in[0].mul(new Scalar(3.0))};
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
            return new Tensor[] {g[0].mul(new Scalar(3.0))};
        }
    }

    @Test
    void sparseInputsGetTheGradientOfTheSameOperationsInLibtorch() {
        for (long[] shape : new long[][] {{4}, {2, 3}}) {
            Tensor dense = torch.randn(shape).to(ScalarType.Double);
            Tensor weight = torch.randn(shape).to(ScalarType.Double);
            Tensor x = dense.to_sparse().requires_grad_(true);
            Tensor ref = dense.to_sparse().requires_grad_(true);
            backward(new Triple().apply(x)[0].to_dense().mul(weight).sum(), false);
            backward(ref.mul(new Scalar(3.0)).to_dense().mul(weight).sum(), false);
            assertArrayEquals(values(ref.grad().to_dense()), values(x.grad().to_dense()),
                    "sparse input of shape " + java.util.Arrays.toString(shape));
        }
        Tensor sparse = torch.randn(2, 3).to_sparse().requires_grad_(true);
        JavaFunction passThrough = new JavaFunction() {
            @Override
            protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                return new Tensor[] {in[0].detach()};
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                return new Tensor[] {g[0]};
            }
        };
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> passThrough.apply(sparse));
        assertTrue(e.getMessage().contains("shares memory with input 0"), e.getMessage());
        // Compressed layouts, and a dense output that is a sparse input's values, share memory too.
        Tensor csr = torch.randn(2, 3).to_sparse_csr().requires_grad_(true);
        IllegalStateException c = assertThrows(IllegalStateException.class, () -> passThrough.apply(csr));
        assertTrue(c.getMessage().contains("shares memory with input 0"), c.getMessage());
        JavaFunction values = new JavaFunction() {
            @Override
            protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                return new Tensor[] {in[0]._values()};
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                return new Tensor[] {null};
            }
        };
        IllegalStateException v = assertThrows(IllegalStateException.class, () -> values.apply(sparse));
        assertTrue(v.getMessage().contains("shares memory with input 0"), v.getMessage());
    }

    /** Post-hooks libtorch owns call Java through a weak reference: kept reachable here. */
    private static final List<Object> POST_HOOKS = new ArrayList<>();

    /**
     * A user's post-hook on a node is handed the outputs' gradients, also where the node's backward itself runs a
     * backward through another JavaFunction node. With hooks, the node's own pre-hook keeps those gradients for its
     * post-hook to put back into libtorch's list; a nested node's pre-hook dropped them, and the outer post-hook saw
     * an undefined gradient. (Without the node's own virtual table only; with it, libtorch hands them over itself.)
     */
    @Test
    void aPostHookSeesTheOutputsGradientAlsoAfterANestedBackward() {
        JavaFunction outer = new JavaFunction() {
            @Override
            protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                return new Tensor[] {in[0].mul(new Scalar(2.0))};
            }

            @Override
            protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                boolean mode = GradMode.is_enabled();
                GradMode.set_enabled(true);
                try {
                    Tensor z = doubles(1.0, -2.0).requires_grad_(true);
                    io.github.arelu.Tensors.backward(new Triple().apply(z)[0].sum(), false); // not this backward
                } finally {
                    GradMode.set_enabled(mode);
                }
                return new Tensor[] {g[0].mul(new Scalar(2.0))};
            }
        };
        Tensor x = doubles(0.5, 1.5, -1.0).requires_grad_(true);
        Tensor y = outer.apply(x)[0];
        double[][] seen = new double[1][];
        org.bytedeco.pytorch.FunctionPostHook recorder = new org.bytedeco.pytorch.FunctionPostHook() {
            @Override
            public TensorVector apply(TensorVector gradInputs, TensorVector gradOutputs) {
                seen[0] = gradOutputs.size() == 1 && gradOutputs.get(0).defined() ? values(gradOutputs.get(0))
                        : new double[0];
                TensorVector out = new TensorVector();
                for (long i = 0; i < gradInputs.size(); i++) {
                    out.push_back(gradInputs.get(i));
                }
                return out;
            }
        };
        POST_HOOKS.add(recorder);
        y.grad_fn().add_post_hook(recorder);
        backward(y.mul(doubles(1.0, 2.0, 3.0)).sum(), false);
        assertArrayEquals(new double[] {1.0, 2.0, 3.0}, seen[0], 0.0, "the outputs' gradient the post-hook saw");
        assertArrayEquals(new double[] {2.0, 4.0, 6.0}, values(x.grad()), 0.0);
    }

    @Test
    void aTangentOnAnInputIsRefusedByName() {
        long level = torch.enter_dual_level();
        try {
            Tensor x = doubles(0.5, -1.5);
            Tensor w = doubles(2.0).requires_grad_(true);
            Tensor c = io.github.arelu.Tensors.makeDual(doubles(1.0), doubles(3.0));
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> new AffineAndSquare().apply(x, w, c));
            assertTrue(refused.getMessage().startsWith("AffineAndSquare: input 2 carries a forward-mode AD tangent"),
                    refused.getMessage());
            assertEquals(0, JavaFunction.liveNodeCount(), "nothing recorded");

            // Open level, no tangent: an ordinary call, recorded and differentiable; sparse inputs too.
            Tensor[] out = new AffineAndSquare().apply(x, w, doubles(1.0));
            assertArrayEquals(new double[] {2.0, -2.0}, values(out[0]), 0.0);
            backward(out[0].sum(), false);
            assertArrayEquals(new double[] {-1.0}, values(w.grad()), 0.0);
            Tensor sparse = doubles(1.0, 2.0).to_sparse().requires_grad_(true);
            backward(new Triple().apply(sparse)[0].to_dense().sum(), false);
            assertArrayEquals(new double[] {3.0, 3.0}, values(sparse.grad().to_dense()), 0.0);
        } finally {
            torch.exit_dual_level(level);
        }
    }

    @Test
    void forwardRunsWithoutForwardModeADAsLibtorchsFunctionsDo() {
        long level = torch.enter_dual_level();
        try {
            // A dual tensor reached from a field, not an input: its tangent must not give the output a partial one.
            Tensor dualScale = io.github.arelu.Tensors.makeDual(doubles(2.0), doubles(1.0));
            JavaFunction scaleByField = new JavaFunction() {
                @Override
                protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
                    return new Tensor[] {in[0].mul(dualScale)};
                }

                @Override
                protected Tensor[] backward(FunctionContext ctx, Tensor... g) {
                    return new Tensor[] {g[0].mul(new Scalar(2.0))};
                }
            };
            Tensor y = scaleByField.apply(doubles(1.0, 3.0).requires_grad_(true))[0];
            assertArrayEquals(new double[] {2.0, 6.0}, values(y), 0.0);
            assertFalse(io.github.arelu.Tensors.tangentOf(y).defined(), "forward ran with forward-mode AD off");
            assertTrue(org.bytedeco.pytorch.AutogradState.get_tls_state().get_fw_grad_mode(),
                    "and it is on again after apply");
            assertTrue(io.github.arelu.Tensors.tangentOf(doubles(1.0).mul(dualScale)).defined(),
                    "outside apply the same product carries the tangent");
        } finally {
            torch.exit_dual_level(level);
        }
    }
}
