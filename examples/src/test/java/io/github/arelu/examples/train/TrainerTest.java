package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** {@link Trainer#fit}'s own checks, apart from training. */
class TrainerTest {

    /** Without images there is no step to take, and an accuracy would be 0 / 0: NaN, reported as a result. */
    @Test
    void fitRefusesAnEmptyTrainingOrTestSet() {
        TensorData four = TensorData.of(images(4), MnistData.CLASSES);
        TensorData none = TensorData.of(images(0), MnistData.CLASSES);
        Trainer trainer = new Trainer(2, ProgressBar.silent());
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST, ActivationSpec.byName("ReLU"),
                MnistData.CLASSES, 1);
        IllegalArgumentException noTest = assertThrows(IllegalArgumentException.class, () -> trainer.fit(network,
                Trainer.OptimizerKind.SGD, 0.1, 1, four, none, new Random(1), "no test images"));
        assertEquals("training needs training and test images; got 4 training and 0 test images", noTest.getMessage());
        IllegalArgumentException noTraining = assertThrows(IllegalArgumentException.class, () -> trainer.fit(network,
                Trainer.OptimizerKind.SGD, 0.1, 1, none, four, new Random(1), "no training images"));
        assertEquals("training needs training and test images; got 0 training and 4 test images",
                noTraining.getMessage());
    }

    /**
     * {@link Trainer.BatchSizes#of} names exactly the batch sizes that {@link Trainer#fit} puts through a
     * network, training and scoring: a last, smaller step (7 images in steps of 3) and a last, smaller test batch
     * (2500 test images in batches of 1000), in a process alone and as rank 1 of 2. The oneDNN check runs these.
     */
    @Test
    void batchSizesAreThoseThatFitPutsThroughTheNetwork() {
        assertEquals(new Trainer.BatchSizes(Set.of(1, 3), Set.of(500, 1000)), Trainer.BatchSizes.of(7, 2500, 3, 0, 1));
        assertEquals(new Trainer.BatchSizes(Set.of(1, 2), Set.of(250, 1000)), Trainer.BatchSizes.of(7, 2500, 3, 1, 2));
        assertEquals(new Trainer.BatchSizes(Set.of(7), Set.of(4)), Trainer.BatchSizes.of(7, 4, 20000, 0, 1),
                "a batch larger than the training set takes all of it");
        assertEquals(new Trainer.BatchSizes(Set.of(3), Set.of(4)), Trainer.BatchSizes.of(6, 4, 3, 0, 1),
                "steps that divide the set leave no smaller one");
        assertEquals(new Trainer.BatchSizes(Set.of(), Set.of()), Trainer.BatchSizes.of(1, 1, 3, 0, 2),
                "rank 0 of 2 has no share of one image");
        assertEquals(new Trainer.BatchSizes(Set.of(1, 2, 3), Set.of(4, 5)), Trainer.BatchSizes.of(5, 4, 2, 0, 1)
                .and(Trainer.BatchSizes.of(3, 5, 3, 0, 1)));
        TensorData train = TensorData.of(images(7), MnistData.CLASSES);
        TensorData test = TensorData.of(images(2500), MnistData.CLASSES);
        for (int worldSize = 1; worldSize <= 2; worldSize++) {
            int rank = worldSize - 1;
            try (PointerScope scope = new PointerScope()) {
                RecordingNetwork network = new RecordingNetwork();
                GradientSync sync = worldSize == 1 ? GradientSync.singleProcess() : new LoneRank(rank, worldSize);
                new Trainer(3, ProgressBar.silent(), sync).fit(network, Trainer.OptimizerKind.SGD, 0.1, 1, train, test,
                        new Random(1), "recorded");
                assertEquals(Trainer.BatchSizes.of(7, 2500, 3, rank, worldSize),
                        new Trainer.BatchSizes(network.training, network.evaluation), "rank " + rank + " of " + worldSize);
            }
        }
    }

    /** A linear classifier that notes the size of each batch it sees, by mode. */
    private static final class RecordingNetwork extends MnistNetwork {
        final Set<Integer> training = new TreeSet<>();
        final Set<Integer> evaluation = new TreeSet<>();
        private final LinearImpl classifier;

        RecordingNetwork() {
            super("Recording");
            classifier = register_module("classifier", new LinearImpl(28 * 28, MnistData.CLASSES));
        }

        @Override
        public Tensor forward(Tensor images) {
            (is_training() ? training : evaluation).add((int) images.size(0));
            return classifier.forward(images.flatten(1, -1)).log_softmax(1);
        }
    }

    /** Rank {@code rank} of a group whose other ranks are absent: its own shards, collectives that add nothing. */
    private record LoneRank(int rank, int worldSize) implements GradientSync {
        @Override
        public Shard shard(int batchSize) {
            return Shard.of(rank, worldSize, batchSize);
        }

        @Override
        public void startFrom(Module network) {
        }

        @Override
        public void shareBuffers(Module network) {
        }

        @Override
        public double sumGradients(Module network, Tensor scaledShardLoss) {
            return scaledShardLoss == null ? 0 : scaledShardLoss.item_double();
        }

        @Override
        public long sum(long value) {
            return value;
        }

        @Override
        public double communicationSeconds() {
            return 0;
        }

        @Override
        public void finish() {
        }
    }

    private static MnistData images(int count) {
        return new MnistData(new byte[count * 28 * 28], new byte[count], 28, 28);
    }

    /**
     * The reported training loss is the mean over the epoch's images: with a last batch smaller than the others
     * (7 images in batches of 3), a mean over batches or a sum of batch means would differ. At learning rate 0 the
     * network stays as it was, so the figure is the loss of the whole set under the initial weights.
     */
    @Test
    void epochLossIsTheMeanOverImagesWhenTheLastBatchIsSmaller() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            Tensor images = torch.randn(7, 1, 28, 28);
            Tensor labels = Tensor.create(new long[] {0, 1, 2, 3, 4, 5, 6}, 7);
            TensorData train = new TensorData(images, labels, MnistData.CLASSES);
            MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST, ActivationSpec.byName("ReLU"),
                    MnistData.CLASSES, 1);
            double expected = torch.nll_loss(network.forward(images), labels).item_double();
            Trainer.History history = new Trainer(3, ProgressBar.silent()).fit(network, Trainer.OptimizerKind.SGD, 0,
                    1, train, train, new Random(1), "lr 0");
            assertEquals(expected, history.trainLoss()[0], 1e-5);
        }
    }

    /**
     * Scoring runs in eval mode: BatchNorm normalizes with its running statistics and does not update them (in
     * train mode each test batch would move them, and the accuracy would depend on the test set's batching).
     * Afterwards the network is back in train mode.
     */
    @Test
    void scoringLeavesBatchNormsRunningStatisticsAloneAndTrainModeOn() {
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ResNet, ActivationSpec.byName("ReLU"),
                    MnistData.CLASSES, 1);
            torch.manual_seed(4);
            TensorData test = new TensorData(torch.randn(6, 1, 28, 28).mul(new Scalar(3.0)),
                    Tensor.create(new long[] {0, 1, 2, 3, 4, 5}, 6), MnistData.CLASSES);
            TensorVector buffers = network.buffers();
            Tensor[] before = new Tensor[(int) buffers.size()];
            for (int i = 0; i < before.length; i++) {
                before[i] = buffers.get(i).clone();
            }
            Trainer.accuracy(network, test);
            for (int i = 0; i < before.length; i++) {
                assertTrue(before[i].equal(network.buffers().get(i)), "buffer " + i + " changed while scoring");
            }
            assertTrue(network.is_training(), "back in train mode");
        }
    }

    /**
     * Two SGD steps of {@link Trainer#fit} against the same two steps written out: each step's gradients alone
     * (zeroed before it), the learning rate asked for, momentum 0.9 (PyTorch's form: the buffer starts as the
     * first gradient, then buffer = 0.9 buffer + gradient, weights -= lr buffer).
     */
    @Test
    void sgdStepsUseTheLearningRateMomentumAndEachBatchsOwnGradients() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(5);
            Tensor images = torch.randn(4, 1, 28, 28);
            Tensor labels = Tensor.create(new long[] {0, 1, 2, 3}, 4);
            TensorData train = new TensorData(images, labels, MnistData.CLASSES);
            double learningRate = 0.05;
            MnistNetwork trained = Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST, ActivationSpec.byName("ReLU"),
                    MnistData.CLASSES, 1);
            new Trainer(2, ProgressBar.silent()).fit(trained, Trainer.OptimizerKind.SGD, learningRate, 1, train, train,
                    new Random(7), "two steps");

            MnistNetwork reference = Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST, ActivationSpec.byName("ReLU"),
                    MnistData.CLASSES, 1);
            TensorVector parameters = reference.parameters();
            Tensor order = Tensor.create(Trainer.shuffledIndices(4, new Random(7)), 4);
            List<Tensor> momentum = new ArrayList<>();
            for (int start = 0; start < 4; start += 2) {
                Tensor batch = order.narrow(0, start, 2);
                reference.zero_grad(true);
                torch.nll_loss(reference.forward(images.index_select(0, batch)), labels.index_select(0, batch))
                        .backward();
                try (NoGradGuard noGrad = new NoGradGuard()) {
                    for (int i = 0; i < parameters.size(); i++) {
                        Tensor gradient = parameters.get(i).grad().clone();
                        if (start == 0) {
                            momentum.add(gradient);
                        } else {
                            momentum.set(i, momentum.get(i).mul(new Scalar(0.9)).add(gradient));
                        }
                        parameters.get(i).sub_(momentum.get(i).mul(new Scalar(learningRate)));
                    }
                }
            }
            TensorVector actual = trained.parameters();
            for (int i = 0; i < parameters.size(); i++) {
                assertTrue(actual.get(i).allclose(parameters.get(i), 1e-4, 1e-6, false), "parameter " + i);
            }
            // And the steps did move the weights: the comparison is not between two untouched networks.
            assertTrue(!actual.get(0).allclose(Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST,
                    ActivationSpec.byName("ReLU"), MnistData.CLASSES, 1).parameters().get(0), 1e-4, 1e-6, false));
        }
    }

    /** Images per second is the mean of the epochs' training throughputs (as each epoch's line prints them). */
    @Test
    void imagesPerSecondIsTheMeanOverEpochsNotTheSum() {
        try (PointerScope scope = new PointerScope()) {
            TensorData train = TensorData.of(images(64), MnistData.CLASSES);
            ByteArrayOutputStream lines = new ByteArrayOutputStream();
            Trainer trainer = new Trainer(16, new ProgressBar(new PrintStream(lines, true), false));
            MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.LinearMNIST, ActivationSpec.byName("ReLU"),
                    MnistData.CLASSES, 1);
            Trainer.History history = trainer.fit(network, Trainer.OptimizerKind.SGD, 0.01, 3, train, train,
                    new Random(1), "three epochs");
            Matcher matcher = Pattern.compile("(\\d+) img/s training")
                    .matcher(lines.toString());
            List<Double> epochs = new ArrayList<>();
            while (matcher.find()) {
                epochs.add(Double.parseDouble(matcher.group(1)));
            }
            assertEquals(3, epochs.size(), lines.toString());
            double mean = epochs.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            // Each epoch's figure is printed rounded to a whole number.
            assertEquals(mean, history.imagesPerSecond(), 1.0, lines.toString());
        }
    }
}
