package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import io.github.arelu.examples.cli.CommandRun;
import io.github.arelu.examples.cli.MetaLearningCommand;
import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TaskSampler;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.ConvMnist;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MAML through AReLU's fused autograd node: it learns on real data, and the command's outputs and checks. */
class MetaLearningTest {

    @TempDir
    Path work;

    private int threadsBefore;

    @BeforeEach
    void rememberThreads() {
        threadsBefore = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    @AfterEach
    void restoreThreads() {
        torch.set_num_threads(threadsBefore);
    }

    /**
     * Second-order MAML, 5-way 1-shot on Fashion-MNIST, seeded: after 20 meta steps of 8 tasks, adapted AReLU
     * networks classify query images of unseen test tasks well above chance (20 %), and far better than ReLU
     * networks trained the same way: at the adaptation lr of 0.005 ReLU hardly moves in 5 steps, the paper's
     * point. 60 tasks give 300 query images, so a chance-level network would score 20 +- 2.3 %. (Measured
     * while writing this test: AReLU 55.0 %, ReLU 26.3 %.)
     */
    @Test
    void secondOrderMamlWithAReLULearnsAboveChanceAndAboveReLU() throws IOException {
        assumeTrue(Files.isDirectory(MnistData.DEFAULT_DIRECTORY), "Fashion-MNIST is not installed in "
                + MnistData.DEFAULT_DIRECTORY + " (apt-get install " + MnistData.DEBIAN_PACKAGE + "); skipping");
        MnistData[] data = MnistData.loadTrainAndTest(MnistData.DEFAULT_DIRECTORY);
        TaskSampler train = new TaskSampler(data[0], TensorData.of(data[0], MnistData.CLASSES), 5, 1, 1);
        TaskSampler test = new TaskSampler(data[1], TensorData.of(data[1], MnistData.CLASSES), 5, 1, 1);
        double arelu = metaTrainedQueryAccuracy("AReLU", train, test);
        double relu = metaTrainedQueryAccuracy("ReLU", train, test);
        assertTrue(arelu > 35, "AReLU's query accuracy " + arelu + " % is not clearly above chance (20 %)");
        assertTrue(arelu > relu + 15, "AReLU " + arelu + " % should beat ReLU " + relu + " % by 15 points");
    }

    private static double metaTrainedQueryAccuracy(String activation, TaskSampler train, TaskSampler test) {
        MetaLearner learner = new MetaLearner(ActivationSpec.byName(activation), 5, 3,
                new MetaLearner.Adaptation(5, 0.005, false), 0.005);
        Random random = new Random(3);
        for (int step = 0; step < 20; step++) {
            try (PointerScope scope = new PointerScope()) {
                learner.metaStep(MetaLearner.sample(train, 8, random));
            }
        }
        try (PointerScope scope = new PointerScope()) {
            return learner.evaluate(MetaLearner.sample(test, 60, new Random(4)));
        }
    }

    /**
     * With or without the data set: second-order MAML differentiates through the inner gradients (through
     * each activation's backward, AReLU's fused node among them), so its meta-gradient differs from the
     * first-order one, where those gradients are constants; both finite, for every activation here.
     */
    @Test
    void secondOrderMetaGradientsDifferFromFirstOrderOnes() {
        MnistData data = syntheticData();
        TaskSampler sampler = new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 3, 2, 2);
        for (String activation : MetaLearner.ACTIVATIONS) {
            double[][] gradients = new double[2][];
            for (int order = 0; order < 2; order++) {
                MetaLearner learner = new MetaLearner(ActivationSpec.byName(activation), 3, 11,
                        new MetaLearner.Adaptation(2, 0.5, order == 1), 0.005);
                try (PointerScope scope = new PointerScope()) {
                    learner.metaStep(MetaLearner.sample(sampler, 2, new Random(12)));
                    gradients[order] = learner.initialWeights().stream()
                            .flatMapToDouble(weight -> java.util.Arrays.stream(doubles(weight.grad()))).toArray();
                }
            }
            for (double[] g : gradients) {
                assertTrue(java.util.Arrays.stream(g).allMatch(Double::isFinite), activation + ": non-finite gradient");
            }
            double difference = 0;
            double size = 0;
            for (int i = 0; i < gradients[0].length; i++) {
                difference = Math.max(difference, Math.abs(gradients[0][i] - gradients[1][i]));
                size = Math.max(size, Math.abs(gradients[1][i]));
            }
            assertTrue(difference > 1e-3 * size, activation + ": second-order meta-gradient equals the first-order "
                    + "one (largest difference " + difference + ", largest gradient " + size + ")");
        }
    }

