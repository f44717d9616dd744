package io.github.arelu.examples.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.zip.CRC32;

import io.github.arelu.AReLU;
import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.NativeAllocator;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/** Options that compare, transfer and lr-table share; checked by {@link #validate(String)}. */
public final class CommonOptions {

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Mixin
    DataOptions data;

    @Option(names = "--net", paramLabel = "NET", description = "ConvMNIST, LinearMNIST, ResNet (a small ResNet with "
            + "BatchNorm, 13 activation layers) or VGG (a small VGG-style stack with BatchNorm, 6 activation layers) "
            + "(default: ${DEFAULT-VALUE})")
    MnistNetwork.Kind network = MnistNetwork.Kind.ConvMNIST;

    @Option(names = "--optimizer", paramLabel = "OPT", description = "SGD (momentum 0.9) or Adam (default: ${DEFAULT-VALUE})")
    Trainer.OptimizerKind optimizer = Trainer.OptimizerKind.SGD;

    @Mixin
    RunOptions runs;

    @Option(names = "--batch-size", paramLabel = "N", description = "training mini-batch size (default: ${DEFAULT-VALUE})")
    int batchSize = 128;

    @Option(names = "--train-limit", paramLabel = "N", description = "train on the first N training images only (default: all)")
    int trainLimit = 0;

    @Option(names = "--test-limit", paramLabel = "N", description = "evaluate on the first N test images only (default: all)")
    int testLimit = 0;

    @Option(names = "--normalize", paramLabel = "mnist|none", description = "the inputs: pixels scaled to [0, 1], "
            + "then normalized with MNIST's mean and std (mnist, the default, as the paper's meta-learning script), "
            + "or left in [0, 1] (none, as the paper's activation comparison and transfer feed them)")
    TensorData.Normalization normalization = TensorData.Normalization.mnist;

    @Option(names = "--project-alpha", description = "after every optimizer step, put each AReLU layer's alpha "
            + "that lies outside [0.01, 0.99] back on the bound (AReLU.projectAlpha), where it gets gradients again; "
            + "an opt-in remedy, not the paper's AReLU (see examples/README.md)")
    boolean projectAlpha;

    @Option(names = "--arelu-alpha", paramLabel = "A", description = "initial raw alpha of every AReLU layer "
            + "(default: the paper's ${DEFAULT-VALUE}); for experiments on the initialization: the paper's AReLU "
            + "starts at 0.9")
    double areluAlpha = AReLU.DEFAULT_ALPHA;

    @Option(names = "--arelu-beta", paramLabel = "B", description = "initial raw beta of every AReLU layer "
            + "(default: the paper's ${DEFAULT-VALUE}); the positive side's gain is 1 + sigmoid(B), 1.88 for the paper's "
            + "2.0")
    double areluBeta = AReLU.DEFAULT_BETA;

    @Mixin
    ThreadOptions threads;

    @Option(names = "--onednn", arity = "0..1", fallbackValue = "on", paramLabel = "auto|on|off",
            description = "libtorch's oneDNN convolutions: faster, but bytedeco's 2.10.0 build returns NaN from them "
            + "on some machines (see examples/README.md). auto (the default) checks the network's own convolutions "
            + "through oneDNN against libtorch's own at start-up and uses oneDNN only if they agree; --onednn alone "
            + "is on")
    OneDnnCheck.Mode oneDnn = OneDnnCheck.Mode.auto;

    /**
     * Validates the shared numbers and parses {@code activationList}, and refuses the AReLU options
     * ({@code --arelu-alpha}, {@code --arelu-beta}, {@code --project-alpha}) when it has no AReLU; errors end in
     * picocli's usage message.
     * Changes nothing in the process: {@link #processSettings(int, int)} says what {@link Main} is to set.
     */
    List<ActivationSpec<?>> validate(String activationList) {
        requireAtLeast("--runs", runs.runs, 1);
        requireAtLeast("--batch-size", batchSize, 1);
        requireAtLeast("--train-limit", trainLimit, 0);
        requireAtLeast("--test-limit", testLimit, 0);
        threads.validate(command.commandLine());
        if (!Double.isFinite(areluAlpha)) {
            throw OptionChecks.invalid(command.commandLine(), "--arelu-alpha", areluAlpha + " (must be a finite number)");
        }
        if (!Double.isFinite(areluBeta)) {
            throw OptionChecks.invalid(command.commandLine(), "--arelu-beta", areluBeta + " (must be a finite number)");
        }
        List<ActivationSpec<?>> selected = OptionChecks.activations(command.commandLine(), "--activations",
                activationList);
        if (!hasAReLU(selected)) {
            // They would change nothing but the summary and, in lr-table, the stored setup, whose
            // difference would then refuse to resume the very same runs.
            ParseResult parsed = command.commandLine().getParseResult();
            for (String option : List.of("--arelu-alpha", "--arelu-beta", "--project-alpha")) {
                if (parsed.hasMatchedOption(option)) {
                    throw new ParameterException(command.commandLine(), option + " is for AReLU layers, but "
                            + "--activations '" + activationList + "' has no AReLU");
                }
            }
        }
        return selected;
    }

