package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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

/** The small ResNet of {@code --net ResNet}, and channel-wise AReLU as an activation of its own. */
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
}
