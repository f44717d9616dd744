package io.github.arelu.jmh;

import java.util.concurrent.TimeUnit;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * AReLU in a channels_last network: forward and backward of a float32 [32, 32, 32, 32] activation held
 * channels_last (1M elements, 2 libtorch threads), against ReLU on the same tensor. {@code *ChannelsLast}: the
 * fused kernels on the channels_last memory as it is, output and input gradient channels_last.
 * {@code *ViaContiguous}: what a channels_last network paid when the fused path made its input contiguous and
 * returned a contiguous output: the copy in, and the next convolution's copy back to channels_last. The input
 * is an activation between layers (the result of an operation, made once), as in a network: a leaf that
 * requires grad would be copied by AReLU's forward, which an optimizer may step (see {@code AReLUBenchmark}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class MemoryFormatBenchmark {

    private PointerScope stateScope;
    private Tensor leaf;
    /** {@code leaf * 1}, channels_last like it: mul by a scalar saves no tensor, so its node runs again each time. */
    private Tensor x;
    private Tensor gradOut;
    private AReLU scalar;
    private AReLU channelwise;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        torch.set_num_threads(2);
        torch.manual_seed(0);
        stateScope = new PointerScope();
        leaf = torch.randn(32, 32, 32, 32).contiguous(MemoryFormat.ChannelsLast).requires_grad_(true);
        x = leaf.mul(new Scalar(1.0));
        if (!x.is_contiguous(MemoryFormat.ChannelsLast) || x.is_contiguous()) {
            throw new IllegalStateException("the activation is not channels_last: the benchmark would not measure it");
        }
        gradOut = torch.randn(32, 32, 32, 32).contiguous(MemoryFormat.ChannelsLast);
        scalar = new AReLU();
        channelwise = AReLU.channelwise(32);
        for (AReLU m : new AReLU[] {scalar, channelwise}) {
            if (m.pathFor(x) != AReLUPath.FUSED_AUTOGRAD) {
                throw new IllegalStateException("the fused kernels do not serve " + m + ": the benchmark would measure "
                        + m.pathFor(x));
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    private void backward(Tensor y) {
        y.backward(gradOut, new BoolOptional(), false, new TensorArrayRefOptional());
        leaf.mutable_grad().reset();
        for (AReLU m : new AReLU[] {scalar, channelwise}) {
            m.alpha().mutable_grad().reset();
            m.beta().mutable_grad().reset();
        }
    }

    @Benchmark
    public void fwdBwdReluChannelsLast() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.relu(x));
        }
    }

    @Benchmark
    public void fwdBwdScalarChannelsLast() {
        try (PointerScope s = new PointerScope()) {
            backward(scalar.forward(x));
        }
    }

    @Benchmark
    public void fwdBwdScalarViaContiguous() {
        try (PointerScope s = new PointerScope()) {
            backward(scalar.forward(x.contiguous()).contiguous(MemoryFormat.ChannelsLast));
        }
    }

    @Benchmark
    public void fwdBwdChannelwiseChannelsLast() {
        try (PointerScope s = new PointerScope()) {
            backward(channelwise.forward(x));
        }
    }

    @Benchmark
    public void fwdBwdChannelwiseViaContiguous() {
        try (PointerScope s = new PointerScope()) {
            backward(channelwise.forward(x.contiguous()).contiguous(MemoryFormat.ChannelsLast));
        }
    }
}
