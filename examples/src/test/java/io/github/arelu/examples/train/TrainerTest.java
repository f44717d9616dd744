package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import org.bytedeco.javacpp.PointerScope;
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
