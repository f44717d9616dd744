package io.github.arelu.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import io.github.arelu.AReLU;
import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.report.ActivationResult;
import io.github.arelu.examples.report.LearningRateTable;
import io.github.arelu.examples.report.Reports;
import io.github.arelu.examples.report.RunStore;
import io.github.arelu.examples.train.LibTorchSettings;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The paper's learning-rate table: ConvMNIST trained with SGD (momentum 0.9) at several learning rates, each
 * activation several times, reporting the test accuracy after the first epoch and the best over all epochs
 * as mean +- std over runs. Long, so every finished run is stored (see {@link RunStore}) and the same
 * command resumes where an interrupted one stopped.
 */
@Command(name = "lr-table", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Reproduces the AReLU paper's learning-rate table (ConvMNIST, SGD momentum 0.9): first-epoch "
                + "and best test accuracy, mean +- std over runs, per learning rate and activation.",
                "Times the activations first and says how long the table takes; runs are stored in --out as they "
                + "finish, and the same command resumes an interrupted table."},
        footer = "Here --runs, --train-limit and --test-limit default to the preset's values, not those shown above.")
public final class LearningRateTableCommand implements Experiment {

    /**
     * Defaults that options given on the command line override. {@code paper}: the paper's protocol on the
     * whole data set (5 runs, 20 epochs, lr 1e-2, 1e-4 and 1e-5). {@code quick}: the same cells with 2 runs
     * of 8 epochs and half the test images, about a sixth of the time. It keeps every training image: at lr
     * 1e-5 what separates the activations is how far they get in thousands of small steps, and a 10000-image
     * subset (390 steps in 5 epochs) left AReLU at 16 % against 11-12 % for the others.
     */
    public enum Preset {
        paper(5, 20, 0, 0), quick(2, 8, 0, 5_000);

        final int runs;
        final int epochs;
        final int trainLimit;
        final int testLimit;

        Preset(int runs, int epochs, int trainLimit, int testLimit) {
            this.runs = runs;
            this.epochs = epochs;
            this.trainLimit = trainLimit;
            this.testLimit = testLimit;
        }
    }

    /** The activations of the paper's table that we compare by default; 'all' gives all fifteen. */
    static final String DEFAULT_ACTIVATIONS = "AReLU,SELU,ReLU,PReLU,GELU,ELU";
    static final String DEFAULT_LEARNING_RATES = "1e-2,1e-4,1e-5";
    /** Timed steps per activation for the estimate, after the warm-up steps. */
    private static final int TIMED_STEPS = 20;
    /** The stored setup's entry of the data's checksum; tables stored before it was recorded lack it. */
    private static final String DATA_CHECKSUM = "dataCrc32";
    /**
     * How messages name each stored setup entry: by the option that sets it. The keys stay those that
     * tables already stored use, so that those still resume.
     */
    private static final Map<String, String> SETUP_NAMES = Map.ofEntries(Map.entry("data", "--data"),
            Map.entry("trainImages", "training images (--train-limit)"),
            Map.entry("testImages", "test images (--test-limit)"), Map.entry("network", "--net"),
            Map.entry("optimizer", "--optimizer"), Map.entry("batchSize", "--batch-size"),
            Map.entry("epochs", "--epochs"), Map.entry("firstSeed", "--seed"),
            Map.entry("convolutions", "convolutions (--onednn)"), Map.entry("alphaProjection", "--project-alpha"),
            Map.entry("areluAlpha", "--arelu-alpha"), Map.entry("areluBeta", "--arelu-beta"),
            Map.entry("inputs", "--normalize"),
            Map.entry(DATA_CHECKSUM, "the data's CRC-32"));

    @Mixin
    CommonOptions common;

    @Option(names = "--preset", paramLabel = "NAME", description = "paper (5 runs, 20 epochs, all images) or quick "
            + "(2 runs, 8 epochs, 5000 test images); other options override it (default: ${DEFAULT-VALUE})")
    Preset preset = Preset.paper;

    @Option(names = "--learning-rates", paramLabel = "LIST", description = "comma-separated learning rates "
            + "(default: ${DEFAULT-VALUE})")
    String learningRates = DEFAULT_LEARNING_RATES;

    @Option(names = "--activations", paramLabel = "LIST", description = "comma-separated activations, or 'all' "
            + "(default: ${DEFAULT-VALUE})")
    String activations = DEFAULT_ACTIVATIONS;

    @Option(names = "--epochs", paramLabel = "N", description = "epochs per run (default: the preset's)")
    Integer epochs;

