package io.github.arelu;

import static io.github.arelu.Tensors.assertClose;
import static io.github.arelu.Tensors.reference;
import static io.github.arelu.Tensors.value;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import io.github.arelu.autograd.JavaFunction;
import io.github.arelu.internal.AReLUArguments;
import io.github.arelu.internal.FusedAReLUFunction;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adagrad;
import org.bytedeco.pytorch.AdagradOptions;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.RMSprop;
import org.bytedeco.pytorch.RMSpropOptions;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.SequentialImpl;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The module in models, optimizers, dtype conversion and checkpoints. */
class AReLUModuleTest {

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

    /** A small Java model with AReLU as a named submodule between two Linear layers. */
    static final class Net extends Module {
        final LinearImpl fc1;
        final AReLU act;
        final LinearImpl fc2;

        Net() {
            fc1 = register_module("fc1", new LinearImpl(4, 8));
            act = register_module("act", new AReLU());
            fc2 = register_module("fc2", new LinearImpl(8, 1));
        }

        Tensor forward(Tensor x) {
            return fc2.forward(act.forward(fc1.forward(x)));
        }
    }

    @Test
    void defaultsAndParameterNames() {
        AReLU arelu = new AReLU();
        StringTensorDict named = arelu.named_parameters();
        assertEquals(2, named.size());
        assertEquals(0.90, value(named.get("alpha")), 1e-7);
        assertEquals(2.0, value(named.get("beta")), 1e-7);
        assertTrue(named.get("alpha").requires_grad() && named.get("beta").requires_grad());
        assertEquals(ScalarType.Float, arelu.alpha().scalar_type().intern());

        AReLU custom = new AReLU(0.25, -1.0);
        assertEquals(0.25, value(custom.alpha()), 1e-7);
        assertEquals(-1.0, value(custom.beta()), 1e-7);

        AReLU channels = AReLU.channelwise(3);
        assertEquals(3, channels.numParameters());
        assertArrayEquals(new double[] {0.9, 0.9, 0.9}, values(channels.alpha()), 1e-7);
        assertThrows(IllegalArgumentException.class, () -> new AReLU(0, 0.9, 2.0));
        assertThrows(IllegalArgumentException.class, () -> new AReLU(Double.NaN, 2.0));

        Net net = new Net();
        StringTensorDict all = net.named_parameters();
        assertTrue(all.contains("act.alpha") && all.contains("act.beta"), "nested names act.alpha and act.beta");
    }

