package io.github.arelu.jmh;

import java.util.concurrent.TimeUnit;

import io.github.arelu.AReLUFunctional;
import io.github.arelu.FusedAReLU;

import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
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
 * AReLU's implementations beside ReLU, PReLU and a plain copy, float32 on the CPU with 2 libtorch threads.
 *
 * <p>Each invocation runs in its own PointerScope so its tensors are freed at once, as a training loop
 * does; "Into" variants write into a preallocated output. Names: {@code fwd*} forward only (grad mode
 * off), {@code bwd*} backward only, {@code fwdBwd*} forward and backward with autograd (or the fused
 * kernels' forward plus backward). The reference is {@code relu(x) * b - relu(-x) * a}; "composed" is the
 * library's training path; "fused" the native kernels.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class AReLUBenchmark {

    @Param({"65536", "1048576", "16777216"})
    public int size;

    private Tensor x;
    private Tensor xGrad;
    private Tensor gradOut;
    private Tensor out;
    private Tensor gradIn;
    private Tensor reluOut;
    private Tensor alpha;
    private Tensor beta;
    private Tensor preluWeight;
    private Tensor a;
    private Tensor b;
    private PointerScope stateScope;

    @Setup(Level.Trial)
    public void setUp() {
        LibTorch.load();
        torch.set_num_threads(2);
        torch.manual_seed(0);
        stateScope = new PointerScope();
        x = torch.randn(size);
        xGrad = x.clone().requires_grad_(true);
        gradOut = torch.randn(size);
        out = torch.empty_like(x);
        gradIn = torch.empty_like(x);
        reluOut = torch.relu(x);
        alpha = torch.full(new long[] {1}, new Scalar(0.9f), new org.bytedeco.pytorch.DimnameListOptional(),
                new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Float)).requires_grad_(true);
        beta = torch.full(new long[] {1}, new Scalar(2.0f), new org.bytedeco.pytorch.DimnameListOptional(),
                new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Float)).requires_grad_(true);
        preluWeight = alpha.detach().clone().requires_grad_(true);
        a = torch.clamp(alpha, new ScalarOptional(new Scalar(0.01)), new ScalarOptional(new Scalar(0.99))).reshape();
        b = torch.sigmoid(beta).add(new Scalar(1.0)).reshape();
        if (!FusedAReLU.isAvailable()) {
            throw new IllegalStateException("the fused kernels did not load: benchmarks would compare nothing");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stateScope.close();
    }

    private void backward(Tensor y) {
        y.backward(gradOut, new BoolOptional(), false, new TensorArrayRefOptional());
        // Drop the accumulated gradients, so the next backward allocates them instead of adding into them:
        // an extra pass the measured op would not pay in a training step after zero_grad(true).
        xGrad.mutable_grad().reset();
        alpha.mutable_grad().reset();
        beta.mutable_grad().reset();
        preluWeight.mutable_grad().reset();
    }

    // ---------------------------------------------------------------- bandwidth ceiling

    @Benchmark
    public void fwdCopy() {
        try (PointerScope s = new PointerScope()) {
            x.clone();
        }
    }

    @Benchmark
    public void fwdCopyInto() {
        out.copy_(x);
    }

    // ---------------------------------------------------------------- forward, grad mode off

    @Benchmark
    public void fwdRelu() {
        try (PointerScope s = new PointerScope()) {
            torch.relu(x);
        }
    }

    @Benchmark
    public void fwdReluInto() {
        // threshold_out is ReLU into a given buffer; bytedeco's relu_out allocated and copied (135 ms at 16M).
        try (PointerScope s = new PointerScope()) {
            torch.threshold_out(out, x, new Scalar(0.0), new Scalar(0.0));
        }
    }

    @Benchmark
    public void fwdPrelu() {
        try (PointerScope s = new PointerScope()) {
            withoutGrad(() -> torch.prelu(x, preluWeight));
        }
    }

    @Benchmark
    public void fwdReference() {
        try (PointerScope s = new PointerScope()) {
            withoutGrad(() -> torch.relu(x).mul(b).sub(torch.relu(x.neg()).mul(a)));
        }
    }

    @Benchmark
    public void fwdComposed() {
        try (PointerScope s = new PointerScope()) {
            withoutGrad(() -> AReLUFunctional.areluComposed(x, alpha, beta));
        }
    }

    @Benchmark
    public void fwdFused() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.forward(x, alpha, beta);
        }
    }

    @Benchmark
    public void fwdFusedInto() {
        FusedAReLU.forward(x, alpha, beta, out);
    }

    // ---------------------------------------------------------------- backward only

    @Benchmark
    public void bwdRelu() {
        try (PointerScope s = new PointerScope()) {
            torch.threshold_backward(gradOut, reluOut, new Scalar(0.0));
        }
    }

    @Benchmark
    public void bwdReluInto() {
        try (PointerScope s = new PointerScope()) {
            torch.threshold_backward_out(gradIn, gradOut, reluOut, new Scalar(0.0));
        }
    }

    @Benchmark
    public void bwdFused() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.backward(gradOut, x, alpha, beta);
        }
    }

    @Benchmark
    public void bwdFusedInto() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.backward(gradOut, x, alpha, beta, gradIn);
        }
    }

    // ---------------------------------------------------------------- forward + backward

    @Benchmark
    public void fwdBwdRelu() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.relu(xGrad));
        }
    }

    @Benchmark
    public void fwdBwdPrelu() {
        try (PointerScope s = new PointerScope()) {
            backward(torch.prelu(xGrad, preluWeight));
        }
    }

    @Benchmark
    public void fwdBwdReference() {
        try (PointerScope s = new PointerScope()) {
            Tensor ca = torch.clamp(alpha, new ScalarOptional(new Scalar(0.01)), new ScalarOptional(new Scalar(0.99)));
            Tensor cb = torch.sigmoid(beta).add(new Scalar(1.0));
            backward(torch.relu(xGrad).mul(cb.reshape()).sub(torch.relu(xGrad.neg()).mul(ca.reshape())));
        }
    }

    @Benchmark
    public void fwdBwdComposed() {
        try (PointerScope s = new PointerScope()) {
            backward(AReLUFunctional.areluComposed(xGrad, alpha, beta));
        }
    }

    @Benchmark
    public void fwdBwdFused() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.forward(x, alpha, beta);
            FusedAReLU.backward(gradOut, x, alpha, beta);
        }
    }

    @Benchmark
    public void fwdBwdFusedInto() {
        try (PointerScope s = new PointerScope()) {
            FusedAReLU.forward(x, alpha, beta, out);
            FusedAReLU.backward(gradOut, x, alpha, beta, gradIn);
        }
    }

    private static void withoutGrad(Runnable body) {
        boolean enabled = GradMode.is_enabled();
        GradMode.set_enabled(false);
        try {
            body.run();
        } finally {
            GradMode.set_enabled(enabled);
        }
    }
}