    @Option(names = "--out", paramLabel = "DIR", description = "where finished runs and the table, JSON, CSV and "
            + "plots go (default: lr-table-PRESET in the current directory)")
    Path out;

    @Option(names = "--estimate", description = "time the activations, print the plan and how long it takes, and stop")
    boolean estimateOnly;

    private final ProgressBar progress;
    private List<ActivationSpec<?>> selected;
    private List<Double> rates;

    public LearningRateTableCommand() {
        this(ProgressBar.onStandardError());
    }

    public LearningRateTableCommand(ProgressBar progress) {
        this.progress = progress;
    }

    @Override
    public void validate() {
        applyPreset();
        selected = common.validate(activations);
        common.requireAtLeast("--epochs", epochs, 1);
        rates = parseLearningRates();
    }

    @Override
    public ProcessSettings processSettings() {
        return common.processSettings(0, 1);
    }

    @Override
    public Integer call() {
        try {
            OutputFiles.checkDirectory("--out", out);
            return table();
        } catch (OutputFiles.Unwritable e) {
            return common.reportUnwritable(e);
        }
    }

    private int table() throws OutputFiles.Unwritable {
        PrintWriter console = common.command.commandLine().getOut();
        MnistData[] data;
        try {
            data = common.loadData();
        } catch (IOException e) {
            return common.reportDataError(e);
        }
        TensorData train = common.tensors(data[0], MnistData.CLASSES);
        TensorData test = common.tensors(data[1], MnistData.CLASSES);
        RunStore store = new RunStore(out, setup(data), SETUP_NAMES, Set.of(DATA_CHECKSUM));
        Map<RunStore.RunKey, Trainer.History> done = new LinkedHashMap<>();
        List<RunStore.RunKey> todo = new ArrayList<>();
        // Of the stored runs, and of this process for the runs it trains.
        List<String> threadCounts = new ArrayList<>();
        // Run r of every cell before run r + 1 of any, so an interrupted table already covers every cell.
        for (int run = 0; run < common.runs(); run++) {
            for (double rate : rates) {
                for (ActivationSpec<?> activation : selected) {
                    RunStore.RunKey key = new RunStore.RunKey(rate, activation.name(), run);
                    try {
                        Optional<Trainer.History> stored = store.load(key);
                        if (stored.isPresent()) {
                            done.put(key, stored.get());
                            OptionalInt threads = store.threadsOf(key);
                            threadCounts.add(threads.isPresent() ? Integer.toString(threads.getAsInt()) : "unrecorded");
                        } else {
                            todo.add(key);
                        }
                    } catch (IOException e) {
                        // Another setup's results, or a damaged file: named, for the user to decide.
                        common.command.commandLine().getErr().println("lr-table: " + e.getMessage());
                        return 1;
                    }
                }
            }
        }
        Trainer trainer = common.trainer(progress, GradientSync.singleProcess());
        Map<String, Trainer.Throughput> speed = new LinkedHashMap<>();
        if (!todo.isEmpty()) {
            for (ActivationSpec<?> activation : selected) {
                speed.put(activation.name(), trainer.measure(common.network, activation, common.optimizer, train, test, TIMED_STEPS));
            }
        }
        double estimate = todo.stream().mapToDouble(key -> speed.get(key.activation()).secondsFor(epochs,
                train.count(), test.count())).sum();
        console.printf(Locale.ROOT, "Learning-rate table: %d learning rate(s) x %d activation(s) x %d run(s) of %d "
                + "epoch(s) = %d runs, %d already in %s.%n", rates.size(), selected.size(), common.runs(), epochs,
                rates.size() * selected.size() * common.runs(), done.size(), out);
        console.printf(Locale.ROOT, "Data: %s, %d training and %d test images. %s.%n%s%n", common.data(), train.count(),
                test.count(), common.describeTraining(train.count()), CommonOptions.describeRuntime());
        if (!todo.isEmpty()) {
            StringBuilder measured = new StringBuilder();
            speed.forEach((name, throughput) -> measured.append(String.format(Locale.ROOT, "%s%s %.0f",
                    measured.isEmpty() ? "" : ", ", name, throughput.training())));
            console.printf(Locale.ROOT, "Measured training images/s: %s. Time for the %d run(s) left: about %s.%n",
                    measured, todo.size(), formatDuration(estimate));
        }
        console.flush();
        if (estimateOnly) {
            return 0;
        }
        if (!todo.isEmpty()) {
            console.printf("Interrupt at any time: the same command resumes from the runs stored in %s.%n", out);
            console.flush();
            runAll(todo, done, selected, trainer, train, test, store, speed, estimate, console);
            threadCounts.add(Integer.toString(torch.get_num_threads()));
        }
        writeResults(rates, selected, done, train, test, threadsNote(threadCounts), console);
        return 0;
    }

