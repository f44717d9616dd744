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
import java.util.stream.DoubleStream;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TaskSampler;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.report.MetaLearningResults;
import io.github.arelu.examples.report.Reports;
import io.github.arelu.examples.report.Statistics;
import io.github.arelu.examples.train.MetaLearner;
import io.github.arelu.examples.train.NonFiniteResultException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The paper's meta-learning experiment: MAML on ConvMNIST with N-way K-shot tasks, AReLU against ReLU and
 * PReLU. Meta-training tasks come from the training images. The paper's code reports the best query
 * accuracy of its training tasks over the meta steps; we report that too (the per-step training query
 * accuracy), and in addition evaluate on tasks drawn from the test images, which no meta step has seen,
 * every few steps. Tasks draw from all classes in both.
 */
@Command(name = "maml", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Meta-learns ConvMNIST with MAML (second order by default) on N-way K-shot tasks and compares "
                + "activations by query accuracy after fast adaptation, mean +- std over runs.",
                "Defaults follow the AReLU paper's code: 5-way 1-shot, 32 tasks per meta step, 5 adaptation steps at "
                + "lr 0.005, Adam at lr 0.005."},
        footer = "--threads defaults to 1 here: a task is a handful of images, too small to gain from more threads.")
public final class MetaLearningCommand implements Experiment {

    @Spec
    CommandSpec command;

    @Mixin
    DataOptions data;

    @Option(names = "--activations", paramLabel = "LIST", description = "comma-separated, of AReLU, ReLU and PReLU "
            + "(default: ${DEFAULT-VALUE})")
    String activations = "AReLU,ReLU,PReLU";

    @Option(names = "--ways", paramLabel = "N", description = "classes per task (default: ${DEFAULT-VALUE})")
    int ways = 5;

    @Option(names = "--shots", paramLabel = "K", description = "support images per class (default: ${DEFAULT-VALUE})")
    int shots = 1;

    @Option(names = "--queries", paramLabel = "N", description = "query images per class (default: as many as --shots)")
    Integer queries;

    @Option(names = "--tasks-per-step", paramLabel = "N", description = "tasks per meta step (default: ${DEFAULT-VALUE})")
    int tasksPerStep = 32;

    @Option(names = "--adaptation-steps", paramLabel = "N", description = "fast-adaptation SGD steps per task "
            + "(default: ${DEFAULT-VALUE})")
    int adaptationSteps = 5;

    @Option(names = "--adaptation-lr", paramLabel = "RATE", description = "fast-adaptation learning rate "
            + "(default: ${DEFAULT-VALUE})")
    double adaptationLearningRate = 0.005;

    @Option(names = "--meta-lr", paramLabel = "RATE", description = "Adam's learning rate for the initial weights "
            + "(default: ${DEFAULT-VALUE})")
    double metaLearningRate = 0.005;

    // Not in the paper's code: second-order MAML with AReLU at Adam's lr 0.005 had meta-gradients of 2 jump to
    // 100-1000 in some runs, after which the run fell back and stalled (examples/README.md, "Meta learning").
    @Option(names = "--clip-meta-gradient", paramLabel = "NORM", description = "rescale each meta-gradient to at most "
            + "this total norm before Adam's step (default: no clipping, as the paper's code)")
    Double clipMetaGradient;

    @Option(names = "--iterations", paramLabel = "N", description = "meta steps per run (default: ${DEFAULT-VALUE})")
    int iterations = 300;

    @Option(names = "--first-order", description = "first-order MAML: the inner gradients are not differentiated "
            + "through (cheaper, no second derivatives)")
    boolean firstOrder;

    @Option(names = "--eval-every", paramLabel = "N", description = "evaluate on test-image tasks every N meta steps "
            + "(default: ${DEFAULT-VALUE})")
    int evaluateEvery = 10;

    @Option(names = "--eval-tasks", paramLabel = "N", description = "tasks per evaluation (default: ${DEFAULT-VALUE})")
    int evaluationTasks = 64;

    @Mixin
    RunOptions runOptions = new RunOptions(3);

    // A task is a handful of images: splitting each small operation over threads costs more in
    // synchronization than it gains, and far more on a busy machine (a 5-image ConvMNIST forward and
    // backward here: 3 ms on 1 thread, 120-160 ms on 2 while other processes ran).
    @Mixin
    ThreadOptions threadOptions = new ThreadOptions(1);

    @Option(names = "--out", paramLabel = "DIR", description = "where the table, JSON, CSV and plot go "
            + "(default: ${DEFAULT-VALUE})")
    Path out = Path.of("maml-results");

    /** Where a line per evaluation goes; null for none. */
    private final PrintWriter progress;

    public MetaLearningCommand() {
        this(new PrintWriter(System.err, true));
    }

    public MetaLearningCommand(PrintWriter progress) {
        this.progress = progress;
    }

