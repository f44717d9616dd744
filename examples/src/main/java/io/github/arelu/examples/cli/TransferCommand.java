package io.github.arelu.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.report.Reports;
import io.github.arelu.examples.report.TransferResults;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.NonFiniteResultException;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The paper's transfer-learning experiment within one data set: pretrain on classes 0-4 at a high learning
 * rate, then fine-tune the whole network on classes 5-9 at a tiny one. The paper pretrains on MNIST and
 * fine-tunes on SVHN, reusing the 10-way head for the new digits; here the two halves are both 5-way
 * problems (5-9 relabelled 0-4), so the fine-tuned network likewise starts from a head trained for other
 * classes.
 */
@Command(name = "transfer", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = "Pretrains on Fashion-MNIST classes 0-4, fine-tunes on classes 5-9 at a low learning rate, "
                + "and compares how far each activation gets.")
public final class TransferCommand implements Experiment {

    static final int CLASSES_PER_HALF = 5;

    @Mixin
    CommonOptions common;

    @Option(names = "--activations", paramLabel = "LIST", description = "comma-separated activations, or 'all' "
            + "(default: ${DEFAULT-VALUE})")
    String activations = ActivationSpec.DEFAULT_SELECTION;

    @Option(names = "--pretrain-lr", paramLabel = "RATE", description = "learning rate on classes 0-4 (default: ${DEFAULT-VALUE})")
    double pretrainLearningRate = 1e-2;

    @Option(names = "--finetune-lr", paramLabel = "RATE", description = "learning rate on classes 5-9 (default: ${DEFAULT-VALUE})")
    double finetuneLearningRate = 1e-5;

    @Option(names = "--pretrain-epochs", paramLabel = "N", description = "epochs on classes 0-4 (default: ${DEFAULT-VALUE})")
    int pretrainEpochs = 1;

    @Option(names = "--finetune-epochs", paramLabel = "N", description = "epochs on classes 5-9 (default: ${DEFAULT-VALUE})")
    int finetuneEpochs = 2;

    @Option(names = "--out", paramLabel = "DIR", description = "where the table, JSON, CSV and the fine-tuning "
            + "plot go (default: ${DEFAULT-VALUE})")
    Path out = Path.of("transfer-results");

    private final ProgressBar progress;
    private List<ActivationSpec<?>> selected;

    public TransferCommand() {
        this(ProgressBar.onStandardError());
    }

    public TransferCommand(ProgressBar progress) {
        this.progress = progress;
    }

    @Override
    public void validate() {
        selected = common.validate(activations);
        common.requirePositiveFinite("--pretrain-lr", pretrainLearningRate);
        common.requirePositiveFinite("--finetune-lr", finetuneLearningRate);
        common.requireAtLeast("--pretrain-epochs", pretrainEpochs, 1);
        common.requireAtLeast("--finetune-epochs", finetuneEpochs, 1);
    }

    @Override
    public ProcessSettings processSettings() {
        // Pretraining and fine-tuning each take their half of the classes, so each has batch sizes of its own.
        Trainer.BatchSizes batches;
        try {
            int[] train = common.labelCounts(MnistData.Split.TRAIN);
            int[] test = common.labelCounts(MnistData.Split.TEST);
            batches = Trainer.BatchSizes.NONE;
            for (int half = 0; half < 2; half++) {
                batches = batches.and(Trainer.BatchSizes.of(halfCount(train, half), halfCount(test, half),
                        common.batchSize, 0, 1));
            }
        } catch (IOException e) {
            // Reported with the options' context when the command loads the data set; nothing to check until then.
            batches = Trainer.BatchSizes.NONE;
        }
        return common.processSettings(batches);
    }

    /** The images of classes {@code half * 5} to {@code half * 5 + 4}. */
    private static int halfCount(int[] classCounts, int half) {
        return Arrays.stream(classCounts, half * CLASSES_PER_HALF, (half + 1) * CLASSES_PER_HALF).sum();
    }

    @Override
    public Integer call() {
        try {
            OutputFiles.checkDirectory("--out", out);
            return transfer();
        } catch (OutputFiles.Unwritable e) {
            return common.reportUnwritable(e);
        }
    }