    /**
     * Two forwards, then the first one's backward and an optimizer step, then the second one's backward:
     * libtorch's SGD writes alpha and beta without bumping their versions, so nothing refuses the second
     * backward, and it must give the gradients of the parameters its forward used, as the reference's graph
     * (which keeps forward's scales) does. Scalar and channel-wise parameters, float and double.
     */
    @Test
    void aBackwardAfterAnOptimizerStepUsesItsForwardsParameters() {
        for (boolean channelwise : new boolean[] {false, true}) {
            for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
                String name = (channelwise ? "channel-wise " : "scalar ") + dtype;
                AReLU module = channelwise ? AReLU.channelwise(3) : new AReLU();
                module.to(dtype, false);
                AReLU before = channelwise ? AReLU.channelwise(3) : new AReLU();
                before.to(dtype, false);
                TensorOptions options = new TensorOptions(dtype);
                Tensor x1 = torch.randn(new long[] {4, 3, 5}, options);
                Tensor x2 = torch.randn(new long[] {4, 3, 5}, options).requires_grad_(true);
                Tensor x2Reference = x2.detach().clone().requires_grad_(true);
                Tensor g = torch.randn(new long[] {4, 3, 5}, options);
                SGD sgd = new SGD(module.parameters(), new SGDOptions(0.5));

                Tensor y1 = module.forward(x1);
                Tensor y2 = module.forward(x2);
                y1.sum().backward();
                double alphaBefore = values(module.alpha())[0];
                sgd.step();
                assertNotEquals(alphaBefore, values(module.alpha())[0], name + ": the step moved alpha");
                sgd.zero_grad();
                Tensors.backward(y2, g);

                Tensors.backward(reference(x2Reference, before.alpha(), before.beta()), g);
                double tolerance = dtype == ScalarType.Float ? 1e-5 : 1e-12;
                assertClose(values(x2Reference.grad()), values(x2.grad()), tolerance, 0, name + ": grad x");
                assertClose(values(before.alpha().grad()), values(module.alpha().grad()), tolerance, tolerance,
                        name + ": grad alpha");
                assertClose(values(before.beta().grad()), values(module.beta().grad()), tolerance, tolerance,
                        name + ": grad beta");
            }
        }
    }

    /**
     * libtorch's other optimizers bump the versions of the parameters they step, so there the second backward of
     * the test above is refused, naming the in-place change, as libtorch's own operations refuse it: AReLU saves
     * alpha and beta for that check. The composed reference says the same.
     */
    @Test
    void aBackwardAfterAnotherOptimizersStepIsRefusedAsForBuiltInOperations() {
        for (String name : new String[] {"Adam", "AdamW", "RMSprop", "Adagrad"}) {
            for (boolean fused : new boolean[] {true, false}) {
                AReLU module = new AReLU();
                Optimizer optimizer = switch (name) {
                    case "Adam" -> new Adam(module.parameters(), new AdamOptions(0.1));
                    case "AdamW" -> new AdamW(module.parameters(), new AdamWOptions(0.1));
                    case "RMSprop" -> new RMSprop(module.parameters(), new RMSpropOptions(0.1));
                    default -> new Adagrad(module.parameters(), new AdagradOptions(0.1));
                };
                Tensor x1 = torch.randn(new long[] {4, 3});
                Tensor x2 = torch.randn(new long[] {4, 3});
                Tensor y1 = fused ? module.forward(x1)
                        : AReLUFunctional.areluComposed(x1, module.alpha(), module.beta());
                Tensor y2 = fused ? module.forward(x2)
                        : AReLUFunctional.areluComposed(x2, module.alpha(), module.beta());
                y1.sum().backward();
                long version = module.alpha()._version();
                optimizer.step();
                assertTrue(module.alpha()._version() > version, name + " bumps alpha's version");
                RuntimeException refused = assertThrows(RuntimeException.class, () -> y2.sum().backward(),
                        name + (fused ? ", fused" : ", composed") + ": the second backward");
                assertTrue(refused.getMessage().contains("modified by an inplace operation"),
                        name + ": " + refused.getMessage());
            }
        }
    }

    @Test
    void forwardEqualsReferenceOnTheModuleParameters() {
        AReLU arelu = new AReLU(0.3, 0.5);
        Tensor x = torch.randn(new long[] {6, 5});
        assertClose(values(reference(x, arelu.alpha(), arelu.beta())), values(arelu.forward(x)), 1e-6, 1e-7,
                "module forward");
    }

    @Test
    void sgdAndAdamStepsMoveAlphaAndBeta() {
        for (int variant = 0; variant < 2; variant++) {
            Net net = new Net();
            Optimizer optimizer = variant == 0
                    ? new SGD(net.parameters(), new SGDOptions(0.1))
                    : new Adam(net.parameters(), new AdamOptions(0.05));
            double alpha0 = value(net.act.alpha());
            double beta0 = value(net.act.beta());
            Tensor x = torch.randn(new long[] {32, 4});
            Tensor target = torch.randn(new long[] {32, 1});
            double firstLoss = Double.NaN;
            double lastLoss = Double.NaN;
            for (int step = 0; step < 20; step++) {
                try (PointerScope stepScope = new PointerScope()) {
                    optimizer.zero_grad();
                    Tensor loss = net.forward(x).sub(target).pow(new org.bytedeco.pytorch.Scalar(2)).mean();
                    loss.backward();
                    optimizer.step();
                    lastLoss = value(loss);
                    if (step == 0) {
                        firstLoss = lastLoss;
                    }
                }
            }
            String name = variant == 0 ? "SGD" : "Adam";
            assertTrue(lastLoss < firstLoss, name + " lowers the loss: " + firstLoss + " -> " + lastLoss);
            assertNotEquals(alpha0, value(net.act.alpha()), name + " moves alpha");
            assertNotEquals(beta0, value(net.act.beta()), name + " moves beta");
        }
    }

    /**
     * The opt-in projection: alphas outside [0.01, 0.99] are put on the bound, those inside keep their bits,
     * beta is untouched, so the module computes the same function; an alpha past the clamp, which got no
     * gradient, gets one on the bound again (the reference's, through libtorch's clamp), and the parameter stays
     * the optimizer's leaf.
     */
    @Test
    void projectAlphaPutsAnAlphaPastTheClampBackOnItsBoundWhereItGetsAGradientAgain() {
        AReLU arelu = new AReLU(5, 0.9, 2.0);
        float[] raw = {-0.5f, 0.005f, 0.37f, 0.99f, 1.3f};
        arelu.alpha().detach().copy_(Tensor.create(raw));
        arelu.beta().detach().copy_(Tensor.create(new float[] {-1, 0, 1, 2, 3}));
        Tensor x = torch.randn(new long[] {4, 5, 3}).sub(new org.bytedeco.pytorch.Scalar(0.5));
        double[] before = values(arelu.forward(x));

        Tensor parameter = arelu.named_parameters().get("alpha");
        assertSame(arelu, arelu.projectAlpha());
        assertArrayEquals(new double[] {0.01, 0.01, 0.37, 0.99, 0.99}, values(arelu.alpha()), 1e-7);
        assertEquals(0.37f, (float) values(parameter)[2], "an alpha inside the range keeps its value");
        assertArrayEquals(new double[] {-1, 0, 1, 2, 3}, values(arelu.beta()), 0);
        assertArrayEquals(before, values(arelu.forward(x)), 0, "the same function before and after");
        assertTrue(parameter.is_leaf() && parameter.requires_grad(), "still a leaf the optimizer steps");
        assertArrayEquals(values(arelu.alpha()), values(parameter), 0, "the registered parameter itself changed");

        // Scalar alpha 1.3 gets no gradient; projected to 0.99 it gets the reference's.
        AReLU scalar = new AReLU(1.3, 2.0);
        Tensor negative = torch.rand(new long[] {16}).add(new org.bytedeco.pytorch.Scalar(0.1)).neg();
        scalar.forward(negative).sum().backward();
        assertEquals(0.0, value(scalar.alpha().grad()), 0, "past the clamp: no gradient");
        scalar.alpha().grad().zero_();
        scalar.projectAlpha();
        scalar.forward(negative).sum().backward();
        Tensor alphaCopy = scalar.alpha().detach().clone().requires_grad_(true);
        reference(negative, alphaCopy, scalar.beta().detach()).sum().backward();
        double expected = value(alphaCopy.grad());
        assertEquals(value(negative.sum()), expected, 1e-5, "d/da of -relu(-x) * a summed: the sum of x");
        assertEquals(expected, value(scalar.alpha().grad()), 1e-5, "on the bound the gradient flows again");

        IllegalArgumentException integer = assertThrows(IllegalArgumentException.class,
                () -> AReLUFunctional.projectAlpha(torch.ones(new long[] {2}, new TensorOptions(ScalarType.Long))));
        assertTrue(integer.getMessage().contains("floating-point alpha, got Long[2] on cpu"), integer.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AReLUFunctional.projectAlpha(new Tensor()));
    }

    /**
     * A network's AReLU layers come back from bytedeco's modules() as plain Modules, so {@code instanceof AReLU} finds
     * none of them (checked here, as the reason for projectAlphas); projectAlphas finds them at any depth, projects
     * exactly those alphas, and leaves the other parameters alone.
     */
    @Test
    void projectAlphasProjectsEveryAReLUOfANetwork() {
        Module network = new Module();
        Net inner = network.register_module("inner", new Net());
        AReLU channelwise = network.register_module("act", AReLU.channelwise(3));
        LinearImpl linear = network.register_module("fc", new LinearImpl(3, 3));
        try (NoGradGuard noGrad = new NoGradGuard()) {
            inner.act.alpha().fill_(new Scalar(1.5));
            channelwise.alpha().copy_(Tensor.create(-0.2f, 0.5f, 2.0f));
            linear.weight().fill_(new Scalar(7.0));
        }
        boolean anyFound = false;
        org.bytedeco.pytorch.Module[] modules = network.modules().get();
        for (org.bytedeco.pytorch.Module m : modules) {
            anyFound |= m instanceof AReLU;
        }
        assertFalse(anyFound, "bytedeco now hands out AReLU objects: projectAlphas may be unneeded");

        assertEquals(2, AReLU.projectAlphas(network));
        assertArrayEquals(new double[] {0.99}, values(inner.act.alpha()), 1e-7);
        assertArrayEquals(new double[] {0.01, 0.5, 0.99}, values(channelwise.alpha()), 1e-7);
        assertArrayEquals(new double[] {2.0, 2.0, 2.0}, values(channelwise.beta()), 0);
        assertEquals(7.0, values(linear.weight())[0], 0);
        assertEquals(1, AReLU.projectAlphas(channelwise), "a module is its own network");
        assertEquals(0, AReLU.projectAlphas(new LinearImpl(2, 2)));
    }

    @Test
    void saveLoadRoundTripRestoresParametersExactly(@TempDir Path dir) throws Exception {
        AReLU saved = AReLU.channelwise(3);
        try (org.bytedeco.pytorch.NoGradGuard guard = new org.bytedeco.pytorch.NoGradGuard()) {
            saved.alpha().copy_(Tensor.create(0.123f, 0.456f, 0.789f));
            saved.beta().copy_(Tensor.create(-1.5f, 0.25f, 3.0f));
        }
        Path file = dir.resolve("arelu.pt");
        OutputArchive out = new OutputArchive();
        saved.save(out);
        out.save_to(file.toString());
        assertTrue(Files.size(file) > 0);

        AReLU loaded = AReLU.channelwise(3);
        InputArchive in = new InputArchive();
        in.load_from(file.toString());
        loaded.load(in);
        assertArrayEquals(values(saved.alpha()), values(loaded.alpha()), 0.0);
        assertArrayEquals(values(saved.beta()), values(loaded.beta()), 0.0);
        Tensor x = torch.randn(new long[] {2, 3, 4});
        assertArrayEquals(values(saved.forward(x)), values(loaded.forward(x)), 0.0);
    }

    /** A checkpoint of this module, saved to a file and opened as an archive to load from. */
    private static InputArchive checkpoint(Module saved, Path dir, String name) {
        Path file = dir.resolve(name);
        OutputArchive out = new OutputArchive();
        saved.save(out);
        out.save_to(file.toString());
        InputArchive in = new InputArchive();
        in.load_from(file.toString());
        return in;
    }

    /**
     * libtorch's load takes a checkpoint's tensors whatever their shapes: a channel-wise checkpoint loaded into a
     * module of another channel count, or into the scalar form, would replace its parameters. AReLU's load refuses it,
     * naming both shapes, as PyTorch's load_state_dict refuses it, and keeps its own values.
     */
    @Test
    void aCheckpointOfAnotherShapeIsRefusedNamingTheShapes(@TempDir Path dir) {
        AReLU five = AReLU.channelwise(5);
        for (AReLU target : new AReLU[] {AReLU.channelwise(3), new AReLU()}) {
            double[] alphaBefore = values(target.alpha());
            InputArchive in = checkpoint(five, dir, "five.pt");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> target.load(in));
            assertTrue(e.getMessage().contains("checkpoint holds alpha as Float of shape [5], this module's alpha is "
                    + "Float of shape [" + target.numParameters() + "]")
                    && e.getMessage().contains("build the module as it was saved (AReLU.channelwise(5))"),
                    e.getMessage());
            assertArrayEquals(alphaBefore, values(target.alpha()), 0.0);
            assertEquals(target.numParameters(), target.alpha().numel());
        }
        // A checkpoint whose alpha is no AReLU's [C] (here [1, 1]) gets no constructor to try: the module loaded is one.
        AReLU reshaped = new AReLU();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            reshaped.alpha().set_(torch.full(new long[] {1, 1}, new Scalar(0.5)));
        }
        AReLU scalar = new AReLU();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> scalar.load(checkpoint(reshaped, dir, "reshaped.pt")));
        assertTrue(e.getMessage().contains("alpha as Float of shape [1, 1], this module's alpha is Float of shape [1]: "
                + "an AReLU's parameters have shape [C]"), e.getMessage());
    }

    /**
     * libtorch's load points a parameter at the checkpoint's memory whatever its dtype: a float64 checkpoint loaded
     * into a float32 module read each 8-byte value as a 4-byte float (alpha 0.3, beta -1 came back as 2.0 and 0.0,
     * silently), and a float32 one into a float64 module failed with libtorch's storage error. Refused, naming both
     * dtypes and the conversion; after it, the checkpoint loads exactly.
     */
    @Test
    void aCheckpointOfAnotherDtypeIsRefusedNamingTheDtypes(@TempDir Path dir) {
        AReLU doubles = new AReLU(0.3, -1.0);
        doubles.to(ScalarType.Double, false);
        AReLU floats = new AReLU();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> floats.load(checkpoint(doubles, dir, "double.pt")));
        assertTrue(e.getMessage().contains("checkpoint holds alpha as Double of shape [1], this module's alpha is "
                + "Float of shape [1]") && e.getMessage().contains("to(ScalarType.Double, false)"), e.getMessage());
        assertEquals(AReLU.DEFAULT_ALPHA, value(floats.alpha()), 1e-7);
        assertEquals(AReLU.DEFAULT_BETA, value(floats.beta()), 1e-7);

        AReLU wider = new AReLU();
        wider.to(ScalarType.Double, false);
        e = assertThrows(IllegalArgumentException.class, () -> wider.load(checkpoint(new AReLU(), dir, "float.pt")));
        assertTrue(e.getMessage().contains("alpha as Float of shape [1], this module's alpha is Double"), e.getMessage());

        floats.to(ScalarType.Double, false);
        floats.load(checkpoint(doubles, dir, "double.pt"));
        assertEquals((double) 0.3f, value(floats.alpha()), 0.0); // made in float32, then converted
        assertEquals(-1.0, value(floats.beta()), 0.0);
    }

    /**
     * libtorch's load reads alpha before it fails on a missing beta: the module kept the checkpoint's alpha and its own
     * beta after the exception, and computed with them. Refused before anything is read, naming what is missing; a
     * checkpoint without alpha too.
     */
    @Test
    void aCheckpointWithoutBetaOrAlphaIsRefusedAndLeavesTheModuleAsItWas(@TempDir Path dir) {
        for (String present : new String[] {"alpha", "beta"}) {
            Path file = dir.resolve(present + "-only.pt");
            OutputArchive out = new OutputArchive();
            out.write(present, torch.full(new long[] {1}, new Scalar(0.125)));
            out.save_to(file.toString());
            InputArchive in = new InputArchive();
            in.load_from(file.toString());
            AReLU target = new AReLU();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> target.load(in));
            String missing = present.equals("alpha") ? "beta" : "alpha";
            assertTrue(e.getMessage().contains("AReLU's checkpoint has no tensor " + missing), e.getMessage());
            assertEquals(AReLU.DEFAULT_ALPHA, value(target.alpha()), 1e-7);
            assertEquals(AReLU.DEFAULT_BETA, value(target.beta()), 1e-7);
        }
    }

    /**
     * libtorch's load of a network calls AReLU's load for its AReLU child: a checkpoint of another dtype stops the
     * network's load there with AReLU's message (as text: it passes through libtorch), and one of the network's own
     * dtype loads every parameter.
     */
    @Test
    void aNetworksLoadChecksItsAReLU(@TempDir Path dir) {
        Net doubles = new Net();
        doubles.to(ScalarType.Double, false);
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> new Net().load(checkpoint(doubles, dir, "net-double.pt")));
        assertTrue(e.getMessage().contains("checkpoint holds alpha as Double of shape [1], this module's alpha is "
                + "Float of shape [1]"), e.getMessage());

        Net saved = new Net();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            saved.act.alpha().fill_(new Scalar(0.25));
            saved.act.beta().fill_(new Scalar(-0.5));
        }
        Net loaded = new Net();
        loaded.load(checkpoint(saved, dir, "net.pt"));
        assertEquals(0.25, value(loaded.act.alpha()), 0.0);
        assertEquals(-0.5, value(loaded.act.beta()), 0.0);
        Tensor x = torch.randn(new long[] {3, 4});
        assertArrayEquals(values(saved.forward(x)), values(loaded.forward(x)), 0.0);
    }

    /**
     * A parameter replaced by a tensor of another shape ({@code set_}, not a checkpoint) is refused at the module's
     * next use, naming both shapes; toString does not throw.
     */
    @Test
    void aParameterReplacedByAnotherShapeIsRefusedAtFirstUse() {
        for (AReLU target : new AReLU[] {AReLU.channelwise(3), new AReLU()}) {
            try (NoGradGuard noGrad = new NoGradGuard()) {
                target.alpha().set_(torch.full(new long[] {5}, new Scalar(0.5)));
                target.beta().set_(torch.full(new long[] {5}, new Scalar(1.0)));
            }
            long built = target.numParameters();
            Tensor x = torch.randn(new long[] {2, 5, 4});
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> target.forward(x));
            assertTrue(e.getMessage().contains("built with alpha and beta of shape [" + built + "]")
                    && e.getMessage().contains("holds alpha of shape [5]")
                    && e.getMessage().contains("build the module with the shape it should hold (AReLU.channelwise(5))"),
                    e.getMessage());
            assertThrows(IllegalStateException.class, () -> target.pathFor(x));
            assertTrue(target.toString().contains("holding alpha of shape [5]"), target.toString());
        }
    }

    @Test
    void toDoubleConvertsParametersAndForwardRunsInDouble() {
        Net net = new Net();
        net.to(ScalarType.Double, false);
        assertEquals(ScalarType.Double, net.act.alpha().scalar_type().intern());
        assertEquals(ScalarType.Double, net.named_parameters().get("act.beta").scalar_type().intern());
        Tensor x = torch.randn(new long[] {3, 4}, new TensorOptions(ScalarType.Double));
        Tensor y = net.forward(x);
        assertEquals(ScalarType.Double, y.scalar_type().intern());
        y.sum().backward();
        assertTrue(net.act.beta().grad().defined(), "gradient reaches beta after to(Double)");
    }

    @Test
    void worksBesideSequentialContainers() {
        // bytedeco 1.5.13's SequentialImpl only runs built-in modules in its forward chain; a Java module
        // is registered as a named child (so parameters(), to() and save/load include it) and called
        // between Sequential parts.
        SequentialImpl features = new SequentialImpl();
        features.push_back(new LinearImpl(4, 8));
        AReLU act = features.register_module("arelu", new AReLU());
        SequentialImpl head = new SequentialImpl();
        head.push_back(new LinearImpl(8, 2));

        StringTensorDict named = features.named_parameters();
        assertTrue(named.contains("arelu.alpha") && named.contains("arelu.beta"), "Sequential sees AReLU's parameters");
        SGD sgd = new SGD(features.parameters(), new SGDOptions(0.5));
        double beta0 = value(act.beta());
        Tensor x = torch.randn(new long[] {16, 4});
        Tensor y = head.forward(act.forward(features.forward(x)));
        assertEquals("[16, 2]", AReLUArguments.shapeOf(y));
        y.pow(new org.bytedeco.pytorch.Scalar(2)).mean().backward();
        sgd.step();
        assertNotEquals(beta0, value(act.beta()), "an optimizer over the Sequential's parameters moves beta");
        features.to(ScalarType.Double, false);
        assertEquals(ScalarType.Double, act.alpha().scalar_type().intern(), "Sequential.to converts AReLU");
    }

    @Test
    void channelwiseModuleBroadcastsOverNchw() {
        AReLU arelu = new AReLU(4, 0.5, 1.0);
        try (org.bytedeco.pytorch.NoGradGuard guard = new org.bytedeco.pytorch.NoGradGuard()) {
            arelu.alpha().copy_(Tensor.create(0.1f, 0.3f, 0.6f, 0.95f));
            arelu.beta().copy_(Tensor.create(-2f, -0.5f, 0.5f, 2f));
        }
        Tensor x = torch.randn(new long[] {3, 4, 5, 6});
        Tensor y = arelu.forward(x);
        assertEquals("[3, 4, 5, 6]", AReLUArguments.shapeOf(y));
        assertClose(values(reference(x, arelu.alpha(), arelu.beta())), values(y), 1e-6, 1e-7, "NCHW channel-wise");
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> arelu.forward(torch.randn(new long[] {3, 5, 5, 6})));
        assertTrue(wrong.getMessage().contains("4 channels") && wrong.getMessage().contains("[3, 5, 5, 6]"));
    }

    @Test
    void fusedCudaIsChosenPerModuleAndPerCall() {
        // The test JVM runs without -Darelu.cuda.fused, so the default is off for modules and calls.
        AReLU arelu = new AReLU();
        assertFalse(arelu.isFusedCuda());
        assertSame(arelu, arelu.setFusedCuda(true));
        assertTrue(arelu.isFusedCuda());
        assertFalse(new AReLU().isFusedCuda(), "one module's setting is its own");
        // CPU inputs take the fused kernels whatever the CUDA setting, for the module and for a call.
        Tensor x = torch.randn(new long[] {4, 5});
        assertEquals(AReLUPath.FUSED_AUTOGRAD, arelu.pathFor(x));
        assertEquals(AReLUPath.FUSED_AUTOGRAD, arelu.setFusedCuda(false).pathFor(x));
        assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(x, arelu.alpha(), arelu.beta(), true));
        assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(x, arelu.alpha(), arelu.beta(), false));
        assertClose(values(arelu.forward(x)),
                values(AReLUFunctional.arelu(x, arelu.alpha(), arelu.beta(), true)), 0, 0, "y");
    }

    @Test
    void pathForSaysWhichPathForwardTakes() {
        AReLU arelu = new AReLU();
        Tensor x = torch.randn(new long[] {4, 5});
        // The parameters require grad, so a float32 CPU input under grad mode records the fused node.
        assertEquals(AReLUPath.FUSED_AUTOGRAD, arelu.pathFor(x));
        assertEquals(AReLUFunctional.pathFor(x, arelu.alpha(), arelu.beta()), arelu.pathFor(x));
        assertInstanceOf(FusedAReLUFunction.class, JavaFunction.functionOf(arelu.forward(x)), "forward took the fused node");
        try (org.bytedeco.pytorch.NoGradGuard guard = new org.bytedeco.pytorch.NoGradGuard()) {
            assertEquals(AReLUPath.FUSED_NO_GRAD, arelu.pathFor(x));
        }

        arelu.to(ScalarType.Half, false);
        Tensor half = x.to(ScalarType.Half);
        assertEquals(AReLUPath.COMPOSED, arelu.pathFor(half));
        assertNull(JavaFunction.functionOf(arelu.forward(half)), "forward took libtorch's ops");
        // The module now holds half parameters: a float32 input is refused with forward's own message.
        IllegalArgumentException pathError = assertThrows(IllegalArgumentException.class, () -> arelu.pathFor(x));
        IllegalArgumentException forwardError = assertThrows(IllegalArgumentException.class, () -> arelu.forward(x));
        assertEquals(forwardError.getMessage(), pathError.getMessage());

        AReLU channels = AReLU.channelwise(3);
        assertEquals(AReLUPath.FUSED_AUTOGRAD, channels.pathFor(torch.randn(new long[] {2, 3, 4})));
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> channels.pathFor(torch.randn(new long[] {2, 5, 4})));
        assertTrue(wrong.getMessage().contains("3 channels"), wrong.getMessage());
    }

    @Test
    void toStringNamesTheFormAndTheCurrentParameters() {
        assertEquals("AReLU(scalar, alpha=0.9000, beta=2.0000)", new AReLU().toString());
        AReLU custom = new AReLU(0.25, -1.5);
        custom.to(ScalarType.Double, false);
        assertEquals("AReLU(scalar, alpha=0.2500, beta=-1.5000)", custom.toString());

        AReLU channels = new AReLU(3, 0.5, 1.0);
        try (org.bytedeco.pytorch.NoGradGuard guard = new org.bytedeco.pytorch.NoGradGuard()) {
            channels.beta().copy_(Tensor.create(-2f, 0.5f, 3.25f));
        }
        assertEquals("AReLU(channel-wise, 3 channels, alpha=[0.5000, 0.5000, 0.5000], beta=[-2.0000, 0.5000, 3.2500])",
                channels.toString());

        // An optimizer step shows: toString reads the parameters as they are now.
        SGD sgd = new SGD(channels.parameters(), new SGDOptions(0.1));
        channels.forward(torch.randn(new long[] {2, 3})).sum().backward();
        sgd.step();
        assertNotEquals("AReLU(channel-wise, 3 channels, alpha=[0.5000, 0.5000, 0.5000], beta=[-2.0000, 0.5000, 3.2500])",
                channels.toString());

        AReLU wide = AReLU.channelwise(10);
        assertEquals("AReLU(channel-wise, 10 channels, alpha=[0.9000, 0.9000, 0.9000, 0.9000, 0.9000, 0.9000, 0.9000, "
                + "0.9000, ...], beta=[2.0000, 2.0000, 2.0000, 2.0000, 2.0000, 2.0000, 2.0000, 2.0000, ...])",
                wide.toString());
    }
}
