package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.train.LibTorchSettings;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both commands reject bad arguments with picocli's usage message and exit code 2, before any training; the
 * thread count they give libtorch, and what their summaries say about it.
 */
class CommandLineTest {

    @TempDir
    Path emptyDirectory;

    @TempDir
    Path tinyDataSet;

    /** The commands set libtorch's process-wide thread count; other tests in this JVM get it back. */
    private int threadsBefore;

    @BeforeEach
    void rememberThreads() {
        threadsBefore = torch.get_num_threads();
    }

    @AfterEach
    void restoreThreadsAndConvolutions() {
        torch.set_num_threads(threadsBefore);
        LibTorchSettings.setOneDnnEnabled(false);
    }

    private static CommandRun run(Object command, String... args) {
        return CommandRun.of(command, args);
    }

    @Test
    void unknownActivationGetsUsageAndTheKnownNames() {
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--activations", "AReLU,Swoosh");
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("unknown activation 'Swoosh'"), outcome.err());
        // The error names every activation, and so does the help, channel-wise AReLU among them.
        assertTrue(outcome.err().contains("'Swoosh'; known: " + ActivationSpec.knownNames()), outcome.err());
        for (String name : ActivationSpec.knownNames().split(", ")) {
            String help = outcome.err().substring(outcome.err().indexOf("Usage: compare"));
            assertTrue(help.replaceAll("\\s+", " ").contains(" " + name), name + " missing from the help: " + help);
        }
        assertTrue(outcome.err().contains("Usage: compare"), outcome.err());
    }

    @Test
    void badNumbersGetUsage() {
        String[][] badArguments = {
            {"--lr", "fast"}, {"--lr", "-0.1"}, {"--lr", "0"}, {"--epochs", "0"}, {"--epochs", "two"},
            {"--runs", "0"}, {"--batch-size", "0"}, {"--train-limit", "-5"}, {"--seed", "1.5"},
            {"--threads", "0"}, {"--threads", "-2"}, {"--threads", "all"}};
        for (String[] arguments : badArguments) {
            CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), arguments);
            assertEquals(2, outcome.exitCode(), String.join(" ", arguments));
            assertTrue(outcome.err().contains("Invalid value for option '" + arguments[0] + "'"), outcome.err());
            assertTrue(outcome.err().contains("Usage: compare"), outcome.err());
        }
    }

    /** libtorch starts every thread asked for when the count is set: 100000 started thousands before any error. */
    @Test
    void threadsHaveAnUpperBoundNamedInTheMessage() {
        int cores = Runtime.getRuntime().availableProcessors();
        String tooMany = Integer.toString(4 * cores + 1);
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", emptyDirectory.toString(),
                "--threads", tooMany);
        assertEquals(2, outcome.exitCode(), outcome.err());
        assertTrue(outcome.err().contains("Invalid value for option '--threads': " + tooMany + " (must be 1 to "
                + 4 * cores + ", 4 x this machine's " + cores + " core(s))"), outcome.err());
        CommandRun most = run(new CompareCommand(ProgressBar.silent()), "--data", emptyDirectory.toString(),
                "--threads", Integer.toString(4 * cores));
        assertEquals(1, most.exitCode(), "the most allowed gets as far as the data set: " + most.err());
    }

    @Test
    void unknownNetworkAndOptimizerGetUsage() {
        assertEquals(2, run(new CompareCommand(ProgressBar.silent()), "--net", "VGG16").exitCode());
        assertEquals(2, run(new CompareCommand(ProgressBar.silent()), "--optimizer", "RMSprop").exitCode());
    }

    @Test
    void transferChecksItsOptionsToo() {
        CommandRun outcome = run(new TransferCommand(ProgressBar.silent()), "--finetune-lr", "-1");
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("Usage: transfer"), outcome.err());
        assertEquals(2, run(new TransferCommand(ProgressBar.silent()), "--activations", "all,ReLU").exitCode());
    }

    @Test
    void missingDataSetExitsWithOneAndNamesThePackage() {
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", emptyDirectory.toString());
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().contains("train-images-idx3-ubyte[.gz]"), outcome.err());
        assertTrue(outcome.err().contains("dataset-fashion-mnist"), outcome.err());
    }

    @Test
    void activationListsAcceptAllAliasesAndAnyCase() {
        assertEquals(ActivationSpec.ALL.size(), ActivationSpec.parseList("all").size());
        assertEquals("SiLU", ActivationSpec.parseList("swish").getFirst().name());
        assertEquals("PReLU", ActivationSpec.parseList("arelu, prelu").get(1).name());
    }

    @Test
    void threadsDefaultToTheMachinesCores() {
        CompareCommand command = new CompareCommand(ProgressBar.silent());
        Main.commandLine(command).parseArgs();
        assertEquals(Runtime.getRuntime().availableProcessors(), command.common.threads());
    }

    /** --normalize none trains on [0, 1] pixels, as the paper's code; the summary and the result differ. */
    @Test
    void normalizeNoneTrainsOnUnitPixelsAndSaysSo() throws IOException {
        writeTinyDataSet();
        String[] options = {"--data", tinyDataSet.toString(), "--net", "LinearMNIST", "--activations", "ReLU",
            "--epochs", "1", "--lr", "0.5"};
        CommandRun normalized = run(new CompareCommand(ProgressBar.silent()), options);
        String[] none = java.util.Arrays.copyOf(options, options.length + 2);
        none[options.length] = "--normalize";
        none[options.length + 1] = "none";
        CommandRun unit = run(new CompareCommand(ProgressBar.silent()), none);
        assertEquals(0, normalized.exitCode(), normalized.err());
        assertEquals(0, unit.exitCode(), unit.err());
        assertTrue(normalized.out().contains("normalized with MNIST's mean 0.1307 and std 0.3081"), normalized.out());
        assertTrue(unit.out().contains("inputs scaled to [0,1] and not normalized (--normalize none"), unit.out());
        assertFalse(finalLoss(normalized.out()).equals(finalLoss(unit.out())),
                "the same final loss from other inputs:\n" + normalized.out() + "\n" + unit.out());
    }

    /** The final loss column of the summary's ReLU row. */
    private static String finalLoss(String out) {
        java.util.regex.Matcher row = java.util.regex.Pattern.compile("\\nReLU +\\|[^|]*\\|[^|]*\\| ([0-9.]+) ")
                .matcher(out);
        assertTrue(row.find(), "no ReLU row with a final loss in:\n" + out);
        return row.group(1);
    }

    @Test
    void threadsReachLibtorchAndTheSummary() throws IOException {
        writeTinyDataSet();
        for (int threads : new int[] {1, 2}) {
            CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                    "--threads", String.valueOf(threads), "--net", "LinearMNIST", "--activations", "AReLU",
                    "--epochs", "1");
            assertEquals(0, outcome.exitCode(), outcome.err());
            assertEquals(threads, torch.get_num_threads());
            assertTrue(outcome.out().contains("Threads: " + threads + " (libtorch). Memory allocator: "), outcome.out());
        }
    }

    @Test
    void aNonFiniteTrainingLossStopsTheRunWithAClearMessage() throws IOException {
        writeTinyDataSet();
        // lr 1e30 makes the weights overflow at the first step, the loss at the second batch.
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", "3", "--batch-size", "2", "--lr", "1e30");
        assertEquals(1, outcome.exitCode(), outcome.out() + outcome.err());
        assertTrue(outcome.err().contains("the training loss is") && outcome.err().contains("training stopped")
                && outcome.err().contains("smaller learning rate"), outcome.err());
        assertFalse(outcome.err().contains("Exception"), "a message, not a stack trace: " + outcome.err());
        assertFalse(outcome.out().contains("test accuracy"), "no figures after the loss went bad: " + outcome.out());
    }

    @Test
    void oneDnnFollowsTheOptionAndAutoNeedsConvolutions() throws IOException {
        writeTinyDataSet();
        String[] args = {"--data", tinyDataSet.toString(), "--net", "LinearMNIST", "--activations", "ReLU",
            "--epochs", "1"};
        LibTorchSettings.setOneDnnEnabled(true);
        CommandRun auto = run(new CompareCommand(ProgressBar.silent()), args);
        assertEquals(0, auto.exitCode(), auto.err());
        assertFalse(LibTorchSettings.oneDnnEnabled());
        assertTrue(auto.out().contains("Convolutions: libtorch's own (--onednn auto: LinearMNIST has no convolutions)."),
                auto.out());

        String[] withOneDnn = Arrays.copyOf(args, args.length + 1);
        withOneDnn[args.length] = "--onednn";
        CommandRun on = run(new CompareCommand(ProgressBar.silent()), withOneDnn);
        assertEquals(0, on.exitCode(), on.err());
        assertTrue(LibTorchSettings.oneDnnEnabled());
        assertTrue(on.out().contains("Convolutions: oneDNN (--onednn on)."), on.out());

        String[] offArgs = Arrays.copyOf(args, args.length + 2);
        offArgs[args.length] = "--onednn";
        offArgs[args.length + 1] = "off";
        CommandRun off = run(new CompareCommand(ProgressBar.silent()), offArgs);
        assertEquals(0, off.exitCode(), off.err());
        assertFalse(LibTorchSettings.oneDnnEnabled());
        assertTrue(off.out().contains("Convolutions: libtorch's own (--onednn off)."), off.out());
    }

    /**
     * On ConvMNIST, auto runs the check: oneDNN is on exactly when the summary says it agreed, and a
     * disagreement is named. (bytedeco's 2.10.0 oneDNN gives NaN on some machines and not on others, so
     * either verdict is possible here; the comparison itself is tested on known tensors below.)
     */
    @Test
    void oneDnnAutoChecksTheNetworksConvolutions() throws IOException {
        writeTinyDataSet();
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--activations", "ReLU", "--epochs", "1", "--batch-size", "3");
        assertEquals(0, outcome.exitCode(), outcome.err());
        boolean agreed = outcome.out().contains("Convolutions: oneDNN (--onednn auto: it agreed with libtorch's own "
                + "convolutions on ConvMNIST's shapes in training steps of 2 and 3 images (forward and backward) and "
                + "in test batches of 4 images (forward)).");
        boolean refused = Pattern.compile("Convolutions: libtorch's own \\(--onednn auto: oneDNN [^\\n]* in (a training "
                + "step of [23]|a test batch of 4) images\\)\\.").matcher(outcome.out()).find();
        assertTrue(agreed != refused, outcome.out());
        assertEquals(agreed, LibTorchSettings.oneDnnEnabled());
    }

    @Test
    void oneDnnDisagreementNamesWhatDiffers() {
        java.util.List<OneDnnCheck.Compared> compared = java.util.List.of(OneDnnCheck.Compared.OUTPUT,
                OneDnnCheck.Compared.gradientOf("conv1.weight"));
        org.bytedeco.pytorch.Tensor reference = org.bytedeco.pytorch.Tensor.create(1.0, -2.0, 0.5);
        // |(1e-6, 0, 0)| / |(1, -2, 0.5)| = 4.4e-7 of the norm: rounding, for an output too
        org.bytedeco.pytorch.Tensor close = org.bytedeco.pytorch.Tensor.create(1.0 + 1e-6, -2.0, 0.5);
        org.bytedeco.pytorch.Tensor nan = org.bytedeco.pytorch.Tensor.create(1.0, Double.NaN, 0.5);
        org.bytedeco.pytorch.Tensor far = org.bytedeco.pytorch.Tensor.create(1.0, -2.0, 0.7);
        assertEquals(null, OneDnnCheck.disagreement(compared, java.util.List.of(close, close),
                java.util.List.of(reference, reference)));
        assertEquals("gave NaN or infinity in 1 of 3 values of conv1.weight's gradient", OneDnnCheck.disagreement(
                compared, java.util.List.of(close, nan), java.util.List.of(reference, reference)));
        // |(0, 0, 0.2)| / |(1, -2, 0.5)| = 8.73 %
        assertEquals("differed from libtorch's own by 8.73 % of the norm of the output", OneDnnCheck.disagreement(
                compared, java.util.List.of(far, close), java.util.List.of(reference, reference)));
        assertEquals("differed from libtorch's own by 8.73 % of the norm of conv1.weight's gradient",
                OneDnnCheck.disagreement(compared, java.util.List.of(close, far), java.util.List.of(reference, reference)));
        // A whole tensor 0.38 % off, as the oneDNN bug's finite outputs were at the least: wrong for an output,
        // whose rounding is 1e-7 of its norm; within what rounding does to an ill-conditioned gradient.
        double[] ones = new double[1000];
        Arrays.fill(ones, 1.0);
        org.bytedeco.pytorch.Tensor wide = org.bytedeco.pytorch.Tensor.create(ones);
        org.bytedeco.pytorch.Tensor slightlyOff = wide.mul(new org.bytedeco.pytorch.Scalar(1.0038));
        assertEquals("differed from libtorch's own by 0.380 % of the norm of the output", OneDnnCheck.disagreement(
                compared, java.util.List.of(slightlyOff, close), java.util.List.of(wide, reference)));
        assertEquals(null, OneDnnCheck.disagreement(compared, java.util.List.of(close, slightlyOff),
                java.util.List.of(reference, wide)));
        // Rounding-sized differences in a few elements of an ill-conditioned gradient are agreement; the whole
        // gradient 2 % off is not.
        ones[7] = 1.02;
        org.bytedeco.pytorch.Tensor oneElementOff = org.bytedeco.pytorch.Tensor.create(ones);
        assertEquals(null, OneDnnCheck.disagreement(compared, java.util.List.of(close, oneElementOff),
                java.util.List.of(reference, wide)));
        org.bytedeco.pytorch.Tensor allOff = wide.mul(new org.bytedeco.pytorch.Scalar(1.02));
        assertEquals("differed from libtorch's own by 2.00 % of the norm of conv1.weight's gradient",
                OneDnnCheck.disagreement(compared, java.util.List.of(close, allOff), java.util.List.of(reference, wide)));
    }

    @Test
    void transferSetsThreadsToo() {
        // Options are checked and applied before the data set is read, so a missing one still sets them.
        assertEquals(1, run(new TransferCommand(ProgressBar.silent()), "--data", emptyDirectory.toString(),
                "--threads", "1").exitCode());
        assertEquals(1, torch.get_num_threads());
    }

    /** An empty split used to print NaN accuracies (a test set) or the untrained ones (a training set), exit 0. */
    @Test
    void aFileWithoutImagesIsNamedNotScoredAsNaN() throws IOException {
        String[] args = {"--data", tinyDataSet.toString(), "--net", "LinearMNIST", "--activations", "ReLU",
            "--epochs", "1"};
        TinyDataSet.write(tinyDataSet, 8, 0, 4);
        CommandRun noTestImages = run(new CompareCommand(ProgressBar.silent()), args);
        assertEquals(1, noTestImages.exitCode(), noTestImages.out());
        assertEquals("compare: cannot read the data set: " + tinyDataSet.resolve("t10k-images-idx3-ubyte")
                + ": holds no images\n", noTestImages.err());
        assertEquals("", noTestImages.out());
        TinyDataSet.write(tinyDataSet, 0, 4, 4);
        CommandRun noTrainingImages = run(new CompareCommand(ProgressBar.silent()), args);
        assertEquals(1, noTrainingImages.exitCode(), noTrainingImages.out());
        assertTrue(noTrainingImages.err().contains(tinyDataSet.resolve("train-images-idx3-ubyte")
                + ": holds no images"), noTrainingImages.err());
    }

    /** The networks take 28x28: 14x14 ended in libtorch's stack traces, 32x32 trained on silently. */
    @Test
    void imagesOfAnotherSizeAreNamedWithTheirFile() throws IOException {
        writeTinyDataSet();
        TinyDataSet.writeSplit(tinyDataSet, "train", 8, 4, 32, 7);
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", "1");
        assertEquals(1, outcome.exitCode(), outcome.out());
        assertEquals("compare: cannot read the data set: " + tinyDataSet.resolve("train-images-idx3-ubyte")
                + ": images of 32x32 pixels; the networks here take MNIST's 28x28\n", outcome.err());
    }

    @Test
    void dataThatIsAFileIsNotADirectory() throws IOException {
        Path file = Files.writeString(emptyDirectory.resolve("data.txt"), "not a data set");
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", file.toString());
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().startsWith("compare: cannot read the data set: " + file + ": not a directory: an "
                + "MNIST-format data set is a directory holding train-images-idx3-ubyte"), outcome.err());
    }

    /**
     * Every output is checked before training: a missing directory used to end the whole run in a
     * NoSuchFileException's stack trace.
     */
    @Test
    void anOutputThatCannotBeWrittenStopsTheCommandBeforeTraining() throws IOException {
        writeTinyDataSet();
        Path missing = emptyDirectory.resolve("nonexistent");
        Path aFile = Files.writeString(emptyDirectory.resolve("a-file"), "");
        for (String option : List.of("--json-out", "--csv-out", "--plot", "--parameter-csv", "--parameter-plot")) {
            CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                    "--net", "LinearMNIST", "--activations", "AReLU", "--epochs", "1", option,
                    missing.resolve("out").toString());
            assertEquals(1, outcome.exitCode(), option + ": " + outcome.err());
            assertEquals("compare: cannot write " + option + " " + missing.resolve("out") + ": directory " + missing
                    + " does not exist\n", outcome.err());
            assertEquals("", outcome.out(), "nothing trained");
        }
        CommandRun underAFile = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--json-out", aFile.resolve("x.json").toString());
        assertEquals("compare: cannot write --json-out " + aFile.resolve("x.json") + ": " + aFile
                + " is not a directory\n", underAFile.err());
        CommandRun aDirectory = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--csv-out", emptyDirectory.toString());
        assertEquals("compare: cannot write --csv-out " + emptyDirectory + ": it is a directory\n", aDirectory.err());
    }

    /** A write that fails all the same, here because the directory went away during training, is named too. */
    @Test
    void anOutputThatFailsAtWriteTimeIsNamedWithoutAStackTrace() throws IOException {
        writeTinyDataSet();
        Path results = Files.createDirectory(emptyDirectory.resolve("results"));
        Path json = results.resolve("x.json");
        // The first progress line, at the end of the first epoch, removes the directory the JSON goes to.
        OutputStream removesTheDirectory = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                Files.deleteIfExists(results);
            }
        };
        ProgressBar progress = new ProgressBar(new PrintStream(removesTheDirectory, true), false);
        CommandRun outcome = run(new CompareCommand(progress), "--data", tinyDataSet.toString(), "--net",
                "LinearMNIST", "--activations", "ReLU", "--epochs", "1", "--json-out", json.toString());
        assertEquals(1, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("Wall time:"), "trained: " + outcome.out());
        assertEquals("compare: cannot write --json-out " + json + ": no such file or directory: " + json + "\n",
                outcome.err());
    }

    /**
     * The start-up oneDNN check runs the convolutions on the batches the run takes, not on --batch-size as given
     * (20000 took 45 s and 3.8 GB on 100 training images): an epoch's last, smaller step too, and the test
     * batches; in a data-parallel group, on this rank's shares. The tiny data set has 8 training and 4 test images.
     */
    @Test
    void oneDnnIsCheckedOnTheBatchesOfTheRun() throws IOException {
        writeTinyDataSet();
        assertEquals(new Trainer.BatchSizes(Set.of(8), Set.of(4)), checkedBatches("--batch-size", "20000"),
                "all 8 training images");
        assertEquals(new Trainer.BatchSizes(Set.of(3), Set.of(4)), checkedBatches("--batch-size", "20000",
                "--train-limit", "3"));
        assertEquals(new Trainer.BatchSizes(Set.of(3, 5), Set.of(4)), checkedBatches("--batch-size", "5"),
                "a step of 5 and the last of 3");
        assertEquals(new Trainer.BatchSizes(Set.of(2), Set.of(2)), checkedBatches("--batch-size", "20000",
                "--train-limit", "3", "--test-limit", "3", "--world-size", "2", "--rank", "1"),
                "rank 1's shares of 3 images over 2 ranks");
        assertEquals(new Trainer.BatchSizes(Set.of(1), Set.of(1)), checkedBatches("--batch-size", "20000",
                "--train-limit", "3", "--test-limit", "3", "--world-size", "2", "--rank", "0"));
        LearningRateTableCommand table = new LearningRateTableCommand(ProgressBar.silent());
        Main.commandLine(table).parseArgs("--data", tinyDataSet.toString(), "--batch-size", "3");
        table.validate();
        assertEquals(new Trainer.BatchSizes(Set.of(2, 3), Set.of(4)), table.processSettings().batches());
        CompareCommand starter = new CompareCommand(ProgressBar.silent());
        Main.commandLine(starter).parseArgs("--data", tinyDataSet.toString(), "--local-workers", "2");
        starter.validate();
        assertEquals(OneDnnCheck.Mode.off, starter.processSettings().oneDnn(), "the workers check for themselves");
        CompareCommand noData = new CompareCommand(ProgressBar.silent());
        Main.commandLine(noData).parseArgs("--data", emptyDirectory.toString());
        noData.validate();
        assertEquals(Trainer.BatchSizes.NONE, noData.processSettings().batches(), "loading will say what is missing");
    }

    @Test
    void theSummaryListsTheCheckedSizesInOrder() {
        assertEquals("128", OneDnnCheck.sizes(Set.of(128)));
        assertEquals("96 and 128", OneDnnCheck.sizes(new Trainer.BatchSizes(Set.of(128, 96), Set.of()).training()));
        assertEquals("2, 5 and 8", OneDnnCheck.sizes(new Trainer.BatchSizes(Set.of(8, 2, 5), Set.of()).training()));
    }

    private Trainer.BatchSizes checkedBatches(String... args) {
        CompareCommand command = new CompareCommand(ProgressBar.silent());
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--data";
        all[args.length + 1] = tinyDataSet.toString();
        Main.commandLine(command).parseArgs(all);
        command.validate();
        return command.processSettings().batches();
    }

    @Test
    void theSummarySaysWhenTheBatchIsMoreThanTheTrainingImages() throws IOException {
        writeTinyDataSet();
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", "1", "--batch-size", "20000");
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("LinearMNIST, SGD (momentum 0.9), batch 20000, more than the 8 training "
                + "images (a step takes all of them), 1 run(s)"), outcome.out());
        CommandRun fits = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", "1", "--batch-size", "8");
        assertTrue(fits.out().contains("SGD (momentum 0.9), batch 8, 1 run(s)"), fits.out());
    }

    /**
     * A step whose loss was finite can leave weights that are not (lr 1e30, one batch per epoch): scoring the
     * test images with them gave an accuracy (every NaN row's argmax is one class) and exit code 0. The run
     * stops instead, with a message, before any figure of that epoch is printed.
     */
    @Test
    void aNonFiniteTestOutputStopsTheRunWithAClearMessage() throws IOException {
        writeTinyDataSet();
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", "1", "--batch-size", "8", "--lr", "1e30");
        assertEquals(1, outcome.exitCode(), outcome.out() + outcome.err());
        assertEquals("compare: ReLU run 1/1, epoch 1: the network's output is NaN or infinite for 4 of the 4 test "
                + "images; scoring stopped, since an accuracy from it would be meaningless. Its weights are likely no "
                + "longer finite after the last step: try a smaller learning rate.\n", outcome.err());
        assertFalse(outcome.out().contains("test accuracy"), "no figures from the bad network: " + outcome.out());
    }

    /** Per-epoch records used to be allocated for every epoch up front: OutOfMemoryError before the first step. */
    @Test
    void aHugeEpochCountTrainsUntilStopped() throws IOException {
        writeTinyDataSet();
        // lr 1e30 stops the run at its second batch (see aNonFiniteTrainingLossStopsTheRunWithAClearMessage).
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", tinyDataSet.toString(),
                "--net", "LinearMNIST", "--activations", "ReLU", "--epochs", Integer.toString(Integer.MAX_VALUE),
                "--batch-size", "2", "--lr", "1e30");
        assertEquals(1, outcome.exitCode(), outcome.err());
        assertTrue(outcome.err().startsWith("compare: ReLU run 1/1, epoch 1: the training loss is ")
                && outcome.err().contains(
                "at the batch of images 3 to 4 of 8"), outcome.err());
    }

    /** -V printed an empty line. */
    @Test
    void versionNamesTheProgramAndTheLibrary() {
        for (Object command : List.of(new Main(), new CompareCommand(ProgressBar.silent()),
                new TransferCommand(ProgressBar.silent()), new LearningRateTableCommand(ProgressBar.silent()),
                new MetaLearningCommand(null))) {
            CommandRun outcome = run(command, "-V");
            assertEquals(0, outcome.exitCode());
            String version = "\\d+\\.\\d+\\.\\d+\\S*";
            assertTrue(outcome.out().matches("arelu-examples " + version + " \\(arelu " + version + "\\)\\R"),
                    command.getClass().getSimpleName() + ": " + outcome.out());
        }
    }

    /** As --parameter-plot does: a header-only CSV was written. */
    @Test
    void parameterCsvNeedsAnAReLUActivation() {
        CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), "--data", emptyDirectory.toString(),
                "--activations", "ReLU,PReLU", "--parameter-csv", emptyDirectory.resolve("p.csv").toString());
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("Invalid value for option '--parameter-csv': it records AReLU's parameters, "
                + "but --activations 'ReLU,PReLU' has no AReLU"), outcome.err());
    }

    /** Two outputs at one path: the one written last replaced the other without a word. */
    @Test
    void twoOutputsAtOnePathGetUsage() {
        String file = emptyDirectory.resolve("results").toString();
        String[][] clashes = {
            {"--json-out", file, "--csv-out", file},
            {"--plot", emptyDirectory.resolve("sub/../results").toString(), "--parameter-plot", file},
            {"--json-out", "results.json", "--parameter-csv", Path.of("results.json").toAbsolutePath().toString()}};
        String[][] named = {{"--json-out", "--csv-out"}, {"--plot", "--parameter-plot"},
            {"--json-out", "--parameter-csv"}};
        for (int i = 0; i < clashes.length; i++) {
            CommandRun outcome = run(new CompareCommand(ProgressBar.silent()), concat(clashes[i], "--data",
                    emptyDirectory.toString()));
            assertEquals(2, outcome.exitCode(), outcome.err());
            assertTrue(outcome.err().startsWith(named[i][0] + " and " + named[i][1] + " name the same file, "
                    + clashes[i][3] + ": give each output its own"), outcome.err());
        }
    }

    /**
     * Without an AReLU layer the initialization and projection options change nothing but the summary's claims
     * (and lr-table's stored setup): refused in every command that has them. AReLU-channelwise counts as AReLU,
     * so there the command gets as far as the missing data set.
     */
    @Test
    void areluOptionsNeedAnAReLUActivation() {
        String missing = emptyDirectory.resolve("missing").toString();
        for (String[] option : new String[][] {{"--arelu-alpha", "0.5"}, {"--arelu-beta", "1"}, {"--project-alpha"}}) {
            for (Object command : List.of(new CompareCommand(ProgressBar.silent()),
                    new TransferCommand(ProgressBar.silent()), new LearningRateTableCommand(ProgressBar.silent()))) {
                CommandRun outcome = run(command, concat(option, "--data", missing, "--activations", "ReLU,PReLU"));
                assertEquals(2, outcome.exitCode(), outcome.err());
                assertTrue(outcome.err().startsWith(option[0] + " is for AReLU layers, but --activations 'ReLU,PReLU' "
                        + "has no AReLU"), outcome.err());
            }
            CommandRun channelwise = run(new CompareCommand(ProgressBar.silent()), concat(option, "--data", missing,
                    "--activations", "ReLU,AReLU-channelwise"));
            assertEquals(1, channelwise.exitCode(), channelwise.err());
        }
    }

    private static String[] concat(String[] first, String... second) {
        String[] all = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, all, first.length, second.length);
        return all;
    }

    /** 8 training and 4 test images of 28x28 pixels, labels 0-3 repeating. */
    private void writeTinyDataSet() throws IOException {
        TinyDataSet.write(tinyDataSet, 8, 4, 4);
    }
}
