package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.github.arelu.AReLU;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;

/**
 * The defaults a run without options gets, as examples/README.md gives them (the paper's code's settings): a
 * changed default changes every number reported from then on, with nothing else to show it.
 */
class DefaultsTest {

    @Test
    void compareTrainsConvMnistWithSgdAtBatch128AndLr1e4() {
        CompareCommand compare = new CompareCommand(ProgressBar.silent());
        Main.commandLine(compare).parseArgs();
        assertEquals(1e-4, compare.learningRate);
        assertEquals(2, compare.epochs);
        assertEquals("AReLU,ReLU,PReLU", compare.activations);
        assertEquals(MnistNetwork.Kind.ConvMNIST, compare.common.network);
        assertEquals(Trainer.OptimizerKind.SGD, compare.common.optimizer);
        assertEquals(128, compare.common.batchSize);
        assertEquals(0, compare.common.trainLimit);
        assertEquals(0, compare.common.testLimit);
        assertEquals(TensorData.Normalization.mnist, compare.common.normalization);
        assertEquals(AReLU.DEFAULT_ALPHA, compare.common.areluAlpha);
        assertEquals(AReLU.DEFAULT_BETA, compare.common.areluBeta);
        assertFalse(compare.common.projectAlpha);
        assertEquals(1, compare.common.runs.runs);
        assertEquals(42, compare.common.runs.seed);
    }

    @Test
    void transferPretrainsAtLr1e2AndFineTunesAtLr1e5() {
        TransferCommand transfer = new TransferCommand(ProgressBar.silent());
        Main.commandLine(transfer).parseArgs();
        assertEquals(1e-2, transfer.pretrainLearningRate);
        assertEquals(1e-5, transfer.finetuneLearningRate);
        assertEquals(1, transfer.pretrainEpochs);
        assertEquals(2, transfer.finetuneEpochs);
    }

    @Test
    void mamlIsSecondOrderFiveWayOneShotAsThePapersCode() {
        MetaLearningCommand maml = new MetaLearningCommand(null);
        Main.commandLine(maml).parseArgs();
        assertEquals(5, maml.ways);
        assertEquals(1, maml.shots);
        assertNull(maml.queries, "as many query images as shots");
        assertEquals(32, maml.tasksPerStep);
        assertEquals(5, maml.adaptationSteps);
        assertEquals(0.005, maml.adaptationLearningRate);
        assertEquals(0.005, maml.metaLearningRate);
        assertFalse(maml.firstOrder);
        assertEquals(10, maml.evaluateEvery);
        assertEquals(64, maml.evaluationTasks);
        assertEquals(3, maml.runOptions.runs);
        assertNull(maml.clipMetaGradient, "no clipping, as the paper's code");
    }
}
