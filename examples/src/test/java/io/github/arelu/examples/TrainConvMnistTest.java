package io.github.arelu.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.ConvMnist;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-file example: its network is the experiments' ConvMNIST with AReLU (the same parameters from
 * the same seed, the same function), its IDX reader reads plain and gzipped files, and its loop learns.
 */
class TrainConvMnistTest {

    @TempDir
    Path directory;

    @Test
    void itsNetworkIsTheExperimentsConvMnistWithAReLU() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(9);
            TrainConvMnist.Net copy = new TrainConvMnist.Net();
            torch.manual_seed(9);
            ConvMnist original = new ConvMnist(ActivationSpec.byName("AReLU"), 10);
            assertEquals(names(original), names(copy));
            Tensor[] copied = copy.parameters().get();
            Tensor[] originals = original.parameters().get();
            for (int i = 0; i < copied.length; i++) {
                assertTrue(copied[i].equal(originals[i]), names(copy).get(i));
            }
            Tensor images = torch.randn(4, 1, 28, 28);
            assertTrue(copy.forward(images).allclose(original.forward(images)), "the same function");
        }
    }

    @Test
    void readsPlainAndGzippedIdxFilesAndRefusesOthers() throws IOException {
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(directory.resolve("plain")))) {
            out.writeInt(0x803);
            out.writeInt(2);
            out.writeInt(1);
            out.writeInt(3);
            out.write(new byte[] {0, 127, (byte) 255, 1, 2, 3});
        }
        TrainConvMnist.Idx plain = TrainConvMnist.Idx.read(directory, "plain");
        assertArrayEquals(new int[] {2, 1, 3}, plain.dimensions());
        assertArrayEquals(new byte[] {0, 127, (byte) 255, 1, 2, 3}, plain.values());
        Tensor images = TrainConvMnist.images(plain);
        assertEquals(List.of(2L, 1L, 1L, 3L), List.of(images.size(0), images.size(1), images.size(2), images.size(3)));
        assertEquals((1f - 0.1307f) / 0.3081f, images.view(-1).get(2).item_float(), 1e-6);

        Files.write(directory.resolve("text"), "not an IDX file".getBytes());
        IOException e = assertThrows(IOException.class, () -> TrainConvMnist.Idx.read(directory, "text"));
        assertEquals("text is not an IDX file of unsigned bytes", e.getMessage());
    }

    /**
     * An EPOCHS below 1 trained nothing and exited 0, and arguments past the second were ignored: each ends in
     * a line naming the problem and the usage line on stderr, exit code 2, before libtorch is loaded.
     */
    @Test
    void badArgumentsGetTheUsageLineAndExitCode2() throws IOException, InterruptedException {
        String[][] bad = {{"data", "0"}, {"data", "-3"}, {"data", "two"}, {"data", "2", "extra"}};
        String[] problems = {"EPOCHS must be at least 1, got 0", "EPOCHS must be at least 1, got -3",
            "EPOCHS must be a whole number, got 'two'", "at most DATA_DIR and EPOCHS, got 3 arguments"};
        for (int i = 0; i < bad.length; i++) {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-cp", System.getProperty("java.class.path"), TrainConvMnist.class.getName()));
            command.addAll(List.of(bad[i]));
            Path err = directory.resolve("err" + i + ".txt");
            Process process = new ProcessBuilder(command).redirectError(err.toFile())
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            assertEquals(2, process.waitFor(), Files.readString(err));
            assertEquals(List.of("train-convmnist: " + problems[i], TrainConvMnist.USAGE),
                    Files.readAllLines(err).stream().filter(line -> !line.startsWith("Picked up")).toList());
        }
        assertEquals(new TrainConvMnist.Arguments(Path.of("data"), 1), TrainConvMnist.Arguments.parse("data", "1"));
        assertEquals(new TrainConvMnist.Arguments(Path.of("/usr/share/datasets/fashion-mnist"), 2),
                TrainConvMnist.Arguments.parse());
    }

    /** One epoch on 6400 real images (50 steps of 128): far above chance (10 %) on 1000 test images. */
    @Test
    void oneEpochLearnsFashionMnist() throws IOException {
        assumeTrue(Files.isDirectory(MnistData.DEFAULT_DIRECTORY), "Fashion-MNIST is not installed in "
                + MnistData.DEFAULT_DIRECTORY + " (apt-get install " + MnistData.DEBIAN_PACKAGE + "); skipping");
        Path data = MnistData.DEFAULT_DIRECTORY;
        Tensor trainImages = TrainConvMnist.images(TrainConvMnist.Idx.read(data, "train-images-idx3-ubyte"))
                .narrow(0, 0, 6400);
        Tensor trainLabels = TrainConvMnist.labels(TrainConvMnist.Idx.read(data, "train-labels-idx1-ubyte"))
                .narrow(0, 0, 6400);
        Tensor testImages = TrainConvMnist.images(TrainConvMnist.Idx.read(data, "t10k-images-idx3-ubyte"))
                .narrow(0, 0, 1000);
        Tensor testLabels = TrainConvMnist.labels(TrainConvMnist.Idx.read(data, "t10k-labels-idx1-ubyte"))
                .narrow(0, 0, 1000);
        torch.manual_seed(42);
        TrainConvMnist.Net net = new TrainConvMnist.Net();
        SGDOptions options = new SGDOptions(0.01);
        options.momentum().put(0.9);
        double before = TrainConvMnist.accuracy(net, testImages, testLabels);
        double loss = TrainConvMnist.trainEpoch(net, new SGD(net.parameters(), options), trainImages, trainLabels, 128);
        double after = TrainConvMnist.accuracy(net, testImages, testLabels);
        assertTrue(Double.isFinite(loss) && loss < Math.log(10), "mean training loss " + loss);
        assertTrue(after > 60 && after > before + 30, "test accuracy " + before + " % before, " + after + " % after");
    }

    private static List<String> names(Module module) {
        StringTensorDict parameters = module.named_parameters();
        List<String> names = new ArrayList<>();
        for (long i = 0; i < parameters.size(); i++) {
            names.add(parameters.get(i).key().getString());
        }
        return names;
    }
}
