package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
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
}
