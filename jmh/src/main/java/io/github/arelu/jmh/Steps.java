package io.github.arelu.jmh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUPath;
import io.github.arelu.LibTorch;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.LibTorchSettings;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Training steps of the examples' networks with several activations, interleaved, timed one by one: the
 * fastest, the lower quartile and the median step of each, and each one's images/s against the first
 * activation's at the same quantile and round by round (the median of the rounds' ratios). The same work as {@link TrainingStepBenchmark}, whose ratio is one of
 * sums: a host that other processes share now and then adds slow steps to whichever network ran then, and the
 * mean carries them, while the lower quantiles of many steps do not. Each network ({@link TrainingNetwork})
 * starts from the same seeded weights and trains on one fixed random batch of 128.
 *
 * <pre>
 * jmh/steps                                              the ResNet: ReLU, AReLU, AReLU-channelwise; 2 threads
 * jmh/steps --net ConvMNIST --activations ReLU,AReLU,PReLU --threads 1 --steps 200
 * jmh/steps --onednn on                                  oneDNN's convolutions (libtorch's own by default)
 * jmh/steps --net ConvMNIST --warmup 0 --steps 3600 --windows 12  how the ratio moves as the JIT compiles
 * </pre>
 *
 * <p>The JIT decides how long the warm-up must be. HotSpot compiles a method with C2 after some 5000 calls,
 * and AReLU's Java path is called once per activation layer and step: ConvMNIST's three layers reach that
 * after 1500-1700 steps, and until then its step is 3-5 % slower (measured in {@code jmh/README.md}).
 * A long training run is at its steady state nearly all the time, so the defaults measure that; {@code
 * --windows} shows the way there.
 */
public final class Steps {

    private static final int BATCH = 128;

    private Steps() {
    }