    private int transfer() throws OutputFiles.Unwritable {
        PrintWriter console = common.command.commandLine().getOut();
        MnistData[] data;
        try {
            data = common.loadData();
        } catch (IOException e) {
            return common.reportDataError(e);
        }
        long start = System.nanoTime();
        // Pretraining and fine-tuning each train on one half of the classes and score on the same half.
        MnistData[][] halves = new MnistData[2][];
        for (int half = 0; half < 2; half++) {
            halves[half] = new MnistData[] {data[0].classRange(half * CLASSES_PER_HALF, CLASSES_PER_HALF),
                data[1].classRange(half * CLASSES_PER_HALF, CLASSES_PER_HALF)};
            // Indexed like data: by the split's order, training then test.
            for (MnistData.Split split : MnistData.Split.values()) {
                if (halves[half][split.ordinal()].count() == 0) {
                    return reportEmptyHalf(half, split);
                }
            }
        }
        TensorData sourceTrain = common.tensors(halves[0][0], CLASSES_PER_HALF);
        TensorData sourceTest = common.tensors(halves[0][1], CLASSES_PER_HALF);
        TensorData targetTrain = common.tensors(halves[1][0], CLASSES_PER_HALF);
        TensorData targetTest = common.tensors(halves[1][1], CLASSES_PER_HALF);
        Trainer trainer = common.trainer(progress, GradientSync.singleProcess());

        List<TransferResults.Result> results = new ArrayList<>();
        for (ActivationSpec<?> activation : selected) {
            List<TransferResults.Run> runs = new ArrayList<>();
            for (int run = 0; run < common.runs(); run++) {
                runs.add(transferOnce(trainer, activation, common.seed() + run, run, sourceTrain, sourceTest,
                        targetTrain, targetTest));
            }
            results.add(new TransferResults.Result(activation.name(), runs));
        }
        String description = String.format(Locale.ROOT, "Data %s; pretrained on classes 0-4 (%d training, %d test "
                        + "images) at lr %s for %d epoch(s), then fine-tuned on classes 5-9 (%d training, %d test images) "
                        + "at lr %s for %d epoch(s); %s", common.data(), sourceTrain.count(), sourceTest.count(),
                pretrainLearningRate, pretrainEpochs, targetTrain.count(), targetTest.count(), finetuneLearningRate,
                finetuneEpochs, common.describeTraining(sourceTrain.count(), targetTrain.count()));
        TransferResults report = new TransferResults(description, results);
        String markdown = report.toMarkdown();
        OutputFiles.write("--out", out, () -> {
            Reports.writeTables(out, markdown, report.toJson(), report.toCsv());
            report.writeFinetuningChart(String.format(Locale.ROOT, "%s: fine-tuning on classes 5-9 at lr %s, mean "
                    + "+- std of %d run(s)", common.network, finetuneLearningRate, common.runs()),
                    out.resolve("finetuning.png"));
        });
        console.printf(Locale.ROOT, "%n%s%n", CommonOptions.describeRuntime());
        console.print(markdown);
        console.printf(Locale.ROOT, "Wall time: %.1f s. Written to %s: table.md, results.json, results.csv, "
                + "finetuning.png.%n", (System.nanoTime() - start) / 1e9, out);
        console.flush();
        return 0;
    }

    /**
     * Says that {@code split} has no images of {@code half}'s classes, naming the file or the limit it came
     * from; returns the exit code, 1, as for any data set the experiment cannot use.
     */
    private int reportEmptyHalf(int half, MnistData.Split split) {
        PrintWriter err = common.command.commandLine().getErr();
        err.printf(Locale.ROOT, "transfer: no %s images of classes %d-%d in %s: %s on classes %d-%d needs "
                + "training and test images of them%n", split == MnistData.Split.TRAIN ? "training" : "test",
                half * CLASSES_PER_HALF, (half + 1) * CLASSES_PER_HALF - 1, common.describeSource(split),
                half == 0 ? "pretraining" : "fine-tuning", half * CLASSES_PER_HALF, (half + 1) * CLASSES_PER_HALF - 1);
        err.flush();
        return 1;
    }

    private TransferResults.Run transferOnce(Trainer trainer, ActivationSpec<?> activation, long seed, int run,
            TensorData sourceTrain, TensorData sourceTest, TensorData targetTrain, TensorData targetTest) {
        MnistNetwork network = common.newNetwork(activation, CLASSES_PER_HALF, seed);
        Random shuffle = new Random(seed);
        String label = String.format(Locale.ROOT, "%-9s run %d/%d", activation.name(), run + 1, common.runs());
        Trainer.History pretraining = trainer.fit(network, common.optimizer, pretrainLearningRate, pretrainEpochs,
                sourceTrain, sourceTest, shuffle, label + " pretrain 0-4");
        double beforeFinetuning;
        try {
            beforeFinetuning = Trainer.accuracy(network, targetTest);
        } catch (NonFiniteResultException e) {
            throw e.in(label + ", before fine-tuning");
        }
        Trainer.History finetuning = trainer.fit(network, common.optimizer, finetuneLearningRate, finetuneEpochs,
                targetTrain, targetTest, shuffle, label + " finetune 5-9");
        return new TransferResults.Run(pretraining, beforeFinetuning, finetuning);
    }
}
