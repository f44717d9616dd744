package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import javax.imageio.ImageIO;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.report.Statistics;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** transfer's statistics over runs and its files agree with each other and with every run's own curve. */
class TransferCommandTest {

    @TempDir
    Path data;

    @TempDir
    Path out;

    private int threadsBefore;

    @BeforeEach
    void writeData() throws IOException {
        threadsBefore = torch.get_num_threads();
        // Ten classes, so that both halves (0-4 and 5-9) have training and test images.
        TinyDataSet.write(data, 40, 20, 10);
    }

    @AfterEach
    void restoreThreads() {
        torch.set_num_threads(threadsBefore);
    }

    /**
     * The oneDNN check runs each phase's batches: pretraining and fine-tuning each take their half of the
     * classes. Of the first 23 training images (labels 0-9 repeating), 13 are of classes 0-4 and 10 of 5-9; of
     * the first 13 test images, 8 and 5.
     */
    @Test
    void oneDnnIsCheckedOnTheBatchesOfEachPhase() {
        TransferCommand command = new TransferCommand(ProgressBar.silent());
        Main.commandLine(command).parseArgs("--data", data.toString(), "--batch-size", "8", "--train-limit", "23",
                "--test-limit", "13");
        command.validate();
        assertEquals(new Trainer.BatchSizes(Set.of(2, 5, 8), Set.of(5, 8)), command.processSettings().batches());
    }

    @Test
    void writesTheTableJsonCsvAndFinetuningCurvesOverRuns() throws IOException {
        CommandRun outcome = CommandRun.of(new TransferCommand(ProgressBar.silent()), "--data", data.toString(),
                "--activations", "AReLU,ReLU", "--runs", "3", "--pretrain-epochs", "2", "--finetune-epochs", "3",
                "--pretrain-lr", "0.001", "--finetune-lr", "0.0001", "--batch-size", "8", "--threads", "1",
                "--out", out.toString());
        assertEquals(0, outcome.exitCode(), outcome.err());

        // CSV: per activation and run, 2 pretraining epochs, the point before fine-tuning and 3 fine-tuning epochs.
        List<String> rows = Files.readAllLines(out.resolve("results.csv"));
        assertEquals("activation,run,phase,epoch,train_loss,test_accuracy", rows.getFirst());
        assertEquals(1 + 2 * 3 * (2 + 1 + 3), rows.size());

        JsonObject document = JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
        String setup = document.get("setup").getAsString();
        assertTrue(setup.startsWith("Data " + data + "; pretrained on classes 0-4 (20 training, 10 test images) at lr "
                + "0.001 for 2 epoch(s), then fine-tuned on classes 5-9 (20 training, 10 test images) at lr 1.0E-4 "
                + "for 3 epoch(s); ConvMNIST, SGD (momentum 0.9), batch 8, 3 run(s) from seed 42;"), setup);
        assertEquals(setup.indexOf("run(s)"), setup.lastIndexOf("run(s)"), "the runs named once: " + setup);
        JsonObject activations = document.getAsJsonObject("activations");
        for (String activation : List.of("AReLU", "ReLU")) {
            JsonObject summary = activations.getAsJsonObject(activation);
            JsonArray runs = summary.getAsJsonArray("runs");
            assertEquals(3, runs.size());
            double[] before = new double[3];
            double[] best = new double[3];
            double[][] curves = new double[3][];
            for (int run = 0; run < 3; run++) {
                JsonObject json = runs.get(run).getAsJsonObject();
                before[run] = json.get("beforeFinetuning").getAsDouble();
                double[] finetuned = doubles(json.getAsJsonObject("finetuning").getAsJsonArray("testAccuracy"));
                assertEquals(3, finetuned.length);
                best[run] = Math.max(finetuned[0], Math.max(finetuned[1], finetuned[2]));
                curves[run] = new double[] {before[run], finetuned[0], finetuned[1], finetuned[2]};
                // The CSV holds the same numbers, the point before fine-tuning as epoch 0 without a loss.
                assertTrue(rows.contains(String.format(Locale.ROOT, "%s,%d,finetune,0,,%.4f", activation, run + 1,
                        before[run])), activation + " run " + (run + 1));
                assertEquals(2, json.getAsJsonObject("pretraining").getAsJsonArray("testAccuracy").size());
                // AReLU's three layers, alpha at the start and after each epoch, in both phases; ReLU has none.
                for (String phase : List.of("pretraining", "finetuning")) {
                    JsonArray layers = json.getAsJsonObject(phase).getAsJsonArray("parameters");
                    if (activation.equals("ReLU")) {
                        assertEquals(null, layers, phase);
                    } else {
                        assertEquals(3, layers.size(), phase);
                        int points = phase.equals("pretraining") ? 3 : 4;
                        assertEquals(points, layers.get(0).getAsJsonObject().getAsJsonObject("alpha")
                                .getAsJsonArray("mean").size(), phase);
                    }
                }
            }
            assertEquals(Statistics.mean(before), summary.get("beforeFinetuningMean").getAsDouble(), 1e-3);
            assertEquals(Statistics.std(best), summary.get("finetunedBestStd").getAsDouble(), 1e-3);
            double[] curveMean = doubles(summary.getAsJsonArray("finetuningCurveMean"));
            assertEquals(4, curveMean.length, "before fine-tuning and after each of its 3 epochs");
            for (int point = 0; point < 4; point++) {
                int at = point;
                double[] values = {curves[0][at], curves[1][at], curves[2][at]};
                assertEquals(Statistics.mean(values), curveMean[point], 1e-3);
            }
            // Runs start from different seeds (this tiny data set's accuracies are too coarse to show it).
            double firstLoss = runs.get(0).getAsJsonObject().getAsJsonObject("pretraining").getAsJsonArray("trainLoss")
                    .get(0).getAsDouble();
            double secondLoss = runs.get(1).getAsJsonObject().getAsJsonObject("pretraining").getAsJsonArray("trainLoss")
                    .get(0).getAsDouble();
            assertTrue(firstLoss != secondLoss, activation + ": runs 1 and 2 trained alike, are the seeds used?");
            String table = Files.readString(out.resolve("table.md"));
            assertTrue(table.contains(String.format(Locale.ROOT, "| %s | ", activation)), table);
            assertTrue(table.contains(String.format(Locale.ROOT, " %.2f ± %.2f |", Statistics.mean(best),
                    Statistics.std(best))), table);
        }
        assertTrue(outcome.out().contains("| activation | pretrained, 0-4 | 5-9 before fine-tuning |"), outcome.out());
        BufferedImage chart = ImageIO.read(out.resolve("finetuning.png").toFile());
        assertEquals(900, chart.getWidth());
    }

