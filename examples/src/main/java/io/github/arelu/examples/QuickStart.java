package io.github.arelu.examples;

// README:begin
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import io.github.arelu.AReLU;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A tiny classifier with AReLU: trained, saved, loaded into a fresh model and used for inference. The task
 * needs no data set: tell which of three rings around the origin a 2-D point lies in.
 */
public class QuickStart {

    /** 2 inputs -> 64 hidden units -> AReLU -> 3 classes, as log-probabilities. */
    static class Net extends Module {
        final LinearImpl hidden = register_module("hidden", new LinearImpl(2, 64));
        final AReLU arelu = register_module("arelu", new AReLU()); // learnable alpha 0.90 and beta 2.0
        final LinearImpl output = register_module("output", new LinearImpl(64, 3));

        Tensor forward(Tensor x) {
            return output.forward(arelu.forward(hidden.forward(x))).log_softmax(1);
        }
    }

    /** {@code count} normally distributed points and their ring (0, 1, 2), about a third in each. */
    static Tensor[] rings(long count) {
        Tensor points = torch.randn(count, 2);
        Tensor squaredRadius = points.square().sum(1);
        Tensor ring = squaredRadius.gt(new Scalar(0.81)).to(ScalarType.Long)
                .add(squaredRadius.gt(new Scalar(2.2)).to(ScalarType.Long));
        return new Tensor[] {points, ring};
    }

    static double accuracy(Tensor predicted, Tensor labels) {
        return 100.0 * predicted.eq(labels).sum().item_long() / labels.size(0);
    }

    public static void main(String[] args) throws Exception {
        LibTorch.load(); // before any bytedeco class: see "Run your own program" in the README
        torch.manual_seed(0);
        Path checkpoint = args.length > 0 ? Path.of(args[0]) : Files.createTempFile("arelu-quickstart", ".pt");
        if (args.length == 0) {
            checkpoint.toFile().deleteOnExit(); // pass a file name to keep the checkpoint
        }

        Net net = new Net();
        Adam adam = new Adam(net.parameters(), new AdamOptions(1e-2)); // alpha and beta are parameters too
        for (int step = 1; step <= 300; step++) {
            try (PointerScope scope = new PointerScope()) { // frees this step's tensors at once
                Tensor[] batch = rings(128);
                adam.zero_grad();
                Tensor loss = torch.nll_loss(net.forward(batch[0]), batch[1]);
                loss.backward();
                adam.step();
                if (step == 1 || step % 100 == 0) {
                    System.out.printf(Locale.ROOT, "step %d: loss %.4f%n", step, loss.item_double());
                }
            }
        }

        OutputArchive archive = new OutputArchive();
        net.save(archive); // every parameter, AReLU's alpha and beta among them
        archive.save_to(checkpoint.toString());
        Net loaded = new Net();
        InputArchive input = new InputArchive();
        input.load_from(checkpoint.toString());
        loaded.load(input);

        Tensor[] test = rings(2000);
        try (NoGradGuard noGrad = new NoGradGuard()) { // inference: no autograd graph
            Tensor trainedPredictions = net.forward(test[0]).argmax(new LongOptional(1), false);
            Tensor loadedPredictions = loaded.forward(test[0]).argmax(new LongOptional(1), false);
            System.out.printf(Locale.ROOT, "trained: alpha %.6f, beta %.6f, test accuracy %.2f %%%n",
                    net.arelu.alpha().item_double(), net.arelu.beta().item_double(),
                    accuracy(trainedPredictions, test[1]));
            System.out.printf(Locale.ROOT,
                    "loaded:  alpha %.6f, beta %.6f, test accuracy %.2f %%, same predictions: %b (%s)%n",
                    loaded.arelu.alpha().item_double(), loaded.arelu.beta().item_double(),
                    accuracy(loadedPredictions, test[1]), loadedPredictions.equal(trainedPredictions), checkpoint);
        }
        // libtorch's big tensors are much faster under tcmalloc; see "Run your own program" in the README.
        boolean tcmalloc = Files.readString(Path.of("/proc/self/maps")).contains("libtcmalloc");
        System.out.println("memory allocator: " + (tcmalloc ? "tcmalloc" : "glibc malloc"));
    }
}
// README:end
