package io.github.arelu.jmh;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import io.github.arelu.examples.model.ConvMnist;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.LibTorchSettings;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
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
 * the paper's ConvMNIST ({@link ConvMnist}, the examples' network itself) with ReLU, AReLU and PReLU, and of the
 * examples' small ResNet ({@code --net ResNet}: BatchNorm, 13 activation layers) with ReLU, AReLU and
 * channel-wise AReLU; float32, 2 libtorch threads, libtorch's own convolutions unless {@code -p oneDnn=true}
 * ({@link LibTorchSettings}).
 *
 * <p>One invocation runs one step of each network, in an order that rotates from invocation to invocation,
 * and {@link StepTimes} adds up each network's time. The three networks thus share every minute of the run:
 * this virtual machine's speed drifts by 10-30 % from minute to minute, which swamps a 3 % difference between
 * runs made one after the other (two consecutive {@code examples/bin/compare} runs gave AReLU at 1.26x and
 * 0.88x of ReLU's images/s). The ratio of the sums is the images/s ratio. The three ResNets start from the
 * same weights (AReLU's parameters draw nothing from the generator), so they differ in their activations only.
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

    /** libtorch's oneDNN convolutions (the examples' {@code --onednn}); off as the examples' default falls back to. */
    @Param({"false"})
    public boolean oneDnn;

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

    /** Milliseconds spent in each ResNet's steps, summed per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class ResNetStepTimes {
        public double resnetReluMs;
        public double resnetAreluMs;
        public double resnetAreluChannelwiseMs;

        @Setup(Level.Iteration)
        public void clear() {
            resnetReluMs = 0;
            resnetAreluMs = 0;
            resnetAreluChannelwiseMs = 0;
        }
    }

    private PointerScope stateScope;
    private Tensor images;
    private Tensor labels;
    private List<TrainingNetwork> networks;
    private List<TrainingNetwork> resNets;
    private int rotation;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        // As the examples run: libtorch's own convolutions (bytedeco 2.10.0's oneDNN gives NaN there), no
        // NNPACK, one OpenBLAS thread under libtorch's OpenMP threads.
        LibTorchSettings.applyDefaults(threads);
        LibTorchSettings.setOneDnnEnabled(oneDnn);
        stateScope = new PointerScope();
        torch.manual_seed(0);
        images = torch.randn(BATCH, 1, 28, 28);
        labels = torch.randint(10, new long[] {BATCH}, new TensorOptions(torch.ScalarType.Long));
        if (new AReLU().pathFor(images) == AReLUPath.COMPOSED) {
            throw new IllegalStateException("the fused kernels did not load: AReLU's training path would not be measured");
        }
        networks = List.of(new TrainingNetwork(MnistNetwork.Kind.ConvMNIST, "ReLU"),
                new TrainingNetwork(MnistNetwork.Kind.ConvMNIST, "AReLU"), new TrainingNetwork(MnistNetwork.Kind.ConvMNIST, "PReLU"));
        resNets = List.of(new TrainingNetwork(MnistNetwork.Kind.ResNet, "ReLU", 1), new TrainingNetwork(MnistNetwork.Kind.ResNet,
                "AReLU", 1), new TrainingNetwork(MnistNetwork.Kind.ResNet, "AReLU-channelwise", 1));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    /**
     * ConvMNIST's three networks, interleaved. Warmed up for 150 s, some 2000 rounds at one thread: AReLU's Java
     * path runs once per layer and step, and its step is 3-5 % slower until C2 has compiled that path, after
     * about 1500 steps of its three layers (jmh/README.md); a long training run spends nearly all its time past
     * that point, and so does what this measures.
     */
    @Benchmark
    @Warmup(iterations = 10, time = 15)
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

    /**
     * The same interleaving for the ResNet: ReLU, AReLU, channel-wise AReLU on the same batch. Warmed up for 300
     * s: with 13 activation layers the ResNet takes AReLU's Java path past C2's threshold in about 400 steps,
     * and its first 100-400 steps are 1-2 % slower (jmh/README.md); 300 s are about 345 rounds with libtorch's
     * own convolutions (each round runs both AReLU networks, whose calls share that path: 690 AReLU steps) and
     * about 670 with oneDNN's. 200 s (230 rounds) left the channel-wise network's own 400 steps short.
     */
    @Benchmark
    @Warmup(iterations = 10, time = 30)
    public void resnetReluAreluChannelwiseSteps(ResNetStepTimes times) {
        for (int k = 0; k < 3; k++) {
            int which = (rotation + k) % 3;
            long start = System.nanoTime();
            resNets.get(which).step(images, labels);
            double ms = (System.nanoTime() - start) / 1e6;
            switch (which) {
                case 0 -> times.resnetReluMs += ms;
                case 1 -> times.resnetAreluMs += ms;
                default -> times.resnetAreluChannelwiseMs += ms;
            }
        }
        rotation = (rotation + 1) % 3;
    }
}