    private int queriesPerClass;
    private MetaLearner.Adaptation adaptation;
    private List<ActivationSpec<?>> selected;

    @Override
    public void validate() {
        queriesPerClass = queries == null ? shots : queries;
        requireAtLeast("--ways", ways, 2);
        requireAtLeast("--shots", shots, 1);
        requireAtLeast("--queries", queriesPerClass, 1);
        requireAtLeast("--tasks-per-step", tasksPerStep, 1);
        requireAtLeast("--iterations", iterations, 1);
        requireAtLeast("--eval-every", evaluateEvery, 1);
        requireAtLeast("--eval-tasks", evaluationTasks, 1);
        requireAtLeast("--runs", runOptions.runs, 1);
        threadOptions.validate(command.commandLine());
        try {
            adaptation = new MetaLearner.Adaptation(adaptationSteps, adaptationLearningRate, firstOrder);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), "Invalid adaptation options: " + e.getMessage());
        }
        OptionChecks.requirePositiveFinite(command.commandLine(), "--meta-lr", metaLearningRate);
        if (clipMetaGradient != null) {
            OptionChecks.requirePositiveFinite(command.commandLine(), "--clip-meta-gradient", clipMetaGradient);
        }
        selected = parseActivations();
    }

    /** {@code --threads} libtorch threads; meta learning leaves oneDNN off. */
    @Override
    public ProcessSettings processSettings() {
        return ProcessSettings.withoutOneDnn(threadOptions.threads);
    }

    @Override
    public Integer call() {
        try {
            OutputFiles.checkDirectory("--out", out);
            return metaLearn();
        } catch (OutputFiles.Unwritable e) {
            return OutputFiles.report(command, e);
        }
    }

    private int metaLearn() throws OutputFiles.Unwritable {
        PrintWriter console = command.commandLine().getOut();
        MnistData train;
        MnistData test;
        try {
            MnistData[] trainAndTest = data.load();
            train = trainAndTest[0];
            test = trainAndTest[1];
        } catch (IOException e) {
            return DataOptions.reportError(command, e);
        }
        TensorData trainTensors = TensorData.of(train, MnistData.CLASSES);
        TensorData testTensors = TensorData.of(test, MnistData.CLASSES);
        TaskSampler trainTasks = taskSampler(train, trainTensors, "training");
        TaskSampler testTasks = taskSampler(test, testTensors, "test");
        long start = System.nanoTime();
        List<MetaLearningResults.Result> results = new ArrayList<>();
        for (ActivationSpec<?> activation : selected) {
            List<MetaLearningResults.Run> activationRuns = new ArrayList<>();
            for (int run = 0; run < runOptions.runs; run++) {
                activationRuns.add(train(activation, run, adaptation, trainTasks, testTasks));
            }
            results.add(new MetaLearningResults.Result(activation.name(), activationRuns));
        }
        String description = describe();
        MetaLearningResults report = new MetaLearningResults(description, results);
        String markdown = report.toMarkdown();
        List<Reports.Band> testBands = new ArrayList<>();
        List<Reports.Band> trainBands = new ArrayList<>();
        for (MetaLearningResults.Result result : results) {
            double[] steps = Arrays.stream(result.runs().getFirst().evaluatedSteps()).asDoubleStream().toArray();
            testBands.add(new Reports.Band(result.activation(), steps, result.perEvaluation(Statistics::mean),
                    result.perEvaluation(Statistics::std)));
            trainBands.add(new Reports.Band(result.activation(), Reports.oneBased(iterations),
                    result.perStep(Statistics::mean), result.perStep(Statistics::std)));
        }
        String task = String.format(Locale.ROOT, "MAML %d-way %d-shot%s", ways, shots, firstOrder ? " (first order)" : "");
        OutputFiles.write("--out", out, () -> {
            Reports.writeTables(out, markdown, report.toJson(), report.toCsv());
            Reports.writeBandChart(String.format(Locale.ROOT, "%s: query accuracy on test-image tasks, mean +- std "
                    + "of %d run(s)", task, runOptions.runs), "meta step", "query accuracy (%)", testBands,
                    out.resolve("query-accuracy.png"));
            Reports.writeBandChart(String.format(Locale.ROOT, "%s: query accuracy of each step's training tasks, "
                    + "mean +- std of %d run(s)", task, runOptions.runs), "meta step", "query accuracy (%)",
                    trainBands, out.resolve("train-query-accuracy.png"));
        });
        console.println();
        console.print(markdown);
        console.printf(Locale.ROOT, "Wall time: %.1f s. Written to %s: table.md, results.json, results.csv, "
                + "query-accuracy.png, train-query-accuracy.png.%n", (System.nanoTime() - start) / 1e9, out);
        console.flush();
        return 0;
    }

    /** Tasks of the options' shape from {@code data}, the {@code which} images; a shape they cannot give gets usage. */
    private TaskSampler taskSampler(MnistData data, TensorData tensors, String which) {
        try {
            return new TaskSampler(data, tensors, ways, shots, queriesPerClass);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), "Invalid task shape for the " + which + " images: "
                    + e.getMessage());
        }
    }

    /** One run: seeded weights and task draws; evaluations on their own seeded draw of test tasks. */
    MetaLearningResults.Run train(ActivationSpec<?> activation, int run, MetaLearner.Adaptation adaptation, TaskSampler trainTasks,
            TaskSampler testTasks) {
        long runSeed = runOptions.seed + run;
        long started = System.nanoTime();
        MetaLearner learner = new MetaLearner(activation, ways, runSeed, adaptation, metaLearningRate,
                clipMetaGradient == null ? Double.POSITIVE_INFINITY : clipMetaGradient);
        Random trainRandom = new Random(runSeed);
        // Grown step by step rather than sized by --iterations: a huge count is a run stopped by hand, not a
        // request for an array of that size up front.
        DoubleStream.Builder trainAccuracy = DoubleStream.builder();
        DoubleStream.Builder gradientNorms = DoubleStream.builder();
        List<Integer> evaluated = new ArrayList<>();
        List<Double> testAccuracy = new ArrayList<>();
        int step = 0;
        try {
            for (step = 1; step <= iterations; step++) {
                MetaLearner.StepResult stepResult;
                try (PointerScope scope = new PointerScope()) {
                    stepResult = learner.metaStep(MetaLearner.sample(trainTasks, tasksPerStep, trainRandom));
                }
                double stepAccuracy = stepResult.queryAccuracy();
                trainAccuracy.add(stepAccuracy);
                gradientNorms.add(stepResult.metaGradientNorm());
                if (step % evaluateEvery == 0 || step == iterations) {
                    // The same test tasks at every evaluation of a run, so the curve shows learning, not task
                    // draws; from a stream apart from the training tasks' draws: Random xors its seed with
                    // 0x5DEECE66D, so this one starts from the state runSeed and the training draws' from
                    // runSeed ^ 0x5DEECE66D.
                    try (PointerScope scope = new PointerScope()) {
                        double accuracy = learner.evaluate(MetaLearner.sample(testTasks, evaluationTasks,
                                new Random(runSeed ^ 0x5DEECE66DL)));
                        evaluated.add(step);
                        testAccuracy.add(accuracy);
                        if (progress != null) {
                            progress.printf(Locale.ROOT, "%-6s run %d/%d step %d/%d: train query %.1f %%, test "
                                    + "query %.1f %% (%.0f s)%n", activation.name(), run + 1, runOptions.runs, step,
                                    iterations, stepAccuracy, accuracy, (System.nanoTime() - started) / 1e9);
                        }
                    }
                }
            }
        } catch (NonFiniteResultException e) {
            throw e.in(String.format(Locale.ROOT, "%s run %d/%d, meta step %d", activation.name(), run + 1,
                    runOptions.runs, step));
        }
        return new MetaLearningResults.Run(trainAccuracy.build().toArray(), gradientNorms.build().toArray(),
                evaluated.stream().mapToInt(Integer::intValue).toArray(),
                testAccuracy.stream().mapToDouble(Double::doubleValue).toArray(), (System.nanoTime() - started) / 1e9);
    }

    private List<ActivationSpec<?>> parseActivations() {
        List<ActivationSpec<?>> selected = OptionChecks.activations(command.commandLine(), "--activations",
                activations);
        for (ActivationSpec<?> activation : selected) {
            try {
                MetaLearner.requireSupported(activation);
            } catch (IllegalArgumentException e) {
                throw OptionChecks.invalid(command.commandLine(), "--activations", e.getMessage());
            }
        }
        return selected;
    }

    private void requireAtLeast(String option, long value, long minimum) {
        OptionChecks.requireAtLeast(command.commandLine(), option, value, minimum);
    }

    private String describe() {
        return String.format(Locale.ROOT, "MAML (%s) on ConvMNIST, %s: %d-way %d-shot tasks with %d query image(s) per "
                + "class, %d tasks per meta step, %d adaptation steps at lr %s, Adam at lr %s%s, %d meta steps, %d run(s) "
                + "from seed %d; evaluated every %d steps on %d tasks of test images. %d libtorch thread(s)",
                adaptation.firstOrder() ? "first order" : "second order", data, ways, shots, queriesPerClass,
                tasksPerStep, adaptation.steps(), adaptation.learningRate(), metaLearningRate,
                clipMetaGradient == null ? "" : " on meta-gradients clipped to norm " + clipMetaGradient,
                iterations, runOptions.runs, runOptions.seed,
                evaluateEvery, evaluationTasks, torch.get_num_threads());
    }
}