    /** The preset's values for every option the command line left out. */
    private void applyPreset() {
        var parsed = common.command.commandLine().getParseResult();
        if (!parsed.hasMatchedOption("--runs")) {
            common.runs.runs = preset.runs;
        }
        if (epochs == null) {
            epochs = preset.epochs;
        }
        if (!parsed.hasMatchedOption("--train-limit")) {
            common.trainLimit = preset.trainLimit;
        }
        if (!parsed.hasMatchedOption("--test-limit")) {
            common.testLimit = preset.testLimit;
        }
        if (out == null) {
            out = Path.of("lr-table-" + preset.name());
        }
    }

    private List<Double> parseLearningRates() {
        List<Double> rates = new ArrayList<>();
        for (String text : learningRates.split(",", -1)) {
            double rate;
            try {
                rate = Double.parseDouble(text.trim());
            } catch (NumberFormatException e) {
                throw OptionChecks.invalid(common.command.commandLine(), "--learning-rates",
                        "'" + text.trim() + "' is not a number");
            }
            common.requirePositiveFinite("--learning-rates", rate);
            if (rates.contains(rate)) {
                throw OptionChecks.invalid(common.command.commandLine(), "--learning-rates",
                        text.trim() + " is listed twice");
            }
            rates.add(rate);
        }
        return rates;
    }

    /**
     * What every stored run must share with this table: otherwise its numbers mean something else. The data
     * by its path, its counts and its checksum: other images of the same counts at the same path are other data.
     */
    private Map<String, String> setup(MnistData[] data) {
        Map<String, String> setup = new LinkedHashMap<>();
        setup.put("data", common.data().toAbsolutePath().normalize().toString());
        setup.put("trainImages", Integer.toString(data[0].count()));
        setup.put("testImages", Integer.toString(data[1].count()));
        setup.put(DATA_CHECKSUM, CommonOptions.checksum(data));
        setup.put("network", common.network.name());
        setup.put("optimizer", common.optimizer.name());
        setup.put("batchSize", Integer.toString(common.batchSize));
        setup.put("epochs", Integer.toString(epochs));
        setup.put("firstSeed", Long.toString(common.seed()));
        setup.put("convolutions", LibTorchSettings.oneDnnEnabled() ? "oneDNN" : "libtorch");
        if (common.projectAlpha) {
            // Only when on, so that tables stored before the option existed still resume.
            setup.put("alphaProjection", "on");
        }
        if (common.normalization != TensorData.Normalization.mnist) {
            // Likewise only when not the default: tables stored before the option existed normalized their inputs.
            setup.put("inputs", common.normalization.name());
        }
        if (common.areluAlpha != AReLU.DEFAULT_ALPHA) {
            // Likewise only when set: runs from another initial alpha are another experiment, never resumed.
            setup.put("areluAlpha", Double.toString(common.areluAlpha));
        }
        if (common.areluBeta != AReLU.DEFAULT_BETA) {
            setup.put("areluBeta", Double.toString(common.areluBeta));
        }
        return setup;
    }

    private void runAll(List<RunStore.RunKey> todo, Map<RunStore.RunKey, Trainer.History> done,
            List<ActivationSpec<?>> selected, Trainer trainer, TensorData train, TensorData test, RunStore store,
            Map<String, Trainer.Throughput> speed, double estimate, PrintWriter console) throws OutputFiles.Unwritable {
        double estimatedSoFar = 0;
        double actualSoFar = 0;
        double estimatedLeft = estimate;
        for (int i = 0; i < todo.size(); i++) {
            RunStore.RunKey key = todo.get(i);
            ActivationSpec<?> activation = selected.stream().filter(a -> a.name().equals(key.activation())).findFirst()
                    .orElseThrow();
            long seed = common.seed() + key.run();
            String label = String.format(Locale.ROOT, "lr %s %-9s run %d/%d", RunStore.formatLearningRate(
                    key.learningRate()), activation.name(), key.run() + 1, common.runs());
            Trainer.History history;
            // The network and its optimizer are freed with the run rather than left to the GC.
            try (PointerScope scope = new PointerScope()) {
                MnistNetwork network = common.newNetwork(activation, MnistData.CLASSES, seed);
                history = trainer.fit(network, common.optimizer, key.learningRate(), epochs, train, test,
                        new Random(seed), label);
            }
            OutputFiles.write("--out", out, () -> store.save(key, history, torch.get_num_threads()));
            done.put(key, history);
            double estimated = speed.get(key.activation()).secondsFor(epochs, train.count(), test.count());
            estimatedSoFar += estimated;
            actualSoFar += history.seconds();
            estimatedLeft -= estimated;
            // The estimate corrected by how far off it has been so far (other load, a slower activation).
            double left = estimatedLeft * actualSoFar / estimatedSoFar;
            console.printf(Locale.ROOT, "[%d/%d] %s: first epoch %.2f %%, best %.2f %%, %.0f s; about %s left%n", i + 1,
                    todo.size(), label.replaceAll(" +", " "), history.firstEpochAccuracy(), history.bestAccuracy(),
                    history.seconds(), formatDuration(left));
            console.flush();
        }
    }

