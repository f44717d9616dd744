package io.github.arelu.examples.cli;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import io.github.arelu.LibTorch;
import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.dist.DataParallel;
import io.github.arelu.examples.dist.DataParallelException;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.LibTorchSettings;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One process of {@link DataParallelTest}: trains ConvMNIST with AReLU on a few batches of Fashion-MNIST,
 * alone (world size 1) or as one rank of a group, and has rank 0 write the final parameters; or, to test
 * faults, joins the group and then dies or hangs.
 *
 * <p>Arguments: {@code MODE RANK WORLD_SIZE HOST:PORT TIMEOUT_SECONDS PARAMETERS_FILE}, MODE one of
 * {@code train}, {@code batchnorm}, {@code rrelu}, {@code die} (exits abruptly right after joining) and
 * {@code hang} (joins, then never calls a collective). Exit code 0 on success, 1 after a
 * {@link DataParallelException}, whose message goes to stderr as the commands print it.
 */
public final class DataParallelWorker {

    /** 601 images: four full batches and one of 89, split 44/45 over two ranks, so shares are uneven. */
    static final int TRAIN_IMAGES = 601;
    static final int TEST_IMAGES = 100;
    static final int BATCH = 128;
    static final int EPOCHS = 2;
    static final double LEARNING_RATE = 0.05;
    static final long SEED = 7;

    private DataParallelWorker() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        LibTorch.load();
        String mode = args[0];
        int rank = Integer.parseInt(args[1]);
        int worldSize = Integer.parseInt(args[2]);
        DataParallel.Master master = DataParallel.Master.parse(args[3]);
        Duration timeout = Duration.ofMillis(Math.round(Double.parseDouble(args[4]) * 1000));
        Path parametersFile = Path.of(args[5]);
        LibTorchSettings.applyDefaults(1);
        try {
            GradientSync group = worldSize == 1 ? GradientSync.singleProcess()
                    : DataParallel.connect(master, rank, worldSize, timeout, null, Map.of());
            switch (mode) {
                case "die" -> Runtime.getRuntime().halt(3);
                case "hang" -> Thread.sleep(Long.MAX_VALUE);
                case "train" -> train(group, rank, parametersFile);
                case "batchnorm" -> trainWithBatchNorm(group, rank, parametersFile);
                case "rrelu" -> rreluOutputs(group, rank, parametersFile);
                default -> throw new IllegalArgumentException("unknown mode " + mode);
            }
        } catch (DataParallelException e) {
            // As the commands report it: the group's message, then the options to change.
            System.err.println("worker rank " + rank + ": " + DistributedOptions.describe(e));
            System.exit(1);
        }
        System.exit(0);
    }

    private static void train(GradientSync group, int rank, Path parametersFile) throws IOException {
        MnistData[] data = MnistData.loadTrainAndTest(MnistData.DEFAULT_DIRECTORY);
        TensorData train = TensorData.of(data[0].firstN(TRAIN_IMAGES), MnistData.CLASSES);
        TensorData test = TensorData.of(data[1].firstN(TEST_IMAGES), MnistData.CLASSES);
        // Each rank starts from other weights: only rank 0's broadcast can make the result match one process.
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ConvMNIST, ActivationSpec.byName("AReLU"),
                MnistData.CLASSES, SEED + rank);
        new Trainer(BATCH, ProgressBar.silent(), group).fit(network, Trainer.OptimizerKind.SGD, LEARNING_RATE, EPOCHS,
                train, test, new Random(SEED), "worker");
        if (rank == 0) {
            writeParameters(network, parametersFile);
        }
        group.finish();
    }

    /**
     * The ResNet (BatchNorm after every convolution) for one epoch of 300 images; every rank writes its buffers
     * (BatchNorm's running statistics) to {@code file} + ".rank" + rank once the epoch's test pass is done.
     */
    private static void trainWithBatchNorm(GradientSync group, int rank, Path file) throws IOException {
        MnistData[] data = MnistData.loadTrainAndTest(MnistData.DEFAULT_DIRECTORY);
        TensorData train = TensorData.of(data[0].firstN(300), MnistData.CLASSES);
        TensorData test = TensorData.of(data[1].firstN(TEST_IMAGES), MnistData.CLASSES);
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ResNet, ActivationSpec.byName("AReLU"),
                MnistData.CLASSES, SEED + rank);
        new Trainer(BATCH, ProgressBar.silent(), group).fit(network, Trainer.OptimizerKind.SGD, LEARNING_RATE, 1,
                train, test, new Random(SEED), "worker");
        writeTensors(network.buffers(), Path.of(file + ".rank" + rank));
        group.finish();
    }

    /**
     * ConvMNIST with RReLU built from {@link #SEED} on every rank, as compare builds a run's network, started from
     * rank 0's weights; every rank writes its training-mode output for {@link #rreluInput()} to {@code file} +
     * ".rank" + rank. The input and the weights are the same on every rank: only RReLU's slopes can differ.
     */
    private static void rreluOutputs(GradientSync group, int rank, Path file) throws IOException {
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ConvMNIST, ActivationSpec.byName("RReLU"),
                MnistData.CLASSES, SEED);
        group.startFrom(network);
        network.train(true);
        TensorVector output = new TensorVector(network.forward(rreluInput()));
        writeTensors(output, Path.of(file + ".rank" + rank));
        group.finish();
    }

    /** Four images of Gaussian noise, drawn from Java's generator so that libtorch's stays untouched. */
    static Tensor rreluInput() {
        Random random = new Random(SEED);
        float[] pixels = new float[4 * 28 * 28];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (float) random.nextGaussian();
        }
        return Tensor.create(pixels, 4, 1, 28, 28);
    }

    /** Every parameter in registration order: its element count, then its floats. */
    static void writeParameters(MnistNetwork network, Path file) throws IOException {
        writeTensors(network.parameters(), file);
    }

    /** The tensors in order: their count, then each one's element count and its values as floats. */
    static void writeTensors(TensorVector tensors, Path file) throws IOException {
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            out.writeInt((int) tensors.size());
            for (long i = 0; i < tensors.size(); i++) {
                float[] values = floats(tensors.get(i));
                out.writeInt(values.length);
                for (float value : values) {
                    out.writeFloat(value);
                }
            }
        }
    }

    static float[] floats(Tensor tensor) {
        // BatchNorm counts its batches in a long buffer: as floats too.
        Tensor contiguous = tensor.detach().to(ScalarType.Float).contiguous();
        float[] values = new float[(int) contiguous.numel()];
        contiguous.data_ptr_float().get(values);
        return values;
    }
}
