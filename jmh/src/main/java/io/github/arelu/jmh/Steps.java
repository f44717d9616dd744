package io.github.arelu.jmh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

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
 * activation's at the same quantile. The same work as {@link TrainingStepBenchmark}, whose ratio is one of
 * sums: a host that other processes share now and then adds slow steps to whichever network ran then, and the
 * mean carries them, while the lower quantiles of many steps do not. Each network ({@link TrainingNetwork})
 * starts from the same seeded weights and trains on one fixed random batch of 128.
 *
 * <pre>
 * jmh/steps                                              the ResNet: ReLU, AReLU, AReLU-channelwise; 2 threads
 * jmh/steps --net ConvMNIST --activations ReLU,AReLU,PReLU --threads 1 --steps 200
 * jmh/steps --onednn on                                  oneDNN's convolutions (libtorch's own by default)
 * </pre>
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
        int warmup = 5;
        boolean oneDnn = false;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--net" -> net = MnistNetwork.Kind.valueOf(required(args[i], value));
                case "--activations" -> activations = required(args[i], value);
                case "--threads" -> threads = Integer.parseInt(required(args[i], value));
                case "--steps" -> steps = Integer.parseInt(required(args[i], value));
                case "--warmup" -> warmup = Integer.parseInt(required(args[i], value));
                case "--onednn" -> oneDnn = switch (required(args[i], value)) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> throw new IllegalArgumentException("--onednn takes on or off, got " + value);
                };
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (options: --net "
                        + Arrays.toString(MnistNetwork.Kind.values()) + ", --activations A,B,..., --threads N, "
                        + "--steps N, --warmup N, --onednn on|off)");
            }
            i++;
        }
        if (threads < 1 || steps < 4 || warmup < 0) {
            throw new IllegalArgumentException("--threads must be at least 1, --steps at least 4, --warmup at least 0");
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
            double[][] ms = new double[count][steps];
            // Each round runs every network once, starting one further on each round, so none always runs
            // first (right after the previous round's last) or last.
            for (int round = -warmup; round < steps; round++) {
                for (int j = 0; j < count; j++) {
                    int k = Math.floorMod(round + j, count);
                    long start = System.nanoTime();
                    networks[k].step(images, labels);
                    if (round >= 0) {
                        ms[k][round] = (System.nanoTime() - start) / 1e6;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "%s training steps, batch %d, %d libtorch thread(s), %s convolutions, "
                    + "%d steps each after %d of warm-up, interleaved%n", net, BATCH, threads,
                    oneDnn ? "oneDNN's" : "libtorch's own", steps, warmup);
            System.out.printf(Locale.ROOT, "host: %s, %d CPUs; allocator: %s; %s%n%n", Host.cpuModel(),
                    Runtime.getRuntime().availableProcessors(), Host.allocator(),
                    System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
            System.out.printf("| activation | fastest (ms) | lower quartile (ms) | median (ms) | images/s / %s's, "
                    + "lower quartile | images/s / %s's, median |%n", names.get(0), names.get(0));
            System.out.println("|---|---:|---:|---:|---:|---:|");
            double[][] sorted = new double[count][];
            for (int k = 0; k < count; k++) {
                sorted[k] = ms[k].clone();
                Arrays.sort(sorted[k]);
            }
            for (int k = 0; k < count; k++) {
                double[] s = sorted[k];
                System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.3f | %.3f |%n", names.get(k), s[0],
                        quartile(s), median(s), quartile(sorted[0]) / quartile(s), median(sorted[0]) / median(s));
            }
        }
    }

    private static String required(String option, String value) {
        if (value == null) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return value;
    }

    private static double quartile(double[] sorted) {
        return sorted[sorted.length / 4];
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