    private void writeResults(List<Double> rates, List<ActivationSpec<?>> selected,
            Map<RunStore.RunKey, Trainer.History> done, TensorData train, TensorData test, String threadsNote,
            PrintWriter console)
            throws OutputFiles.Unwritable {
        List<LearningRateTable.Cell> cells = new ArrayList<>();
        for (double rate : rates) {
            List<ActivationResult> results = new ArrayList<>();
            for (ActivationSpec<?> activation : selected) {
                List<Trainer.History> runs = new ArrayList<>();
                for (int run = 0; run < common.runs(); run++) {
                    runs.add(done.get(new RunStore.RunKey(rate, activation.name(), run)));
                }
                results.add(new ActivationResult(activation.name(), runs));
            }
            cells.add(new LearningRateTable.Cell(rate, results));
        }
        String description = String.format(Locale.ROOT, "%s, %s, %s, %d epoch(s), %d run(s) from seed %d, %d "
                + "training and %d test images of %s%s", common.network, common.optimizer.description(),
                common.describeBatch(train.count()), epochs, common.runs(), common.seed(), train.count(), test.count(),
                common.data(),
                (common.projectAlpha ? "; AReLU's alpha projected onto [0.01, 0.99] after every step (--project-alpha)"
                        : "") + common.setupNote() + threadsNote);
        LearningRateTable table = new LearningRateTable(description, cells);
        String markdown = table.toMarkdown();
        OutputFiles.write("--out", out, () -> {
            Reports.writeTables(out, markdown, table.toJson(), table.toCsv());
            for (LearningRateTable.Cell cell : cells) {
                String rate = RunStore.formatLearningRate(cell.learningRate());
                Reports.writeChart(cell.results(), String.format(Locale.ROOT, "%s lr %s: test accuracy, mean +- std "
                        + "of %d run(s)", common.network, rate, common.runs()), out.resolve("accuracy-lr-" + rate
                        + ".png"));
                if (cell.results().stream().anyMatch(result -> result.runs().stream()
                        .anyMatch(run -> !run.parameters().isEmpty()))) {
                    Reports.writeParameterChart(cell.results(), String.format(Locale.ROOT, "AReLU parameters: %s "
                            + "lr %s", common.network, rate), out.resolve("parameters-lr-" + rate + ".png"));
                }
            }
        });
        console.println();
        console.print(markdown);
        console.printf("Written to %s: table.md, results.json (with AReLU's parameters per run), results.csv, "
                + "accuracy-lr-*.png and, with AReLU, parameters-lr-*.png.%n", out);
        console.flush();
    }

    /**
     * Where the runs were trained with different libtorch thread counts (a table resumed with another
     * {@code --threads}), such as {@code 1} and {@code 2}, or {@code unrecorded} for runs stored before the
     * count was: their images/s, which results.json and results.csv average, mix the counts, so the table says
     * which. Empty where every run had the same count.
     */
    static String threadsNote(Collection<String> threadCounts) {
        Set<String> counts = new TreeSet<>(threadCounts);
        return counts.size() < 2 ? "" : "; the runs' images/s mix libtorch thread counts " + String.join(", ", counts)
                + " (the table was resumed with other --threads)";
    }

    /** {@code 1 h 05 min}, {@code 12 min}, {@code 40 s}. */
    static String formatDuration(double seconds) {
        long rounded = Math.round(seconds);
        if (rounded < 60) {
            return rounded + " s";
        }
        long minutes = Math.round(seconds / 60);
        return minutes < 60 ? minutes + " min" : String.format(Locale.ROOT, "%d h %02d min", minutes / 60, minutes % 60);
    }
}
