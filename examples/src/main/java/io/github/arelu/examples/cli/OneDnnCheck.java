package io.github.arelu.examples.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.LibTorchSettings;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Whether to use libtorch's oneDNN convolutions in this process. bytedeco's 2.10.0 oneDNN returned NaN from
 * finite inputs on some machines (in some processes and not others) and trained correctly on others, so
 * {@code --onednn auto} checks, once per process before training: the network's own forward and backward
 * (its convolution shapes, at each batch size of the run's training steps, random images and labels, the same
 * weights) and its forward in eval mode at each size of the run's test batches, through oneDNN and through
 * libtorch's own convolutions. oneDNN is used only if every output and every parameter gradient
 * is finite and agrees; the {@link Verdict} says which was used and why, for the run's summary.
 */
final class OneDnnCheck {

    /** What {@code --onednn} asks for. */
    enum Mode {
        auto, on, off
    }

    /** Whether oneDNN is on, and the summary's words for it. */
    record Verdict(boolean enabled, String summary) {
    }

    /**
     * How far oneDNN's output may lie from libtorch's own, as the norm of the difference over the norm of
     * libtorch's. A forward pass is well-conditioned: either float32 path lay 4.5e-8 to 7.1e-8 of the norm from a
     * float64 run in every network and mode measured ({@link OneDnnPrecision}: ConvMNIST, ResNet, VGG; 4 seeds;
     * training and eval; 2026-12-07), while the wrong but finite outputs of "The oneDNN bug" lay 0.38 % to 1.9 %
     * off, partly within the gradients' tolerance below.
     */
    private static final double OUTPUT_TOLERANCE = 1e-5;

    /**
     * The same for a parameter's gradient. Not element by element, and loose: at initial weights the whole
     * network's gradients are ill-conditioned (BatchNorm's backward cancels, and a pre-activation rounded to the
     * other side of a ReLU's kink changes the gradient by a step), so rounding alone put libtorch's own float32
     * ResNet gradients up to 0.71 % of their norm from a float64 run, and oneDNN's up to 0.24 %; against a
     * float64 run of the same ResNet step, either float32 path was sometimes off by 2 % of a gradient's largest
     * value in a few elements (2026-12-05). Garbage (the oneDNN bug's other face, besides NaN) differs by the
     * tensor's own size.
     */
    private static final double GRADIENT_TOLERANCE = 1e-2;

    /** A tensor the check compares, in words, and how far apart the two paths may put it. */
    record Compared(String name, double tolerance) {
        static final Compared OUTPUT = new Compared("the output", OUTPUT_TOLERANCE);

        static Compared gradientOf(String parameter) {
            return new Compared(parameter + "'s gradient", GRADIENT_TOLERANCE);
        }
    }

    private static volatile Verdict current = new Verdict(false, "libtorch's own (oneDNN off)");

    private OneDnnCheck() {
    }

    /** Decides for this process (checking when {@code mode} is auto) and switches oneDNN accordingly. */
    static Verdict apply(Mode mode, MnistNetwork.Kind network, Trainer.BatchSizes batches) {
        Verdict verdict = switch (mode) {
            case on -> new Verdict(true, "oneDNN (--onednn on)");
            case off -> new Verdict(false, "libtorch's own (--onednn off)");
            case auto -> check(network, batches);
        };
        LibTorchSettings.setOneDnnEnabled(verdict.enabled());
        current = verdict;
        return verdict;
    }

    /** The verdict of the last {@link #apply}, as the summary prints it. */
    static Verdict current() {
        return current;
    }

    /**
     * oneDNN against libtorch's own convolutions on every batch size of {@code batches}: oneDNN picks its
     * kernels by shape, so agreement on one size says nothing of another (an epoch's last, smaller step, or a
     * test batch of 1000 images in eval mode, whose wrong values would be wrong accuracies without an error).
     */
    private static Verdict check(MnistNetwork.Kind network, Trainer.BatchSizes batches) {
        if (!network.convolutional()) {
            return new Verdict(false, "libtorch's own (--onednn auto: " + network + " has no convolutions)");
        }
        if (batches.training().isEmpty() && batches.evaluation().isEmpty()) {
            return new Verdict(false, "libtorch's own (--onednn auto: no batch to check it on)");
        }
        boolean before = LibTorchSettings.oneDnnEnabled();
        try (PointerScope scope = new PointerScope()) {
            // Random draws here do not change any run: every run's network is made from its own seed.
            MnistNetwork model = network.create(ActivationSpec.byName("ReLU"), 10);
            for (int size : batches.training()) {
                String disagreement = compare(model, size, true);
                if (disagreement != null) {
                    return refused(disagreement + " in a training step of " + size + " images");
                }
            }
            for (int size : batches.evaluation()) {
                String disagreement = compare(model, size, false);
                if (disagreement != null) {
                    return refused(disagreement + " in a test batch of " + size + " images");
                }
            }
            List<String> checked = new ArrayList<>();
            if (!batches.training().isEmpty()) {
                checked.add("training steps of " + sizes(batches.training()) + " images (forward and backward)");
            }
            if (!batches.evaluation().isEmpty()) {
                checked.add("test batches of " + sizes(batches.evaluation()) + " images (forward)");
            }
            return new Verdict(true, "oneDNN (--onednn auto: it agreed with libtorch's own convolutions on "
                    + network + "'s shapes in " + String.join(" and in ", checked) + ")");
        } finally {
            LibTorchSettings.setOneDnnEnabled(before);
        }
    }