    /**
     * {@code --clip-meta-gradient}: a meta-gradient above the limit is the unclipped one scaled to the limit's
     * norm (same direction), and one below it is left as it is; either way the step reports the norm before
     * clipping.
     */
    @Test
    void aClippedMetaGradientIsTheUnclippedOneScaledToTheLimit() {
        MnistData data = syntheticData();
        TaskSampler sampler = new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 3, 2, 2);
        double[] unclipped = metaGradient(sampler, Double.POSITIVE_INFINITY, null);
        double norm = Math.sqrt(java.util.Arrays.stream(unclipped).map(g -> g * g).sum());
        assertTrue(norm > 0, "a zero meta-gradient tests nothing");
        for (double limit : new double[] {norm / 4, norm * 2}) {
            double[] reported = new double[1];
            double[] clipped = metaGradient(sampler, limit, reported);
            assertEquals(norm, reported[0], 1e-5 * norm, "the step reports the norm before clipping");
            double scale = Math.min(1, limit / norm);
            for (int i = 0; i < unclipped.length; i++) {
                assertEquals(unclipped[i] * scale, clipped[i], 1e-5 * norm,
                        "element " + i + " with limit " + limit + " and norm " + norm);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new MetaLearner(ActivationSpec.byName("AReLU"), 3, 11,
                new MetaLearner.Adaptation(2, 0.05, false), 0.005, 0));
    }

    /**
     * AReLU's second-order meta-gradient on two tasks, after one meta step limited to {@code limit}; the norm
     * the step reports goes into {@code reportedNorm}'s element, if given.
     */
    private static double[] metaGradient(TaskSampler sampler, double limit, double[] reportedNorm) {
        MetaLearner learner = new MetaLearner(ActivationSpec.byName("AReLU"), 3, 11,
                new MetaLearner.Adaptation(2, 0.05, false), 0.005, limit);
        try (PointerScope scope = new PointerScope()) {
            MetaLearner.StepResult step = learner.metaStep(MetaLearner.sample(sampler, 2, new Random(12)));
            if (reportedNorm != null) {
                reportedNorm[0] = step.metaGradientNorm();
            }
            return learner.initialWeights().stream()
                    .flatMapToDouble(weight -> java.util.Arrays.stream(doubles(weight.grad()))).toArray();
        }
    }