    /** Whether {@code selected} trains AReLU in either form, the paper's or the channel-wise one. */
    static boolean hasAReLU(List<ActivationSpec<?>> selected) {
        return selected.stream().anyMatch(activation -> activation.name().startsWith("AReLU"));
    }

    /**
     * {@code --threads} libtorch threads, and oneDNN as {@code --onednn} says for {@code --net}'s convolutions
     * on the batches that rank {@code rank} of {@code worldSize} processes puts through them when it trains on
     * the training images and scores the test images.
     */
    ProcessSettings processSettings(int rank, int worldSize) {
        Trainer.BatchSizes batches;
        try {
            batches = Trainer.BatchSizes.of(imageCount(MnistData.Split.TRAIN), imageCount(MnistData.Split.TEST),
                    batchSize, rank, worldSize);
        } catch (IOException e) {
            // Reported with the options' context when the command loads the data set; nothing to check until then.
            batches = Trainer.BatchSizes.NONE;
        }
        return processSettings(batches);
    }

    /** {@code --threads} libtorch threads, and oneDNN as {@code --onednn} says for {@code batches}. */
    ProcessSettings processSettings(Trainer.BatchSizes batches) {
        return new ProcessSettings(threads.threads, oneDnn, network, batches);
    }

    /**
     * How many images of {@code split} a run takes ({@code --train-limit}, {@code --test-limit}), counted from
     * the images file's header before the data set is loaded.
     */
    int imageCount(MnistData.Split split) throws IOException {
        int available = MnistData.imageCount(data.data, split);
        int limit = split == MnistData.Split.TRAIN ? trainLimit : testLimit;
        return limit > 0 ? Math.min(limit, available) : available;
    }

    /**
     * How many of the images that a run takes of {@code split} are of each class, read from the labels file
     * before the data set is loaded.
     */
    int[] labelCounts(MnistData.Split split) throws IOException {
        return MnistData.labelCounts(data.data, split, split == MnistData.Split.TRAIN ? trainLimit : testLimit);
    }

    void requireAtLeast(String option, long value, long minimum) {
        OptionChecks.requireAtLeast(command.commandLine(), option, value, minimum);
    }

    void requirePositiveFinite(String option, double value) {
        OptionChecks.requirePositiveFinite(command.commandLine(), option, value);
    }

    Path data() {
        return data.data;
    }

    int runs() {
        return runs.runs;
    }

    long seed() {
        return runs.seed;
    }

    int threads() {
        return threads.threads;
    }

    /** Loads {@code --data} with {@code --train-limit} and {@code --test-limit} applied. */
    MnistData[] loadData() throws IOException {
        MnistData[] trainAndTest = data.load();
        return new MnistData[] {
            trainLimit > 0 ? trainAndTest[0].firstN(trainLimit) : trainAndTest[0],
            testLimit > 0 ? trainAndTest[1].firstN(testLimit) : trainAndTest[1]};
    }

    /**
     * The shared options that decide what a run trains, by option name, and the data it trains on (image
     * counts and a CRC-32 of the images and labels: two machines may keep the same data set at different paths).
     */
    Map<String, String> trainingSetup(MnistData[] trainAndTest) {
        Map<String, String> setup = new LinkedHashMap<>();
        setup.put("--net", network.name());
        setup.put("--optimizer", optimizer.name());
        setup.put("--batch-size", Integer.toString(batchSize));
        setup.put("--runs", Integer.toString(runs.runs));
        setup.put("--seed", Long.toString(runs.seed));
        setup.put("--normalize", normalization.name());
        setup.put("--project-alpha", Boolean.toString(projectAlpha));
        setup.put("--arelu-alpha", Double.toString(areluAlpha));
        setup.put("--arelu-beta", Double.toString(areluBeta));
        setup.put("training images", Integer.toString(trainAndTest[0].count()));
        setup.put("test images", Integer.toString(trainAndTest[1].count()));
        setup.put("data CRC-32", checksum(trainAndTest));
        return setup;
    }

    /** A CRC-32 of the images and labels of both splits, in hex: the same only for the same data. */
    static String checksum(MnistData[] trainAndTest) {
        CRC32 checksum = new CRC32();
        for (MnistData split : trainAndTest) {
            checksum.update(split.pixels());
            checksum.update(split.labels());
        }
        return String.format(Locale.ROOT, "%08x", checksum.getValue());
    }

