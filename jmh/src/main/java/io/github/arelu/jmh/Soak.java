package io.github.arelu.jmh;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import io.github.arelu.autograd.JavaFunction;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Long-running training through the autograd node: millions of AReLU forward + {@code sum().backward()}
 * calls on a small input, one {@code PointerScope} each as in a training step, printed as a Markdown table
 * of windows. After each window: two full garbage collections, then the resident set size, the live
 * {@link JavaFunction} nodes and JavaCPP's count of native objects awaiting deallocation; per window: the
 * time per call (wall clock, and this thread's CPU time, which other processes on the host disturb less),
 * the time the collectors took during the window (the checkpoint's full collections excluded), and ReLU's
 * time per call on the same input, measured right after, for scale.
 *
 * <pre>
 * jmh/soak                                   3 million calls in windows of 250 000, a 256 MiB heap
 * jmh/soak --calls 1000000 --window 100000   any size
 * jmh/soak --channels 4                      channel-wise AReLU: parameters [4, 1, 1], input [1, 4, 1, size / 4]
 * </pre>
 *
 * <p>By default the module's scalar parameters and a 1-D input: small 1-D leaves, whose gradient edges libtorch's
 * {@code cat} finds for the node. With {@code --channels} every input is a leaf of another shape, whose edge the
 * library finds itself (where bytedeco's {@code grad_fn()} of a leaf used to leak 16 bytes a call).
 *
 * <p>A leak shows as resident size growing from window to window, a fixed cost that grows as time per call
 * or GC time growing. Calls for warm-up ({@code --warmup}, 250 000 by default) run before the first window.
 */
public final class Soak {

    private Soak() {
    }

    public static void main(String[] args) throws Exception {
        long calls = 3_000_000;
        long window = 250_000;
        long warmup = 250_000;
        int size = 16;
        int channels = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--calls" -> calls = Long.parseLong(args[++i]);
                case "--window" -> window = Long.parseLong(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Long.parseLong(args[++i]);
                case "--channels" -> channels = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --calls N, --window N, --warmup N, --size N, --channels C)");
            }
        }
        if (calls <= 0 || window <= 0 || size <= 0 || warmup < 0 || calls % window != 0) {
            throw new IllegalArgumentException("--calls, --window and --size must be positive, calls a multiple of window");
        }
        if (channels < 0 || (channels > 0 && size % channels != 0)) {
            throw new IllegalArgumentException("--channels must be positive and divide --size");
        }
        LibTorch.load();
        torch.set_num_threads(1);
        torch.manual_seed(0);
        try (PointerScope state = new PointerScope()) {
            AReLU arelu = new AReLU();
            Tensor x = (channels == 0 ? torch.randn(size) : torch.randn(1, channels, 1, size / channels))
                    .requires_grad_(true);
            Tensor alpha = channels == 0 ? arelu.alpha()
                    : torch.full(new long[] {channels, 1, 1}, new Scalar(AReLU.DEFAULT_ALPHA)).requires_grad_(true);
            Tensor beta = channels == 0 ? arelu.beta()
                    : torch.full(new long[] {channels, 1, 1}, new Scalar(AReLU.DEFAULT_BETA)).requires_grad_(true);
            if (AReLUFunctional.pathFor(x, alpha, beta) != AReLUPath.FUSED_AUTOGRAD) {
                throw new IllegalStateException("the fused kernels did not load: the node would not be measured");
            }
            // The JIT's compilations, the heap's and the allocator's sizing settle first, outside the table.
            for (long i = 0; i < warmup; i++) {
                try (PointerScope step = new PointerScope()) {
                    AReLUFunctional.arelu(x, alpha, beta).sum().backward();
                    resetGradients(x, alpha, beta);
                }
            }
            String nodes;
            try (PointerScope probe = new PointerScope()) {
                nodes = nodeKind(AReLUFunctional.arelu(x, alpha, beta).grad_fn().name().getString());
            }
            printHeader(calls, window, warmup, size, channels, nodes);
            long done = 0;
            long[] gcBefore = gcTotals();
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            while (done < calls) {
                long cpuStart = threads.getCurrentThreadCpuTime();
                long start = System.nanoTime();
                for (long i = 0; i < window; i++) {
                    try (PointerScope step = new PointerScope()) {
                        AReLUFunctional.arelu(x, alpha, beta).sum().backward();
                        resetGradients(x, alpha, beta);
                    }
                }
                long areluNanos = System.nanoTime() - start;
                long areluCpuNanos = threads.getCurrentThreadCpuTime() - cpuStart;
                long[] gcAfter = gcTotals();
                long reluCalls = Math.max(1, window / 10);
                start = System.nanoTime();
                for (long i = 0; i < reluCalls; i++) {
                    try (PointerScope step = new PointerScope()) {
                        torch.relu(x).sum().backward();
                        x.mutable_grad().reset();
                    }
                }
                long reluNanos = System.nanoTime() - start;
                done += window;
                // Full collections for the checkpoint, then the window's GC counters restart after them.
                System.gc();
                System.gc();
                Thread.sleep(100);
                System.out.print(tableRow(done, residentMiB(Files.readAllLines(Path.of("/proc/self/status"))),
                        JavaFunction.liveNodeCount(), Pointer.totalCount(), window, areluNanos, areluCpuNanos, reluCalls,
                        reluNanos, gcBefore, gcAfter));
                gcBefore = gcTotals();
            }
        }
    }

    private static void resetGradients(Tensor x, Tensor alpha, Tensor beta) {
        x.mutable_grad().reset();
        alpha.mutable_grad().reset();
        beta.mutable_grad().reset();
    }

    /**
     * How the library made this process's nodes, from a node's name: its own virtual table names it after the
     * function; with hooks it keeps the carrier's name, and the property says which hooks (the shared ones unless
     * their layout check failed, which the library logs).
     */
    private static String nodeKind(String nodeName) {
        if (nodeName.equals("AReLUBackward")) {
            return "nodes with the library's own virtual table (" + nodeName + ")";
        }
        boolean perCallHooks = Boolean.parseBoolean(System.getProperty("io.github.arelu.autograd.perCallHooks", "")
                .trim());
        return "nodes with hooks (" + nodeName + "): " + (perCallHooks
                ? "one JavaCPP peer per hook (forced)" : "the library's shared hook objects, unless the log says otherwise");
    }

    private static void printHeader(long calls, long window, long warmup, int size, int channels, String nodes)
            throws IOException {
        System.out.printf(Locale.ROOT, "AReLU forward + sum().backward(), %d-element float input, %s, %,d calls after "
                + "%,d of warm-up, windows of %,d, one libtorch thread%n", size, channels == 0
                        ? "the module's scalar parameters"
                        : "channel-wise: parameters [" + channels + ", 1, 1], input [1, " + channels + ", 1, "
                                + size / channels + "]", calls, warmup, window);
        System.out.printf(Locale.ROOT, "host: %s, %d CPUs; allocator: %s; max heap %d MiB; %s; %s%n", Host.cpuModel(),
                Runtime.getRuntime().availableProcessors(), Host.allocator(),
                Runtime.getRuntime().maxMemory() >> 20, System.getProperty("java.vm.name") + " "
                        + System.getProperty("java.version"), nodes);
        System.out.println();
        System.out.println("| calls | RSS after full GC (MiB) | live nodes | JavaCPP objects | AReLU us/call "
                + "| AReLU CPU us/call | ReLU us/call | GCs in window | GC ms in window | mean GC pause (ms) |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    }

    /** Collections and milliseconds spent in them, all collectors together. */
    private static long[] gcTotals() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            millis += Math.max(0, gc.getCollectionTime());
        }
        return new long[] {count, millis};
    }

    /**
     * One window's line of the table.
     *
     * @param calls the calls made so far, this window's included
     * @param gcBefore {@link #gcTotals()} at the window's start
     * @param gcAfter {@link #gcTotals()} at its end, before ReLU's calls
     */
    static String tableRow(long calls, double residentMiB, long liveNodes, long javaCppObjects, long window,
            long areluNanos, long areluCpuNanos, long reluCalls, long reluNanos, long[] gcBefore, long[] gcAfter) {
        return String.format(Locale.ROOT, "| %,d | %.1f | %d | %d | %.1f | %.1f | %.1f | %d | %.0f | %.1f |%n", calls,
                residentMiB, liveNodes, javaCppObjects, areluNanos / 1e3 / window, areluCpuNanos / 1e3 / window,
                reluNanos / 1e3 / reluCalls, gcAfter[0] - gcBefore[0], (double) (gcAfter[1] - gcBefore[1]),
                meanPause(gcBefore, gcAfter));
    }

    private static double meanPause(long[] before, long[] after) {
        long count = after[0] - before[0];
        return count == 0 ? 0 : (double) (after[1] - before[1]) / count;
    }

    /** The resident set size in /proc/self/status's lines, which give it in KiB. */
    static double residentMiB(List<String> status) {
        for (String line : status) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        return Double.NaN;
    }
}
