package io.github.arelu;

import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.github.arelu.autograd.JavaFunction;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who owns what of a fused AReLU node, and that it is all freed: long training, graphs dropped without
 * backward, GC pressure, a closed module, threads, and a JVM that exits with live graphs.
 */
class AReLULifetimeTest {

    /** A linear layer and AReLU, trained with SGD on a fixed random problem; returns the parameters. */
    private static final class TinyNet extends org.bytedeco.pytorch.Module {
        final LinearImpl linear;
        final AReLU arelu;

        TinyNet(long seed) {
            torch.manual_seed(seed);
            linear = register_module("linear", new LinearImpl(32, 32));
            arelu = register_module("arelu", new AReLU(0.5, 1.0));
        }

        Tensor forward(Tensor x) {
            return arelu.forward(linear.forward(x));
        }
    }

    /** A fixed random regression problem: input and target. */
    private static Tensor[] problem(long seed) {
        torch.manual_seed(seed);
        return new Tensor[] {torch.randn(new long[] {16, 32}), torch.randn(new long[] {16, 32})};
    }

    /** Trains {@code steps} SGD steps, each in its own scope; returns alpha, beta and the last loss. */
    private static double[] train(TinyNet net, Tensor[] problem, int steps) {
        SGD sgd = new SGD(net.parameters(), new SGDOptions(1e-3));
        double loss = Double.NaN;
        for (int i = 0; i < steps; i++) {
            try (PointerScope step = new PointerScope()) {
                sgd.zero_grad();
                Tensor l = net.forward(problem[0]).sub(problem[1]).pow(new org.bytedeco.pytorch.Scalar(2.0)).mean();
                l.backward();
                sgd.step();
                if (i == steps - 1) {
                    loss = l.item_double();
                }
            }
        }
        return new double[] {values(net.arelu.alpha())[0], values(net.arelu.beta())[0], loss};
    }

    private PointerScope scope;

    @BeforeEach
    void openScope() {
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    @Test
    void hundredThousandTrainingStepsKeepResidentMemoryAndLiveNodesBounded() {
        TinyNet net = new TinyNet(1);
        Tensor[] problem = problem(5);
        train(net, problem, 10_000);
        long baseline = Tensors.residentBytesAfterGc();
        int before = JavaFunction.liveNodeCount();
        double[] end = train(net, problem, 90_000);
        long growth = Tensors.residentBytesAfterGc() - baseline;
        assertEquals(before, JavaFunction.liveNodeCount(), "every step's node was released");
        // Each step makes about 10 KB of tensors and a dozen native objects: a leak of either over 90000
        // steps would show as hundreds of MiB. What remains is JavaCPP's weak JNI references (about 20
        // bytes a step, see io.github.arelu.autograd) and allocator noise.
        assertTrue(growth < 24L << 20, "resident memory grew by " + (growth >> 20) + " MiB over 90000 steps");
        assertTrue(Double.isFinite(end[2]), "training stayed finite");
    }

    @Test
    void graphsDroppedWithoutBackwardAreReleased() {
        Tensors.residentBytesAfterGc();
        int before = JavaFunction.liveNodeCount();
        AReLU arelu = new AReLU();
        Tensor x = torch.randn(new long[] {64, 64}).requires_grad_(true);
        long baseline = 0;
        for (int i = 0; i < 20_000; i++) {
            try (PointerScope step = new PointerScope()) {
                arelu.forward(x.mul(new org.bytedeco.pytorch.Scalar(2.0)));
            }
            if (i == 2_000) {
                baseline = Tensors.residentBytesAfterGc();
            }
        }
        long growth = Tensors.residentBytesAfterGc() - baseline;
        assertEquals(before, JavaFunction.liveNodeCount());
        assertTrue(growth < 16L << 20, "resident memory grew by " + (growth >> 20) + " MiB");
    }

    @Test
    void liveGraphsSurviveGcPressureAndAClosedModule() {
        AReLU arelu = new AReLU(0.3, 0.2);
        Tensor x = torch.randn(new long[] {100}).requires_grad_(true);
        List<Tensor> losses = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            losses.add(arelu.forward(x).sum());
        }
        double[] expectedX = values(AReLUFunctional.areluComposed(x.detach().clone().requires_grad_(true),
                arelu.alpha().detach(), arelu.beta().detach()));
        arelu.close();
        for (int round = 0; round < 5; round++) {
            byte[][] garbage = new byte[2000][];
            for (int i = 0; i < garbage.length; i++) {
                garbage[i] = new byte[10_000];
            }
            System.gc();
        }
        for (Tensor loss : losses) {
            loss.backward();
        }
        // 50 backward passes of sum(): x.grad = 50 * (b for x > 0, a for x < 0).
        double[] xs = values(x);
        double[] grad = values(x.grad());
        double a = 0.3;
        double b = 1 + 1 / (1 + Math.exp(-0.2));
        for (int i = 0; i < xs.length; i++) {
            double expected = 50 * (xs[i] > 0 ? (float) b : xs[i] < 0 ? (float) a : 0);
            assertEquals(expected, grad[i], 1e-4 * Math.abs(expected) + 1e-6, "x.grad[" + i + "]");
            assertEquals(expectedX[i] == 0, xs[i] == 0);
        }
    }

