package io.github.arelu.jmh;

import java.util.concurrent.TimeUnit;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
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
 * One activation's forward and backward as a network makes it: with the caches cold. Between two layers a
 * network runs convolutions over megabytes, which evict the code and data of libtorch's dispatcher, of JNI and
 * of the Java side; {@link AReLUBenchmark} calls the same thing back to back, with everything cached, and so
 * understates a call's fixed cost several times over. Here, before every invocation (outside its time), a
 * 64 MB tensor is written, more than this host's last-level cache.
 *
 * <p>The input is, as in a network, the result of an operation (a multiply by a one-element leaf), not a
 * leaf: {@code coldBaseline} measures that multiply and its backward alone, so {@code coldFwdBwdRelu -
 * coldBaseline} and {@code coldFwdBwdModule - coldBaseline} are what the two activations cost. Sizes: the
 * activations of the paper's ConvMNIST at batch 128 (its first and last layer).
 *
 * <p>Warmed up for 100 s: writing the 64 MB leaves room for a few hundred invocations a second, and C2
 * compiles AReLU's Java path only after some 5000 calls; until then each call costs tens of microseconds more
 * (jmh/README.md), which a training run pays for its first minutes only.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, time = 10)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class ColdCallBenchmark {

    @Param({"5120", "184320"})
    public int size;

    /** libtorch's threads. */
    @Param({"1"})
    public int threads;

    private PointerScope stateScope;
    private Tensor leaf;
    private Tensor weight;
    private Tensor gradOut;
    private Tensor evictor;
    private Scalar one;
    private AReLU arelu;
    private BoolOptional noRetain;
    private TensorArrayRefOptional noInputs;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        torch.set_num_threads(threads);
        torch.manual_seed(0);
        stateScope = new PointerScope();
        leaf = torch.randn(size).requires_grad_(true);
        weight = torch.ones(1).requires_grad_(true);
        gradOut = torch.randn(size);
        evictor = torch.zeros(16L << 20);
        one = new Scalar(1.0);
        arelu = new AReLU();
        noRetain = new BoolOptional();
        noInputs = new TensorArrayRefOptional();
        if (AReLUFunctional.pathFor(leaf, arelu.alpha(), arelu.beta()) != AReLUPath.FUSED_AUTOGRAD) {
            throw new IllegalStateException("the fused kernels did not load: the module would not be measured");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    /** Outside the measured time: 64 MB written, so the measured call finds nothing of its own in the caches. */
    @Setup(Level.Invocation)
    public void evictCaches() {
        evictor.add_(one);
    }

    @Benchmark
    public void coldBaseline() {
        try (PointerScope s = new PointerScope()) {
            backward(leaf.mul(weight));
        }
    }

    @Benchmark
    public void coldFwdBwdRelu() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.relu(leaf.mul(weight)));
        }
    }

    @Benchmark
    public void coldFwdBwdModule() {
        try (PointerScope s = new PointerScope()) {
            backward(arelu.forward(leaf.mul(weight)));
        }
    }

    /** Backward with the fixed output gradient, then the gradients dropped as zero_grad(set_to_none) does. */
    private void backward(Tensor y) {
        y.backward(gradOut, noRetain, false, noInputs);
        leaf.mutable_grad().reset();
        weight.mutable_grad().reset();
        arelu.alpha().mutable_grad().reset();
        arelu.beta().mutable_grad().reset();
    }
}
