package io.github.arelu.jmh;

import java.util.concurrent.TimeUnit;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import io.github.arelu.internal.FusedAReLU;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.PReLUImpl;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * AReLU's training path beside ReLU's, float32 on the CPU with 2 libtorch threads, each invocation in its
 * own PointerScope as a training step.
 *
 * <p>{@code fwdBwd*}: forward and backward through libtorch's autograd with a given output gradient, the
 * gradients reset afterwards (a training step after {@code zero_grad}): ReLU, PReLU, the AReLU module
 * (its fused autograd node), and the reference formula {@code relu(x) * b - relu(-x) * a} in libtorch ops
 * (AReLU's composed path). {@code fwdBwdKernels}: the fused kernels alone, forward and backward into
 * preallocated buffers, so {@code fwdBwdModule - fwdBwdKernels} is what the autograd node costs per call.
 * {@code fwd*}: forward only, grad mode off.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class AReLUBenchmark {

    @Param({"65536", "1048576", "16777216"})
    public int size;

    /**
     * libtorch's threads. 2 by default; 1 where other processes share the cores, whose descheduling of one
     * of libtorch's threads stalls every parallel region by a scheduler tick.
     */
    @Param({"2"})
    public int threads;

    private PointerScope stateScope;
    private Tensor x;
    private Tensor xGrad;
    /** xGrad * 1, made once: mul by a scalar saves no tensor, so its node runs again in every backward. */
    private Tensor activation;
    private Tensor gradOut;
    private Tensor out;
    private Tensor gradIn;
    private AReLU arelu;
    private PReLUImpl prelu;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        torch.set_num_threads(threads);
        torch.manual_seed(0);
        stateScope = new PointerScope();
        x = torch.randn(size);
        xGrad = x.clone().requires_grad_(true);
        activation = xGrad.mul(new Scalar(1.0));
        gradOut = torch.randn(size);
        out = torch.empty_like(x);
        gradIn = torch.empty_like(x);
        arelu = new AReLU();
        prelu = new PReLUImpl();
        if (AReLUFunctional.pathFor(xGrad, arelu.alpha(), arelu.beta()) != AReLUPath.FUSED_AUTOGRAD) {
            throw new IllegalStateException("the fused kernels did not load: the module would not be measured");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    /** Backward with the fixed output gradient, then the gradients dropped as zero_grad(set_to_none) does. */
    private void backward(Tensor y) {
        y.backward(gradOut, new BoolOptional(), false, new TensorArrayRefOptional());
        xGrad.mutable_grad().reset();
        arelu.alpha().mutable_grad().reset();
        arelu.beta().mutable_grad().reset();
        prelu.weight().mutable_grad().reset();
    }

    // ---------------------------------------------------------------- forward and backward

    @Benchmark
    public void fwdBwdRelu() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.relu(xGrad));
        }
    }

    @Benchmark
    public void fwdBwdModule() {
        try (PointerScope s = new PointerScope()) {
            backward(arelu.forward(xGrad));
        }
    }

    /**
     * The module on an activation between layers (the result of an operation), where {@link #fwdBwdModule}'s input
     * is a leaf, whose memory an optimizer may step, so that forward keeps a copy of it. The activation is made once;
     * its backward, {@code grad * 1}, runs in both this and {@link #fwdBwdReluActivation}.
     */
    @Benchmark
    public void fwdBwdModuleActivation() {
        try (PointerScope s = new PointerScope()) {
            backward(arelu.forward(activation));
        }
    }

    @Benchmark
    public void fwdBwdReluActivation() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.relu(activation));
        }
    }

    /**
     * The activation's own backward alone, which {@link #fwdBwdModuleActivation} and {@link #fwdBwdReluActivation}
     * both run: RatioReport takes it off both before it divides them.
     */
    @Benchmark
    public void fwdBwdActivationOnly() {
        try (PointerScope s = new PointerScope()) {
            backward(activation);
        }
    }

    @Benchmark
    public void fwdBwdKernels() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.forward(x, arelu.alpha(), arelu.beta(), out);
            FusedAReLU.backward(gradOut, x, arelu.alpha(), arelu.beta(), gradIn);
        }
    }

    @Benchmark
    public void fwdBwdComposed() {
        try (PointerScope s = new PointerScope()) {
            backward(AReLUFunctional.areluComposed(xGrad, arelu.alpha(), arelu.beta()));
        }
    }

    @Benchmark
    public void fwdBwdPrelu() {
        try (PointerScope s = new PointerScope()) {
            backward(prelu.forward(xGrad));
        }
    }

    // ---------------------------------------------------------------- forward, grad mode off

    @Benchmark
    public void fwdRelu() {
        try (PointerScope s = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            torch.relu(x);
        }
    }

    @Benchmark
    public void fwdModule() {
        try (PointerScope s = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            arelu.forward(x);
        }
    }
}
