package io.github.arelu.examples;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

import io.github.arelu.AReLU;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The paper's ConvMNIST with AReLU trained on (Fashion-)MNIST in one file: read the IDX files, train with SGD,
 * test after every epoch. Copy it to start a program of your own; {@code bin/train-convmnist [DATA_DIR
 * [EPOCHS]]} runs it (default: Debian's Fashion-MNIST, 2 epochs).
 */
public class TrainConvMnist {

    /** Three blocks of convolution, 2x2 max-pooling and AReLU (28 -> 24 -> 12 -> 8 -> 4 -> 2 -> 1), then 40 -> 10. */
    static class Net extends Module {
        final Conv2dImpl conv1 = register_module("conv1", new Conv2dImpl(1, 10, new LongPointer(5L, 5L)));
        final AReLU activation1 = register_module("activation1", new AReLU());
        final Conv2dImpl conv2 = register_module("conv2", new Conv2dImpl(10, 20, new LongPointer(5L, 5L)));
        final AReLU activation2 = register_module("activation2", new AReLU());
        final Conv2dImpl conv3 = register_module("conv3", new Conv2dImpl(20, 40, new LongPointer(3L, 3L)));
        final AReLU activation3 = register_module("activation3", new AReLU());
        final LinearImpl classifier = register_module("classifier", new LinearImpl(40, 10));

        Tensor forward(Tensor images) {
            Tensor x = activation1.forward(maxPool2(conv1.forward(images)));
            x = activation2.forward(maxPool2(conv2.forward(x)));
            x = activation3.forward(maxPool2(conv3.forward(x)));
            return classifier.forward(x.flatten(1, -1)).log_softmax(1);
        }

        static Tensor maxPool2(Tensor x) {
            return torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1},
                    false);
        }
    }

    /** An IDX file's body after its header, as unsigned bytes, and its dimensions; gzipped or not. */
    record Idx(int[] dimensions, byte[] values) {

        static Idx read(Path directory, String name) throws IOException {
            Path gzipped = directory.resolve(name + ".gz");
            boolean zipped = Files.exists(gzipped);
            try (InputStream file = Files.newInputStream(zipped ? gzipped : directory.resolve(name));
                    DataInputStream in = new DataInputStream(zipped ? new GZIPInputStream(file) : file)) {
                int magic = in.readInt(); // 0x0000080N: unsigned bytes, N dimensions
                if ((magic & 0xFFFFFF00) != 0x800) {
                    throw new IOException(name + " is not an IDX file of unsigned bytes");
                }
                int[] dimensions = new int[magic & 0xFF];
                long size = 1;
                for (int i = 0; i < dimensions.length; i++) {
                    dimensions[i] = in.readInt();
                    size *= dimensions[i];
                }
                byte[] values = new byte[Math.toIntExact(size)];
                in.readFully(values);
                return new Idx(dimensions, values);
            }
        }
    }

    /** Images {@code [N, 1, 28, 28]} scaled to [0, 1] then normalized with MNIST's mean and std. */
    static Tensor images(Idx idx) {
        float[] pixels = new float[idx.values().length];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (Byte.toUnsignedInt(idx.values()[i]) / 255f - 0.1307f) / 0.3081f;
        }
        return Tensor.create(pixels, idx.dimensions()[0], 1, idx.dimensions()[1], idx.dimensions()[2]);
    }

    static Tensor labels(Idx idx) {
        long[] labels = new long[idx.values().length];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = idx.values()[i];
        }
        return Tensor.create(labels, labels.length);
    }

    /** One pass over the images in a random order; returns the mean training loss. */
    static double trainEpoch(Net net, SGD optimizer, Tensor images, Tensor labels, int batchSize) {
        net.train(true);
        long count = images.size(0);
        double lossSum = 0;
        Tensor order = torch.randperm(count);
        for (long start = 0; start < count; start += batchSize) {
            try (PointerScope scope = new PointerScope()) { // frees this step's tensors at once
                Tensor batch = order.narrow(0, start, Math.min(batchSize, count - start));
                optimizer.zero_grad();
                Tensor loss = torch.nll_loss(net.forward(images.index_select(0, batch)), labels.index_select(0, batch));
                loss.backward();
                optimizer.step();
                lossSum += loss.item_double() * batch.size(0);
            }
        }
        return lossSum / count;
    }

    /** Percentage of the images classified correctly, in eval mode without autograd. */
    static double accuracy(Net net, Tensor images, Tensor labels) {
        net.eval();
        long correct = 0;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (long start = 0; start < images.size(0); start += 1000) {
                try (PointerScope scope = new PointerScope()) {
                    long size = Math.min(1000, images.size(0) - start);
                    Tensor predicted = net.forward(images.narrow(0, start, size)).argmax(new LongOptional(1), false);
                    correct += predicted.eq(labels.narrow(0, start, size)).sum().item_long();
                }
            }
        }
        return 100.0 * correct / images.size(0);
    }

    static final String USAGE = "usage: train-convmnist [DATA_DIR [EPOCHS]]";

    /** {@code [DATA_DIR [EPOCHS]]}: by default Debian's Fashion-MNIST and 2 epochs. */
    record Arguments(Path data, int epochs) {

        /** @throws IllegalArgumentException naming what is wrong with {@code args} */
        static Arguments parse(String... args) {
            if (args.length > 2) {
                throw new IllegalArgumentException("at most DATA_DIR and EPOCHS, got " + args.length + " arguments");
            }
            int epochs = 2;
            if (args.length == 2) {
                try {
                    epochs = Integer.parseInt(args[1]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("EPOCHS must be a whole number, got '" + args[1] + "'");
                }
                if (epochs < 1) {
                    throw new IllegalArgumentException("EPOCHS must be at least 1, got " + epochs);
                }
            }
            return new Arguments(Path.of(args.length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist"), epochs);
        }
    }

    public static void main(String[] args) throws IOException {
        Arguments arguments;
        try {
            arguments = Arguments.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("train-convmnist: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        LibTorch.load(); // before any bytedeco class: see "Run your own program" in the README
        Path data = arguments.data();
        int epochs = arguments.epochs();
        // libtorch's own convolutions (bytedeco 2.10.0's oneDNN returns NaN on some machines, see
        // examples/README.md) and one OpenBLAS thread under libtorch's own threads.
        torch.globalContext().setUserEnabledMkldnn(false);
        torch.globalContext().setUserEnabledNNPACK(false);
        openblas_nolapack.blas_set_num_threads(1);
        torch.set_num_threads(Runtime.getRuntime().availableProcessors());
        torch.manual_seed(42);

        Tensor trainImages = images(Idx.read(data, "train-images-idx3-ubyte"));
        Tensor trainLabels = labels(Idx.read(data, "train-labels-idx1-ubyte"));
        Tensor testImages = images(Idx.read(data, "t10k-images-idx3-ubyte"));
        Tensor testLabels = labels(Idx.read(data, "t10k-labels-idx1-ubyte"));

        Net net = new Net();
        SGDOptions options = new SGDOptions(0.01);
        options.momentum().put(0.9);
        SGD optimizer = new SGD(net.parameters(), options); // AReLU's alpha and beta are parameters too
        for (int epoch = 1; epoch <= epochs; epoch++) {
            long start = System.nanoTime();
            double loss = trainEpoch(net, optimizer, trainImages, trainLabels, 128);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "epoch %d: training loss %.4f, test accuracy %.2f %% (%.0f images/s)%n",
                    epoch, loss, accuracy(net, testImages, testLabels), trainImages.size(0) / seconds);
        }
        // Raw alpha: the slope for x < 0 is alpha clamped to [0.01, 0.99], and a clamped alpha gets no gradient.
        System.out.printf(Locale.ROOT,
                "AReLU raw alpha %.4f, %.4f, %.4f (used clamped to [0.01, 0.99]); beta %.4f, %.4f, %.4f%n",
                net.activation1.alpha().item_double(), net.activation2.alpha().item_double(),
                net.activation3.alpha().item_double(), net.activation1.beta().item_double(),
                net.activation2.beta().item_double(), net.activation3.beta().item_double());
    }
}