    public static void main(String[] args) throws IOException {
        MnistNetwork.Kind net = MnistNetwork.Kind.ResNet;
        String activations = null;
        int threads = 2;
        int steps = 80;
        Integer warmup = null;
        int windows = 1;
        boolean oneDnn = false;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--net" -> net = MnistNetwork.Kind.valueOf(required(args[i], value));
                case "--activations" -> activations = required(args[i], value);
                case "--threads" -> threads = Integer.parseInt(required(args[i], value));
                case "--steps" -> steps = Integer.parseInt(required(args[i], value));
                case "--warmup" -> warmup = Integer.parseInt(required(args[i], value));
                case "--windows" -> windows = Integer.parseInt(required(args[i], value));
                case "--onednn" -> oneDnn = switch (required(args[i], value)) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> throw new IllegalArgumentException("--onednn takes on or off, got " + value);
                };
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (options: --net "
                        + Arrays.toString(MnistNetwork.Kind.values()) + ", --activations A,B,..., --threads N, "
                        + "--steps N, --warmup N, --windows N, --onednn on|off)");
            }
            i++;
        }
        if (warmup == null) {
            warmup = defaultWarmup(net);
        }
        if (threads < 1 || steps < 4 || warmup < 0 || windows < 1 || steps / windows < 4) {
            throw new IllegalArgumentException("--threads must be at least 1, --steps at least 4 per window, "
                    + "--warmup at least 0, --windows at least 1");
        }
        if (activations == null) {
            activations = net == MnistNetwork.Kind.ResNet ? "ReLU,AReLU,AReLU-channelwise" : "ReLU,AReLU,PReLU";
        }
        List<String> names = new ArrayList<>();
        for (String name : activations.split(",")) {
            names.add(ActivationSpec.byName(name).name());
        }

        LibTorch.load();
        LibTorchSettings.applyDefaults(threads);
        LibTorchSettings.setOneDnnEnabled(oneDnn);
        try (PointerScope state = new PointerScope()) {
            torch.manual_seed(0);
            Tensor images = torch.randn(BATCH, 1, 28, 28);
            Tensor labels = torch.randint(10, new long[] {BATCH}, new TensorOptions(torch.ScalarType.Long));
            if (new AReLU().pathFor(images) == AReLUPath.COMPOSED) {
                throw new IllegalStateException("the fused kernels did not load: AReLU's training path would not "
                        + "be measured");
            }
            int count = names.size();
            TrainingNetwork[] networks = new TrainingNetwork[count];
            for (int k = 0; k < count; k++) {
                networks[k] = new TrainingNetwork(net, names.get(k), 1);
            }
            double[][] ms = interleavedMs(count, warmup, steps, k -> networks[k].step(images, labels), System::nanoTime);
            System.out.printf(Locale.ROOT, "%s training steps, batch %d, %d libtorch thread(s), %s convolutions, "
                    + "%d steps each after %d of warm-up, interleaved%n", net, BATCH, threads,
                    oneDnn ? "oneDNN's" : "libtorch's own", steps, warmup);
            System.out.printf(Locale.ROOT, "host: %s, %d CPUs; allocator: %s; %s%n%n", Host.cpuModel(),
                    Runtime.getRuntime().availableProcessors(), Host.allocator(),
                    System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
            System.out.print(quantileTable(names, ms));
            if (windows > 1) {
                System.out.print(windowTable(names, ms, windows, warmup));
            }
        }
    }

    /**
     * Steps of warm-up that take every network's Java path past C2's threshold (about 5000 calls of a method
     * called once per layer and step), so that the measured steps are the steady state: ConvMNIST has 3
     * activation layers, the ResNet 13, VGG 6 and LinearMNIST 1. Measured for ConvMNIST and the ResNet with
     * {@code --windows} (jmh/README.md): their ratios settle after about 1500 and 400 steps.
     */
    private static int defaultWarmup(MnistNetwork.Kind net) {
        return switch (net) {
            case ConvMNIST -> 2000;
            case ResNet -> 500;
            case VGG -> 1000;
            case LinearMNIST -> 5000;
        };
    }

    /**
     * Each network's milliseconds per step, {@code [network][step]}, from {@code warmup} untimed rounds and then
     * {@code steps} timed ones, a round running {@code step} once for each network. Each round starts one
     * network further on, so none always runs first (right after the previous round's last) or last.
     *
     * @param nanoTime the clock, {@link System#nanoTime} but in tests
     */
    static double[][] interleavedMs(int count, int warmup, int steps, IntConsumer step, LongSupplier nanoTime) {
        double[][] ms = new double[count][steps];
        for (int round = -warmup; round < steps; round++) {
            for (int j = 0; j < count; j++) {
                int k = Math.floorMod(round + j, count);
                long start = nanoTime.getAsLong();
                step.accept(k);
                if (round >= 0) {
                    ms[k][round] = (nanoTime.getAsLong() - start) / 1e6;
                }
            }
        }
        return ms;
    }

    /**
     * Each activation's fastest, lower-quartile and median step, its images/s against the first activation's at
     * both quantiles, and the median of those ratios taken round by round. A round's steps run back to back, so
     * a slow spell of the host that spans a round slows both of its steps and leaves their ratio; the quantiles
     * of each network's own steps do not pair them.
     */
    static String quantileTable(List<String> names, double[][] ms) {
        StringBuilder out = new StringBuilder(String.format("| activation | fastest (ms) | lower quartile (ms) | "
                + "median (ms) | images/s / %s's, lower quartile | images/s / %s's, median | images/s / %s's, "
                + "median of rounds |%n", names.get(0), names.get(0), names.get(0)));
        out.append("|---|---:|---:|---:|---:|---:|---:|").append(System.lineSeparator());
        double[][] sorted = new double[ms.length][];
        for (int k = 0; k < ms.length; k++) {
            sorted[k] = ms[k].clone();
            Arrays.sort(sorted[k]);
        }
        for (int k = 0; k < ms.length; k++) {
            double[] s = sorted[k];
            double[] rounds = new double[s.length];
            for (int r = 0; r < rounds.length; r++) {
                rounds[r] = ms[0][r] / ms[k][r];
            }
            Arrays.sort(rounds);
            out.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.3f | %.3f | %.3f |%n", names.get(k),
                    s[0], quartile(s), median(s), quartile(sorted[0]) / quartile(s), median(sorted[0]) / median(s),
                    median(rounds)));
        }
        return out.toString();
    }

    /** Each activation's median step per window of consecutive steps, against the first activation's. */
    static String windowTable(List<String> names, double[][] ms, int windows, int warmup) {
        int steps = ms[0].length;
        int size = steps / windows;
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "%nimages/s / %s's, median of each window of %d steps (after %d of warm-up)%n%n", names.get(0), size,
                warmup));
        StringBuilder header = new StringBuilder("| activation |");
        StringBuilder rule = new StringBuilder("|---|");
        for (int w = 0; w < windows; w++) {
            header.append(String.format(Locale.ROOT, " steps %d-%d |", warmup + w * size + 1, warmup + (w + 1) * size));
            rule.append("---:|");
        }
        out.append(header).append(System.lineSeparator()).append(rule).append(System.lineSeparator());
        for (int k = 1; k < names.size(); k++) {
            StringBuilder row = new StringBuilder("| " + names.get(k) + " |");
            for (int w = 0; w < windows; w++) {
                double[] first = Arrays.copyOfRange(ms[0], w * size, (w + 1) * size);
                double[] own = Arrays.copyOfRange(ms[k], w * size, (w + 1) * size);
                Arrays.sort(first);
                Arrays.sort(own);
                row.append(String.format(Locale.ROOT, " %.3f |", median(first) / median(own)));
            }
            out.append(row).append(System.lineSeparator());
        }
        return out.toString();
    }

    private static String required(String option, String value) {
        if (value == null) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return value;
    }

    static double quartile(double[] sorted) {
        return sorted[sorted.length / 4];
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