    @Test
    void twoThreadsTrainTheirOwnModulesAtOnceAsIfAlone() throws Exception {
        double[] alone0 = train(new TinyNet(10), problem(20), 300);
        double[] alone1 = train(new TinyNet(11), problem(21), 300);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            // libtorch's seed is global: each thread makes its net and problem under a lock, then both train.
            Object seedLock = new Object();
            List<Future<double[]>> results = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int id = t;
                results.add(pool.submit(() -> {
                    TinyNet net;
                    Tensor[] problem;
                    synchronized (seedLock) {
                        net = new TinyNet(10 + id);
                        problem = problem(20 + id);
                    }
                    return train(net, problem, 300);
                }));
            }
            assertArrayEquals(alone0, results.get(0).get(), 0.0);
            assertArrayEquals(alone1, results.get(1).get(), 0.0);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void concurrentNoGradForwardsEqualTheSingleThreadedResult() throws Exception {
        AReLU arelu = new AReLU(0.4, -0.3);
        Tensor x = torch.randn(new long[] {8, 1000});
        double[] expected;
        try (NoGradGuard guard = new NoGradGuard()) {
            expected = values(arelu.forward(x));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<double[]>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> {
                    double[] last = null;
                    for (int i = 0; i < 50; i++) {
                        try (PointerScope s = new PointerScope(); NoGradGuard guard = new NoGradGuard()) {
                            last = values(arelu.forward(x));
                        }
                    }
                    return last;
                }));
            }
            for (Future<double[]> result : results) {
                assertArrayEquals(expected, result.get(), 0.0);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void aJvmEndsNormallyWithLiveGraphs() throws Exception {
        for (String mode : new String[] {"exit", "return"}) {
            String output = runLiveGraphsAtExit(List.of(), mode);
            assertTrue(output.contains("live graphs: 100"), mode + ": " + output);
            assertFalse(output.contains("fatal error") || output.contains("SIGSEGV"), mode + ": " + output);
        }
    }

    /**
     * JavaCPP's debug logging prints every native object it registers, the module included, from inside
     * Module's constructor: before the parameters exist, AReLU's toString must still work.
     */
    @Test
    void aJvmWithJavaCppDebugLoggingTrainsAReLU() throws Exception {
        String output = runLiveGraphsAtExit(List.of("-Dorg.bytedeco.javacpp.logger.debug=true"), "return");
        assertTrue(output.contains("Registering AReLU(being constructed)"), output.lines().limit(50).toList().toString());
        assertTrue(output.contains("live graphs: 100"), output.lines().limit(50).toList().toString());
        // JavaCPP's own debug lines name exceptions it expects (libraries it tries and skips); ours would show
        // as a stack trace through this library.
        assertFalse(output.contains("at io.github.arelu."), output.lines().filter(l -> l.contains("Exception")
                || l.contains("at io.github.arelu.")).toList().toString());
    }

    /** Runs {@link LiveGraphsAtExit} in a new JVM; asserts it exits with 0; returns its output. */
    private static String runLiveGraphsAtExit(List<String> options, String mode) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path")));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            command.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        command.addAll(options);
        command.add(LiveGraphsAtExit.class.getName());
        command.add(mode);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the child JVM did not end: " + output);
        // The end of the output, where a failure is: with debug logging it is thousands of lines.
        assertEquals(0, process.exitValue(), mode + " " + options + ": "
                + output.substring(Math.max(0, output.length() - 8000)));
        return output;
    }
}