    /**
     * Each phase needs training and test images of its classes: with one image of each split (class 0), the
     * fine-tuning phase had none and the table said "NaN ± NaN" (null in the JSON), exit code 0.
     */
    @Test
    void aPhaseWithoutImagesIsNamedWithTheLimitOrTheFile() throws IOException {
        CommandRun limited = CommandRun.of(new TransferCommand(ProgressBar.silent()), "--data", data.toString(),
                "--train-limit", "1", "--test-limit", "1", "--threads", "1", "--out", out.toString());
        assertEquals(1, limited.exitCode(), limited.out());
        assertEquals("transfer: no training images of classes 5-9 in the first 1 of "
                + data.resolve("train-images-idx3-ubyte") + " (--train-limit 1): fine-tuning on classes 5-9 needs "
                + "training and test images of them\n", limited.err());
        assertFalse(Files.exists(out.resolve("table.md")));
        // Test images of classes 0-4 only, from the file itself.
        TinyDataSet.writeSplit(data, "t10k", 20, 5, 28, 7);
        CommandRun unlimited = CommandRun.of(new TransferCommand(ProgressBar.silent()), "--data", data.toString(),
                "--threads", "1", "--out", out.toString());
        assertEquals(1, unlimited.exitCode(), unlimited.out());
        assertEquals("transfer: no test images of classes 5-9 in " + data.resolve("t10k-images-idx3-ubyte")
                + ": fine-tuning on classes 5-9 needs training and test images of them\n", unlimited.err());
    }

    /** A --out that is a file used to fail with FileAlreadyExistsException once every run was done. */
    @Test
    void anOutThatIsAFileIsRefusedBeforeTraining() throws IOException {
        Path aFile = Files.writeString(out.resolve("results"), "a file");
        CommandRun outcome = CommandRun.of(new TransferCommand(ProgressBar.silent()), "--data", data.toString(),
                "--threads", "1", "--out", aFile.toString());
        assertEquals(1, outcome.exitCode());
        assertEquals("transfer: cannot write --out " + aFile + ": it is not a directory\n", outcome.err());
        assertEquals("", outcome.out());
    }

    private static double[] doubles(JsonArray array) {
        double[] values = new double[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).getAsDouble();
        }
        return values;
    }
}