    private static Verdict refused(String disagreement) {
        return new Verdict(false, "libtorch's own (--onednn auto: oneDNN " + disagreement + ")");
    }

    /** "96 and 128", "4, 96 and 128". */
    static String sizes(Set<Integer> sizes) {
        List<String> words = sizes.stream().map(String::valueOf).toList();
        return words.size() == 1 ? words.get(0)
                : String.join(", ", words.subList(0, words.size() - 1)) + " and " + words.getLast();
    }

    /**
     * What differs between oneDNN's and libtorch's own convolutions on {@code size} random images, in words
     * ({@link #disagreement}), or null: a training step's output and parameter gradients, or a test batch's
     * output in eval mode without gradients.
     */
    private static String compare(MnistNetwork model, int size, boolean training) {
        try (PointerScope scope = new PointerScope()) {
            Tensor images = torch.randn(size, 1, 28, 28);
            if (training) {
                Tensor labels = torch.randint(10, new long[] {size}, new TensorOptions(ScalarType.Long));
                List<Compared> compared = new ArrayList<>();
                List<Tensor> withOneDnn = forwardBackward(model, images, labels, true, compared);
                return disagreement(compared, withOneDnn, forwardBackward(model, images, labels, false, null));
            }
            return disagreement(List.of(Compared.OUTPUT), List.of(evaluate(model, images, true)),
                    List.of(evaluate(model, images, false)));
        }
    }

    /** The output of one forward pass in eval mode without gradients, as the trainer scores test images. */
    static Tensor evaluate(MnistNetwork model, Tensor images, boolean oneDnn) {
        LibTorchSettings.setOneDnnEnabled(oneDnn);
        model.eval();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            return model.forward(images).clone();
        } finally {
            model.train(true);
        }
    }

    /** The output and every parameter's gradient of one forward and backward; lists them when asked. */
    static List<Tensor> forwardBackward(MnistNetwork model, Tensor images, Tensor labels, boolean oneDnn,
            List<Compared> compared) {
        LibTorchSettings.setOneDnnEnabled(oneDnn);
        model.zero_grad(true);
        Tensor output = model.forward(images);
        torch.nll_loss(output, labels).backward();
        List<Tensor> results = new ArrayList<>(List.of(output.detach().clone()));
        if (compared != null) {
            compared.add(Compared.OUTPUT);
        }
        StringTensorDict parameters = model.named_parameters();
        for (long i = 0; i < parameters.size(); i++) {
            StringTensorDictItem item = parameters.get(i);
            results.add(item.value().grad().clone());
            if (compared != null) {
                compared.add(Compared.gradientOf(item.key().getString()));
            }
        }
        return results;
    }

    /**
     * Null when each candidate tensor is finite wherever its reference is and within its tolerance of it
     * ({@link Compared}); else what differs first, in words ("gave NaN in 12 of 4000 values of conv1.weight's
     * gradient").
     */
    static String disagreement(List<Compared> compared, List<Tensor> candidate, List<Tensor> reference) {
        for (int i = 0; i < compared.size(); i++) {
            Tensor c = candidate.get(i).to(ScalarType.Double);
            Tensor r = reference.get(i).to(ScalarType.Double);
            long total = c.numel();
            long badValues = torch.isfinite(r).logical_and(torch.isfinite(c).logical_not()).sum().item_long();
            if (badValues > 0) {
                return String.format(Locale.ROOT, "gave NaN or infinity in %d of %d values of %s", badValues, total,
                        compared.get(i).name());
            }
            double difference = c.sub(r).norm().item_double();
            double size = r.norm().item_double();
            if (difference > compared.get(i).tolerance() * size) {
                return String.format(Locale.ROOT, "differed from libtorch's own by %.3g %% of the norm of %s",
                        100 * difference / size, compared.get(i).name());
            }
        }
        return null;
    }
}