    /** The training setup in words, its batch described against {@code trainingSetSizes} ({@link #describeBatch}). */
    String describeTraining(int... trainingSetSizes) {
        String inputs = normalization == TensorData.Normalization.mnist
                ? String.format(Locale.ROOT, "inputs scaled to [0,1] then normalized with MNIST's mean %.4f and std %.4f",
                        TensorData.MEAN, TensorData.STD)
                : "inputs scaled to [0,1] and not normalized (--normalize none, as the paper's code)";
        return String.format(Locale.ROOT, "%s, %s, %s, %d run(s) from seed %d; %s%s", network, optimizer.description(),
                describeBatch(trainingSetSizes), runs.runs, runs.seed, inputs, projectAlpha
                        ? "; AReLU's alpha projected onto [0.01, 0.99] after every step (--project-alpha)" : "")
                + initializationNote();
    }

    /** {@code data} as tensors, its pixels as {@code --normalize} says. */
    TensorData tensors(MnistData data, int classes) {
        return TensorData.of(data, classes, normalization);
    }

    /**
     * {@code batch 128}; where {@code --batch-size} is more than a training set of {@code trainingSetSizes}
     * holds, says so, since its steps then take that whole set: {@code batch 20000, more than the 100
     * training images (a step takes all of them)}.
     */
    String describeBatch(int... trainingSetSizes) {
        String smaller = IntStream.of(trainingSetSizes).filter(size -> size < batchSize).mapToObj(Integer::toString)
                .collect(Collectors.joining(" and "));
        return "batch " + batchSize + (smaller.isEmpty() ? ""
                : ", more than the " + smaller + " training images (a step takes all of them)");
    }

    /**
     * Where {@code split}'s images came from, for a message about them: {@code the first 100 of FILE
     * (--train-limit 100)}, or the file.
     */
    String describeSource(MnistData.Split split) {
        boolean training = split == MnistData.Split.TRAIN;
        int limit = training ? trainLimit : testLimit;
        Path file = MnistData.imagesPath(data.data, split);
        return limit > 0 ? String.format(Locale.ROOT, "the first %d of %s (%s %d)", limit, file,
                training ? "--train-limit" : "--test-limit", limit) : file.toString();
    }

    /**
     * What a stored table's one-line description adds to network, optimizer and data: inputs left unnormalized
     * ({@code --normalize none}) and {@link #initializationNote()}; empty for the defaults.
     */
    String setupNote() {
        return (normalization == TensorData.Normalization.mnist ? ""
                : "; inputs scaled to [0,1] and not normalized (--normalize none)") + initializationNote();
    }

    /** How {@code --arelu-alpha} and {@code --arelu-beta} differ from the paper's initialization, for descriptions. */
    String initializationNote() {
        return (areluAlpha == AReLU.DEFAULT_ALPHA ? ""
                : String.format(Locale.ROOT, "; AReLU's alpha starting at %s, not the paper's %s (--arelu-alpha)",
                        areluAlpha, AReLU.DEFAULT_ALPHA))
                + (areluBeta == AReLU.DEFAULT_BETA ? ""
                : String.format(Locale.ROOT, "; AReLU's beta starting at %s, not the paper's %s (--arelu-beta)",
                        areluBeta, AReLU.DEFAULT_BETA));
    }

    /**
     * {@code --net} from {@code seed} ({@link Trainer#newNetwork}), its AReLU layers starting at {@code --arelu-alpha}
     * and {@code --arelu-beta}.
     */
    MnistNetwork newNetwork(ActivationSpec<?> activation, int classes, long seed) {
        return Trainer.newNetwork(network, activation, classes, seed, areluAlpha, areluBeta);
    }

    /** A trainer for batches of {@code --batch-size}, projecting AReLU's alpha if {@code --project-alpha}. */
    Trainer trainer(ProgressBar progress, GradientSync sync) {
        return new Trainer(batchSize, progress, sync).withAlphaProjection(projectAlpha);
    }

    /** What the speed depends on: the thread count libtorch really has, the malloc in use, the convolutions. */
    static String describeRuntime() {
        return String.format(Locale.ROOT, "Threads: %d (libtorch). Memory allocator: %s. Convolutions: %s.",
                torch.get_num_threads(), NativeAllocator.inUse(),
                OneDnnCheck.current().summary());
    }

    /** Prints why the data set could not be read (no usage message: the options were fine); returns exit code 1. */
    int reportDataError(IOException e) {
        return DataOptions.reportError(command, e);
    }

    /** Prints which output cannot be written and why; returns exit code 1. */
    int reportUnwritable(OutputFiles.Unwritable e) {
        return OutputFiles.report(command, e);
    }
}