    /**
     * The second-order meta-gradient is the derivative of the adapted network's query loss with respect to the
     * initial weights: along a random direction, in float64, it equals the central difference of that loss
     * (recomputed by adapting from weights moved by +-eps). That a second-order gradient differs from a
     * first-order one (above) says nothing of its values; this does, for AReLU's fused node under
     * {@code create_graph} as for libtorch's own activations. eps = 1e-7: the kinks at 0 of the rectifiers
     * spoil larger ones (measured: 1e-8 agrees to 5 digits, 1e-6 not always for ReLU).
     */
    @Test
    void secondOrderMetaGradientIsTheDerivativeOfTheAdaptedQueryLoss() {
        MnistData data = syntheticData();
        TaskSampler sampler = new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 3, 2, 2);
        for (String activation : MetaLearner.ACTIVATIONS) {
            try (PointerScope scope = new PointerScope()) {
                MetaLearner learner = new MetaLearner(ActivationSpec.byName(activation), 3, 11,
                        new MetaLearner.Adaptation(2, 0.05, false), 0.005);
                List<Tensor> weights = learner.initialWeights();
                try (NoGradGuard noGrad = new NoGradGuard()) {
                    for (Tensor weight : weights) {
                        weight.set_data(weight.to(torch.ScalarType.Double));
                    }
                }
                TaskSampler.Task drawn = sampler.sample(new Random(12));
                TaskSampler.Task task = new TaskSampler.Task(drawn.supportImages().to(torch.ScalarType.Double),
                        drawn.supportLabels(), drawn.queryImages().to(torch.ScalarType.Double), drawn.queryLabels(),
                        drawn.classes(), drawn.supportIndices(), drawn.queryIndices());
                ConvMnist functional = new ConvMnist(ActivationSpec.byName(activation), 3);
                Tensor loss = torch.nll_loss(functional.forward(task.queryImages(), learner.adapt(task, true)),
                        task.queryLabels());
                TensorVector gradients = torch.grad(new TensorVector(loss), new TensorVector(weights.toArray(
                        new Tensor[0])), new TensorVector(), new BoolOptional(false), false, false);
                torch.manual_seed(5);
                List<Tensor> direction = new ArrayList<>();
                double analytic = 0;
                for (int i = 0; i < weights.size(); i++) {
                    direction.add(torch.randn_like(weights.get(i)));
                    analytic += gradients.get(i).mul(direction.get(i)).sum().item_double();
                }
                double eps = 1e-7;
                double[] moved = new double[2];
                for (int side = 0; side < 2; side++) {
                    Scalar step = new Scalar(side == 0 ? eps : -eps);
                    try (NoGradGuard noGrad = new NoGradGuard()) {
                        for (int i = 0; i < weights.size(); i++) {
                            weights.get(i).add_(direction.get(i).mul(step));
                        }
                    }
                    List<Tensor> adapted = learner.adapt(task, false);
                    try (NoGradGuard noGrad = new NoGradGuard()) {
                        moved[side] = torch.nll_loss(functional.forward(task.queryImages(), adapted),
                                task.queryLabels()).item_double();
                        for (int i = 0; i < weights.size(); i++) {
                            weights.get(i).sub_(direction.get(i).mul(step));
                        }
                    }
                }
                double finiteDifference = (moved[0] - moved[1]) / (2 * eps);
                assertEquals(finiteDifference, analytic, 1e-4 * Math.max(1, Math.abs(finiteDifference)),
                        activation + ": meta-gradient along a random direction");
            }
        }
    }

    /** 3 classes of 6 random-looking 28x28 images each. */
    private static MnistData syntheticData() {
        Random random = new Random(1);
        byte[] pixels = new byte[18 * 28 * 28];
        random.nextBytes(pixels);
        byte[] labels = new byte[18];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (byte) (i % 3);
        }
        return new MnistData(pixels, labels, 28, 28);
    }

    private static double[] doubles(org.bytedeco.pytorch.Tensor tensor) {
        org.bytedeco.pytorch.Tensor flat = tensor.to(org.bytedeco.pytorch.global.torch.ScalarType.Double).contiguous()
                .reshape(-1);
        double[] values = new double[(int) flat.numel()];
        for (int i = 0; i < values.length; i++) {
            values[i] = flat.get(i).item_double();
        }
        return values;
    }

    private static CommandRun run(String... args) {
        return CommandRun.of(new MetaLearningCommand(null), args);
    }

    @Test
    void theCommandWritesTableJsonCsvAndPlot() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 40, 40, 4);
        Path out = work.resolve("maml");
        CommandRun outcome = run("--data", data.toString(), "--activations", "AReLU,PReLU", "--ways", "3",
                "--iterations", "3", "--eval-every", "2", "--tasks-per-step", "2", "--eval-tasks", "2", "--runs", "2",
                "--first-order", "--out", out.toString());
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("MAML (first order) on ConvMNIST"), outcome.out());
        assertTrue(outcome.out().contains("| AReLU | ") && outcome.out().contains("| PReLU | "), outcome.out());
        // Evaluated after steps 2 and 3 (the last), in each of 2 runs of 2 activations.
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertEquals(1 + 2 * 2 * 3, csv.size());
        assertEquals(2 * 2 * 2, csv.stream().skip(1).filter(line -> !line.endsWith(",")).count(), csv.toString());
        assertTrue(Files.readString(out.resolve("results.json")).contains("\"evaluatedSteps\": [2, 3]"));
        assertTrue(Files.size(out.resolve("query-accuracy.png")) > 0);
        assertTrue(Files.size(out.resolve("train-query-accuracy.png")) > 0);
        assertTrue(Files.readString(out.resolve("results.json")).contains("\"bestTrainMean\": "));
        assertTrue(Files.readString(out.resolve("table.md")).startsWith("# Meta learning"));
    }

    /**
     * Adapted networks whose output is NaN (adaptation lr 1e30) gave a query accuracy all the same, every NaN
     * row's argmax being a class: the run stops instead, saying where.
     */
    @Test
    void aNonFiniteAdaptedOutputStopsTheRunWithAClearMessage() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 40, 40, 4);
        CommandRun outcome = run("--data", data.toString(), "--activations", "ReLU", "--ways", "3", "--iterations",
                "2", "--tasks-per-step", "2", "--eval-tasks", "2", "--runs", "1", "--first-order", "--adaptation-lr",
                "1e30", "--out", work.resolve("maml").toString());
        assertEquals(1, outcome.exitCode(), outcome.out() + outcome.err());
        assertTrue(outcome.err().startsWith("maml: ReLU run 1/1, meta step 1: the adapted network's output is NaN or "
                + "infinite for "), outcome.err());
        assertTrue(outcome.err().endsWith(" query images; meta-training stopped, since every figure from it would be "
                + "meaningless. Try a smaller meta or adaptation learning rate.\n"), outcome.err());
    }

    @Test
    void activationsWithoutAFunctionalFormAndImpossibleTasksGetUsage() throws IOException {
        CommandRun selu = run("--activations", "AReLU,SELU");
        assertEquals(2, selu.exitCode());
        assertTrue(selu.err().contains("meta learning supports AReLU, ReLU, PReLU, not SELU"), selu.err());
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 8, 8, 4);
        CommandRun tooManyWays = run("--data", data.toString(), "--ways", "5");
        assertEquals(2, tooManyWays.exitCode());
        assertTrue(tooManyWays.err().contains("5-way tasks"), tooManyWays.err());
        assertEquals(2, run("--shots", "0").exitCode());
        CommandRun noClip = run("--clip-meta-gradient", "0");
        assertEquals(2, noClip.exitCode());
        assertTrue(noClip.err().contains("--clip-meta-gradient"), noClip.err());
    }

    /** Which images cannot give the tasks is named: the message used to say "the data set has 4" for either. */
    @Test
    void impossibleTasksNameTheTrainingOrTheTestImages() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 40, 8, 4);
        CommandRun outcome = run("--data", data.toString(), "--ways", "3", "--shots", "2");
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("Invalid task shape for the test images: 3-way tasks with 4 images per "
                + "class need 3 classes with that many images; 0 classes have them"), outcome.err());
    }

    @Test
    void threadsHaveAnUpperBound() {
        CommandRun outcome = run("--data", work.resolve("missing").toString(), "--threads",
                Integer.toString(4 * Runtime.getRuntime().availableProcessors() + 1));
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("Invalid value for option '--threads'"), outcome.err());
    }

    /** A --out that is a file used to fail with FileAlreadyExistsException once every run was done. */
    @Test
    void anOutThatIsAFileIsRefusedBeforeTraining() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 40, 40, 4);
        Path aFile = Files.writeString(work.resolve("maml"), "a file");
        CommandRun outcome = run("--data", data.toString(), "--activations", "ReLU", "--ways", "3", "--iterations",
                "1", "--tasks-per-step", "1", "--eval-tasks", "1", "--runs", "1", "--first-order", "--out",
                aFile.toString());
        assertEquals(1, outcome.exitCode());
        assertEquals("maml: cannot write --out " + aFile + ": it is not a directory\n", outcome.err());
        assertEquals("", outcome.out());
    }

    @Test
    void aFileWithoutImagesIsNamed() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 0, 40, 4);
        CommandRun outcome = run("--data", data.toString(), "--out", work.resolve("maml").toString());
        assertEquals(1, outcome.exitCode());
        assertEquals("maml: cannot read the data set: " + data.resolve("train-images-idx3-ubyte")
                + ": holds no images\n", outcome.err());
    }

    /**
     * The per-step accuracies used to be allocated for every meta step up front: a huge --iterations ended
     * in OutOfMemoryError before the first step. Now the run starts; the progress writer stops it at its first
     * evaluation.
     */
    @Test
    void aHugeIterationCountTrainsUntilStopped() throws IOException {
        Path data = work.resolve("data");
        Files.createDirectories(data);
        TinyDataSet.write(data, 40, 40, 4);
        PrintWriter stopsAtTheFirstLine = new PrintWriter(Writer.nullWriter()) {
            @Override
            public PrintWriter printf(Locale locale, String format, Object... args) {
                throw new IllegalStateException("stopped after: " + String.format(locale, format, args));
            }
        };
        CommandRun outcome = CommandRun.of(new MetaLearningCommand(stopsAtTheFirstLine), "--data", data.toString(),
                "--activations", "ReLU", "--ways", "3", "--iterations", Integer.toString(Integer.MAX_VALUE),
                "--eval-every", "1", "--tasks-per-step", "1", "--eval-tasks", "1", "--runs", "1", "--first-order",
                "--out", work.resolve("maml").toString());
        assertEquals(1, outcome.exitCode(), outcome.err());
        assertTrue(outcome.err().contains("stopped after: ReLU   run 1/1 step 1/2147483647: train query "),
                outcome.err());
    }
}
