package io.github.arelu.examples.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import io.github.arelu.LibTorch;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.LibTorchSettings;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The measurement behind {@link OneDnnCheck}'s tolerances: how far each float32 path of a network's step lies
 * from the same step in float64 (libtorch's own convolutions), as the norm of the difference over the float64
 * norm, for the output and for the parameter gradient that lies furthest. A path that computes right lies
 * where rounding puts it; where oneDNN's row is far from libtorch's own, oneDNN computed something else.
 *
 * <p>{@code bin/onednn-precision [SEEDS [NETWORK ...]]}: SEEDS initial weights each (default 4) of each
 * convolutional network (default ConvMNIST ResNet VGG), a training step of 128 random images and an eval
 * forward of 1000, with libtorch's default threads. Prints a Markdown table.
 */
public final class OneDnnPrecision {

    private static final int TRAINING_IMAGES = 128;
    private static final int TEST_IMAGES = 1000;

    /** A path's distances from the float64 step: the output's, and the furthest gradient's (NaN for eval). */
    record Distances(double output, double worstGradient, String worstGradientName) {

        static Distances of(List<OneDnnCheck.Compared> compared, List<Tensor> path, List<Tensor> float64) {
            double output = Double.NaN;
            double worst = Double.NaN;
            String worstName = "";
            for (int i = 0; i < compared.size(); i++) {
                double distance = distance(path.get(i), float64.get(i));
                if (compared.get(i) == OneDnnCheck.Compared.OUTPUT) {
                    output = distance;
                } else if (worstName.isEmpty() || distance > worst || Double.isNaN(distance) && !Double.isNaN(worst)) {
                    // The first NaN counts as furthest: a path with a NaN gradient is as far as a path can be.
                    worst = distance;
                    worstName = compared.get(i).name();
                }
            }
            return new Distances(output, worst, worstName);
        }

        private static double distance(Tensor path, Tensor float64) {
            Tensor reference = float64.to(ScalarType.Double);
            return path.to(ScalarType.Double).sub(reference).norm().item_double() / reference.norm().item_double();
        }
    }

    /** One network, seed and step: oneDNN's distances and libtorch's own float32 distances. */
    record Row(MnistNetwork.Kind network, long seed, boolean training, int images, Distances oneDnn, Distances own) {
    }

    private OneDnnPrecision() {
    }

    /**
     * The step of {@code network} from {@code seed}'s weights on {@code images} random images (a training
     * step's forward and backward, or an eval forward), through oneDNN and libtorch's own convolutions in
     * float32 and through libtorch's own in float64, with the same weights and data.
     */
    static Row measure(MnistNetwork.Kind network, long seed, int images, boolean training) {
        boolean before = LibTorchSettings.oneDnnEnabled();
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(seed);
            MnistNetwork model = network.create(ActivationSpec.byName("ReLU"), 10);
            Tensor data = torch.randn(images, 1, 28, 28);
            Tensor labels = torch.randint(10, new long[] {images}, new TensorOptions(ScalarType.Long));
            List<OneDnnCheck.Compared> compared = new ArrayList<>();
            List<Tensor> oneDnn = step(model, data, labels, training, true, compared);
            List<Tensor> own = step(model, data, labels, training, false, null);
            // Every float32 value is a float64 value: the same weights, statistics and images, in float64.
            model.to(ScalarType.Double, false);
            List<Tensor> float64 = step(model, data.to(ScalarType.Double), labels, training, false, null);
            return new Row(network, seed, training, images, Distances.of(compared, oneDnn, float64),
                    Distances.of(compared, own, float64));
        } finally {
            LibTorchSettings.setOneDnnEnabled(before);
        }
    }

    private static List<Tensor> step(MnistNetwork model, Tensor data, Tensor labels, boolean training,
            boolean oneDnn, List<OneDnnCheck.Compared> compared) {
        if (training) {
            return OneDnnCheck.forwardBackward(model, data, labels, oneDnn, compared);
        }
        if (compared != null) {
            compared.add(OneDnnCheck.Compared.OUTPUT);
        }
        return List.of(OneDnnCheck.evaluate(model, data, oneDnn));
    }

    static String header() {
        return "| network | seed | step | images | output, oneDNN | output, own | furthest gradient, oneDNN "
                + "| furthest gradient, own |\n| --- | ---: | --- | ---: | ---: | ---: | --- | --- |";
    }

    static String format(Row row) {
        return String.format(Locale.ROOT, "| %s | %d | %s | %d | %s | %s | %s | %s |", row.network(), row.seed(),
                row.training() ? "training" : "eval", row.images(), number(row.oneDnn().output()),
                number(row.own().output()), gradient(row.oneDnn()), gradient(row.own()));
    }

    private static String gradient(Distances distances) {
        return distances.worstGradientName().isEmpty() ? "-"
                : number(distances.worstGradient()) + " (" + distances.worstGradientName() + ")";
    }

    private static String number(double value) {
        return String.format(Locale.ROOT, "%.2e", value);
    }

    public static void main(String[] args) {
        // Before any bytedeco class: safe on machines with a system libtorch and an empty JavaCPP cache.
        LibTorch.load();
        int seeds;
        List<MnistNetwork.Kind> networks;
        try {
            seeds = args.length > 0 ? Integer.parseInt(args[0]) : 4;
            networks = args.length > 1 ? Arrays.stream(args, 1, args.length).map(MnistNetwork.Kind::valueOf).toList()
                    : Arrays.stream(MnistNetwork.Kind.values()).filter(MnistNetwork.Kind::convolutional).toList();
        } catch (IllegalArgumentException e) {
            System.err.println("usage: bin/onednn-precision [SEEDS [NETWORK ...]], NETWORK one of "
                    + Arrays.toString(MnistNetwork.Kind.values()) + " with convolutions (" + e.getMessage() + ")");
            System.exit(2);
            return;
        }
        if (seeds < 1 || networks.stream().anyMatch(network -> !network.convolutional())) {
            System.err.println("usage: bin/onednn-precision [SEEDS [NETWORK ...]]: SEEDS at least 1, and only "
                    + "networks with convolutions, which are all oneDNN runs");
            System.exit(2);
        }
        System.out.printf(Locale.ROOT, "Distance from the float64 step, as a fraction of its norm (%d threads):%n%n",
                torch.get_num_threads());
        System.out.println(header());
        for (MnistNetwork.Kind network : networks) {
            for (long seed = 1; seed <= seeds; seed++) {
                System.out.println(format(measure(network, seed, TRAINING_IMAGES, true)));
                System.out.println(format(measure(network, seed, TEST_IMAGES, false)));
            }
        }
    }
}
