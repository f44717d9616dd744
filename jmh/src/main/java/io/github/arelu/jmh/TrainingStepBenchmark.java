package io.github.arelu.jmh;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.PReLUImpl;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * End to end: one SGD training step (momentum 0.9, batch 128, zero_grad, forward, NLL loss, backward, step) of
 * the paper's ConvMNIST (the network of {@code examples/}) with ReLU, AReLU and PReLU, float32, 2 libtorch
 * threads, libtorch's own convolutions as in the examples.
 *
 * <p>One invocation runs one step of each network, in an order that rotates from invocation to invocation,
 * and {@link StepTimes} adds up each network's time. The three networks thus share every minute of the run:
 * this virtual machine's speed drifts by 10-30 % from minute to minute, which swamps a 3 % difference between
 * runs made one after the other (two consecutive {@code examples/bin/compare} runs gave AReLU at 1.26x and
 * 0.88x of ReLU's images/s). The ratio of the sums is the images/s ratio.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 10, time = 2)
@Fork(1)
public class TrainingStepBenchmark {

    private static final int BATCH = 128;

    /** libtorch's threads, as in {@link AReLUBenchmark#threads}. */
    @Param({"2"})
    public int threads;

    /** Milliseconds spent in each network's steps, summed per iteration (JMH reports them per iteration). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class StepTimes {
        public double reluMs;
        public double areluMs;
        public double preluMs;

        @Setup(Level.Iteration)
        public void clear() {
            reluMs = 0;
            areluMs = 0;
            preluMs = 0;
        }
    }

    private PointerScope stateScope;
    private Tensor images;
    private Tensor labels;
    private List<Network> networks;
    private int rotation;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        torch.set_num_threads(threads);
        // As the examples' Trainer: libtorch's own convolutions (bytedeco 2.10.0's oneDNN gives NaN there),
        // no NNPACK, one OpenBLAS thread under libtorch's OpenMP threads.
        torch.globalContext().setUserEnabledMkldnn(false);
        torch.globalContext().setUserEnabledNNPACK(false);
        openblas_nolapack.blas_set_num_threads(1);
        stateScope = new PointerScope();
        torch.manual_seed(0);
        images = torch.randn(BATCH, 1, 28, 28);
        labels = torch.randint(10, new long[] {BATCH}, new TensorOptions(torch.ScalarType.Long));
        if (new AReLU().pathFor(images) == AReLUPath.COMPOSED) {
            throw new IllegalStateException("the fused kernels did not load: AReLU's training path would not be measured");
        }
        networks = List.of(new Network(Activation::relu), new Network(Activation::arelu),
                new Network(Activation::prelu));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    @Benchmark
    public void reluAreluPreluSteps(StepTimes times) {
        for (int k = 0; k < 3; k++) {
            int which = (rotation + k) % 3;
            long start = System.nanoTime();
            networks.get(which).step(images, labels);
            double ms = (System.nanoTime() - start) / 1e6;
            switch (which) {
                case 0 -> times.reluMs += ms;
                case 1 -> times.areluMs += ms;
                default -> times.preluMs += ms;
            }
        }
        rotation = (rotation + 1) % 3;
    }

    /** An activation layer: its module (for the parameters, if any) and its forward. */
    private record Activation(Module module, UnaryOperator<Tensor> forward) {

        static Activation relu() {
            return new Activation(new Module(), torch::relu);
        }

        static Activation arelu() {
            AReLU module = new AReLU();
            return new Activation(module, module::forward);
        }

        static Activation prelu() {
            PReLUImpl module = new PReLUImpl();
            return new Activation(module, module::forward);
        }
    }

    /** ConvMNIST as in examples/ (3 x convolution, 2x2 max-pooling, activation; linear 40 -> 10) and its SGD. */
    private static final class Network {
        private final Conv2dImpl conv1 = new Conv2dImpl(1, 10, new LongPointer(5L, 5L));
        private final Conv2dImpl conv2 = new Conv2dImpl(10, 20, new LongPointer(5L, 5L));
        private final Conv2dImpl conv3 = new Conv2dImpl(20, 40, new LongPointer(3L, 3L));
        private final LinearImpl classifier = new LinearImpl(40, 10);
        private final Activation[] activations = new Activation[3];
        private final SGD optimizer;

        Network(Supplier<Activation> activation) {
            TensorVector parameters = new TensorVector();
            for (int i = 0; i < activations.length; i++) {
                activations[i] = activation.get();
            }
            for (Module m : new Module[] {conv1, conv2, conv3, classifier, activations[0].module(),
                activations[1].module(), activations[2].module()}) {
                for (Tensor p : m.parameters().get()) {
                    parameters.push_back(p);
                }
            }
            SGDOptions options = new SGDOptions(1e-4);
            options.momentum().put(0.9);
            optimizer = new SGD(parameters, options);
        }

        void step(Tensor images, Tensor labels) {
            try (PointerScope scope = new PointerScope()) {
                optimizer.zero_grad();
                Tensor x = activations[0].forward().apply(maxPool2(conv1.forward(images)));
                x = activations[1].forward().apply(maxPool2(conv2.forward(x)));
                x = activations[2].forward().apply(maxPool2(conv3.forward(x)));
                Tensor loss = torch.nll_loss(classifier.forward(x.flatten(1, -1)).log_softmax(1), labels);
                loss.backward();
                optimizer.step();
            }
        }

        private static Tensor maxPool2(Tensor x) {
            return torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1},
                    false);
        }
    }
}
