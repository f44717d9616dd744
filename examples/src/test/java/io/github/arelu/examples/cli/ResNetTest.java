package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageIO;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The small ResNet of {@code --net ResNet}, the VGG-style stack of {@code --net VGG}, and channel-wise AReLU as an
 * activation of its own.
 */
class ResNetTest {

    @TempDir
    Path tinyDataSet;

    /** The element counts of the network's AReLU alphas, in registration (forward) order. */
    private static List<Long> alphaSizes(Module network) {
        List<Long> sizes = new ArrayList<>();
        StringTensorDict parameters = network.named_parameters();
        for (long i = 0; i < parameters.size(); i++) {
            if (parameters.get(i).key().getString().endsWith(".alpha")) {
                sizes.add(parameters.get(i).value().numel());
            }
        }
        return sizes;
    }

    @Test
    void thirteenActivationLayersWithTheirLayersChannelCounts() {
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork scalar = Trainer.newNetwork(MnistNetwork.Kind.ResNet, ActivationSpec.byName("AReLU"), 10, 1);
            MnistNetwork channelwise = Trainer.newNetwork(MnistNetwork.Kind.ResNet,
                    ActivationSpec.byName("arelu-CHANNELWISE"), 10, 1);
            assertEquals(List.of(16L, 16L, 16L, 16L, 16L, 32L, 32L, 32L, 32L, 64L, 64L, 64L, 64L),
                    alphaSizes(channelwise));
            assertEquals(java.util.Collections.nCopies(13, 1L), alphaSizes(scalar));

            Tensor images = torch.randn(3, 1, 28, 28);
            for (MnistNetwork network : new MnistNetwork[] {scalar, channelwise}) {
                Tensor logProbabilities = network.forward(images);
                assertEquals(List.of(3L, 10L), List.of(logProbabilities.size(0), logProbabilities.size(1)));
                Tensor rowSums = logProbabilities.exp().sum(1);
                for (int row = 0; row < 3; row++) {
                    assertEquals(1.0, rowSums.select(0, row).item_double(), 1e-5);
                }
            }
        }
    }

    /** The second family, {@code --net VGG}: six activation layers at 16, 32 and 64 channels, no shortcuts. */
    @Test
    void vggHasSixActivationLayersAndTrainsThroughCompare() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork channelwise = Trainer.newNetwork(MnistNetwork.Kind.VGG,
                    ActivationSpec.byName("AReLU-channelwise"), 10, 1);
            assertEquals(List.of(16L, 16L, 32L, 32L, 64L, 64L), alphaSizes(channelwise));
            Tensor logProbabilities = channelwise.forward(torch.randn(3, 1, 28, 28));
            assertEquals(List.of(3L, 10L), List.of(logProbabilities.size(0), logProbabilities.size(1)));
            Tensor rowSums = logProbabilities.exp().sum(1);
            for (int row = 0; row < 3; row++) {
                assertEquals(1.0, rowSums.select(0, row).item_double(), 1e-5);
            }
        }
        TinyDataSet.write(tinyDataSet, 8, 4, 4);
        CommandRun outcome = CommandRun.of(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "VGG", "--activations", "AReLU,ReLU", "--epochs", "1", "--batch-size", "4", "--onednn", "off");
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("VGG, SGD"), outcome.out());
    }

    @Test
    void compareTrainsTheResNetWithChannelwiseAReLU() throws IOException {
        TinyDataSet.write(tinyDataSet, 8, 4, 4);
        CommandRun outcome = CommandRun.of(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "ResNet", "--activations", "AReLU,AReLU-channelwise,ReLU", "--epochs", "1",
                "--batch-size", "4", "--onednn", "off");
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("ResNet"), outcome.out());
        assertTrue(outcome.out().contains("AReLU-channelwise"), outcome.out());
    }

    /** compare's JSON, parameter CSV and parameter plot carry every AReLU layer's alpha and beta per epoch. */
    @Test
    void compareWritesTheAReLUParametersOfEveryLayerAndEpoch() throws IOException {
        TinyDataSet.write(tinyDataSet, 8, 4, 4);
        Path json = tinyDataSet.resolve("out.json");
        Path csv = tinyDataSet.resolve("parameters.csv");
        Path plot = tinyDataSet.resolve("parameters.png");
        CommandRun outcome = CommandRun.of(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "ResNet", "--activations", "AReLU-channelwise,ReLU", "--epochs", "2", "--runs", "2",
                "--batch-size", "4", "--onednn", "off", "--json-out", json.toString(), "--parameter-csv",
                csv.toString(), "--parameter-plot", plot.toString());
        assertEquals(0, outcome.exitCode(), outcome.err());

        JsonObject document = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
        String setup = document.get("setup").getAsString();
        assertTrue(setup.startsWith("Data: " + tinyDataSet + ", 8 training and 4 test images. ResNet, SGD"), setup);
        assertTrue(setup.contains("batch 4, 2 run(s) from seed 42;") && setup.endsWith(", lr 1.0E-4, 2 epoch(s)."),
                setup);
        JsonObject root = document.getAsJsonObject("activations");
        JsonArray layers = root.getAsJsonObject("AReLU-channelwise").getAsJsonArray("runs").get(1).getAsJsonObject()
                .getAsJsonArray("parameters");
        assertEquals(13, layers.size());
        JsonObject last = layers.get(12).getAsJsonObject();
        assertEquals("block6.activation2", last.get("layer").getAsString());
        assertEquals(64, last.get("channels").getAsInt());
        JsonArray alphaMeans = last.getAsJsonObject("alpha").getAsJsonArray("mean");
        assertEquals(3, alphaMeans.size(), "the start and two epochs");
        assertEquals(0.9, alphaMeans.get(0).getAsDouble(), 1e-6);
        assertEquals(3, last.getAsJsonObject("alpha").getAsJsonArray("outsideClamp").size());
        assertEquals(3, last.getAsJsonObject("beta").getAsJsonArray("max").size());
        assertTrue(root.getAsJsonObject("ReLU").getAsJsonArray("runs").get(0).getAsJsonObject().get("parameters") == null,
                "ReLU has no AReLU layers");

        List<String> rows = Files.readAllLines(csv);
        assertEquals("activation,run,epoch,layer,channels,parameter,mean,min,max,outside_clamp", rows.get(0));
        assertEquals(1 + 2 * 13 * 3 * 2, rows.size(), "2 runs x 13 layers x 3 points x (alpha, beta)");
        assertTrue(rows.contains("AReLU-channelwise,2,0,block6.activation2,64,alpha,0.89999998,0.89999998,0.89999998,"
                + "0.000000"), rows.get(rows.size() - 2));
        assertTrue(rows.stream().allMatch(row -> row.startsWith("activation,") || row.startsWith("AReLU-channelwise,")));

        BufferedImage image = ImageIO.read(plot.toFile());
        assertEquals(3 * 640, image.getWidth(), "alpha, beta and the clamped share side by side");
    }

    @Test
    void aParameterPlotNeedsAnAReLUActivation() throws IOException {
        TinyDataSet.write(tinyDataSet, 8, 4, 4);
        CommandRun outcome = CommandRun.of(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--activations", "ReLU,PReLU", "--parameter-plot", tinyDataSet.resolve("p.png").toString());
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("--parameter-plot") && outcome.err().contains("has no AReLU"), outcome.err());
        assertTrue(Files.notExists(tinyDataSet.resolve("p.png")));
    }
}
