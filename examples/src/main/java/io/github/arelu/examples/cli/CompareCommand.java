package io.github.arelu.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.dist.DataParallelException;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.report.ActivationResult;
import io.github.arelu.examples.report.Reports;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The paper's activation comparison: trains one network per activation (and run) with the same seeds and
 * reports test accuracy after the first epoch and the best over all epochs, and every AReLU layer's alpha and
 * beta epoch by epoch.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = "Trains ConvMNIST, LinearMNIST, ResNet or VGG with each activation and compares test accuracy "
                + "(and records AReLU's parameters), following the protocol of the AReLU paper's code (NLL loss, batch 128).")
public final class CompareCommand implements Experiment {

    @Mixin
    CommonOptions common;

    @Option(names = "--activations", paramLabel = "LIST", description = "comma-separated activations, or 'all' "
            + "(default: ${DEFAULT-VALUE}); known: AReLU, AReLU-channelwise, ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, CELU, SELU, "
            + "GELU, Sigmoid, Tanh, Softplus, SiLU (Swish), Mish")
    String activations = ActivationSpec.DEFAULT_SELECTION;

    @Option(names = "--lr", paramLabel = "RATE", description = "learning rate (default: ${DEFAULT-VALUE})")
    double learningRate = 1e-4;

    @Option(names = "--epochs", paramLabel = "N", description = "epochs per run (default: ${DEFAULT-VALUE})")
    int epochs = 2;

    @Option(names = "--json-out", paramLabel = "FILE", description = "write the summary as JSON (AReLU's "
            + "parameters per run included)")
    Path jsonOut;

    @Option(names = "--csv-out", paramLabel = "FILE", description = "write per-epoch results as CSV")
    Path csvOut;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "write a PNG chart of test accuracy per epoch")
    Path plot;

    @Option(names = "--parameter-csv", paramLabel = "FILE", description = "write every AReLU layer's alpha and beta "
            + "(mean, min, max over channels, fraction outside [0.01, 0.99]) at the start and after each epoch as CSV")
    Path parameterCsv;

    @Option(names = "--parameter-plot", paramLabel = "FILE.png", description = "write a PNG chart of every AReLU "
            + "layer's alpha and beta against epoch (needs an AReLU activation)")
    Path parameterPlot;

    @Mixin
    DistributedOptions distributed;

    private final ProgressBar progress;
    private List<ActivationSpec<?>> selected;

    public CompareCommand() {
        this(ProgressBar.onStandardError());
    }

    public CompareCommand(ProgressBar progress) {
        this.progress = progress;
    }

    @Override
    public void validate() {
        selected = common.validate(activations);
        common.requirePositiveFinite("--lr", learningRate);
        common.requireAtLeast("--epochs", epochs, 1);
        if (!CommonOptions.hasAReLU(selected)) {
            requireAbsentWithoutAReLU("--parameter-csv", parameterCsv, "records");
            requireAbsentWithoutAReLU("--parameter-plot", parameterPlot, "draws");
        }
        requireDistinctOutputs();
        distributed.validate();
    }

    /** Refuses two outputs at one path: the one written last would silently replace the other. */
    private void requireDistinctOutputs() {
        Map<Path, String> optionByFile = new HashMap<>();
        for (Map.Entry<String, Path> output : outputs().entrySet()) {
            if (output.getValue() != null) {
                String earlier = optionByFile.putIfAbsent(output.getValue().toAbsolutePath().normalize(),
                        output.getKey());
                if (earlier != null) {
                    throw new ParameterException(common.command.commandLine(), earlier + " and " + output.getKey()
                            + " name the same file, " + output.getValue() + ": give each output its own");
                }
            }
        }
    }

    /** Refuses {@code option}, which {@code does} AReLU's parameters, when it is given and no AReLU trains. */
    private void requireAbsentWithoutAReLU(String option, Path value, String does) {
        if (value != null) {
            throw OptionChecks.invalid(common.command.commandLine(), option, "it " + does + " AReLU's "
                    + "parameters, but --activations '" + activations + "' has no AReLU");
        }
    }

    /**
     * The options' threads and convolutions; oneDNN is checked on this rank's shares of the batches. A process that
     * starts {@code --local-workers} trains nothing: each worker checks for itself.
     */
    @Override
    public ProcessSettings processSettings() {
        return distributed.startsLocalWorkers() ? ProcessSettings.withoutOneDnn(common.threads())
                : common.processSettings(distributed.rank, distributed.worldSize);
    }

    @Override
    public Integer call() {
        try {
            // Rank 0 alone writes files, so only its paths need to exist; checked before any worker starts.
            if (distributed.rank == 0) {
                checkOutputs();
            }
            if (distributed.startsLocalWorkers()) {
                return distributed.runLocalWorkers();
            }
            MnistData[] data;
            try {
                data = common.loadData();
            } catch (IOException e) {
                return common.reportDataError(e);
            }
            return compareAndReport(distributed.join(setup(data)), data);
        } catch (DataParallelException e) {
            return distributed.reportFailure(e);
        } catch (OutputFiles.Unwritable e) {
            return common.reportUnwritable(e);
        }
    }

    private void checkOutputs() throws OutputFiles.Unwritable {
        for (Map.Entry<String, Path> output : outputs().entrySet()) {
            if (output.getValue() != null) {
                OutputFiles.checkFile(output.getKey(), output.getValue());
            }
        }
    }

    /** Every output file by its option, null where not given. */
    private Map<String, Path> outputs() {
        Map<String, Path> outputs = new LinkedHashMap<>();
        outputs.put("--json-out", jsonOut);
        outputs.put("--csv-out", csvOut);
        outputs.put("--plot", plot);
        outputs.put("--parameter-csv", parameterCsv);
        outputs.put("--parameter-plot", parameterPlot);
        return outputs;
    }

    /**
     * What the ranks of a data-parallel group must agree on, by option: the same models, trained the same
     * way, on the same images. Threads, the data's path and the convolutions may differ between machines.
     */
    private Map<String, String> setup(MnistData[] data) {
        Map<String, String> setup = common.trainingSetup(data);
        setup.put("--activations", selected.stream().map(ActivationSpec::name).collect(Collectors.joining(",")));
        setup.put("--lr", Double.toString(learningRate));
        setup.put("--epochs", Integer.toString(epochs));
        return setup;
    }

    /** Trains and reports, alone or as one rank of a data-parallel group; only rank 0 prints and writes files. */
    private int compareAndReport(GradientSync group, MnistData[] data) throws OutputFiles.Unwritable {
        boolean reporting = group.rank() == 0;
        PrintWriter out = reporting ? common.command.commandLine().getOut() : new PrintWriter(Writer.nullWriter());
        long start = System.nanoTime();
        Trainer trainer = common.trainer(reporting ? progress : ProgressBar.silent(), group);
        List<ActivationResult> results = compare(selected, data[0], data[1], trainer);
        group.finish();
        String setup = String.format(Locale.ROOT, "Data: %s, %d training and %d test images. %s, lr %s, %d epoch(s).",
                common.data(), data[0].count(), data[1].count(), common.describeTraining(data[0].count()),
                learningRate, epochs);
        out.printf(Locale.ROOT, "%n%s%n%s%n", setup, CommonOptions.describeRuntime());
        if (group.worldSize() > 1) {
            setup += String.format(Locale.ROOT, " Data parallel: %d processes (gloo), each on 1/%d of every batch.",
                    group.worldSize(), group.worldSize());
            out.printf(Locale.ROOT, "Data parallel: %d processes (gloo), each on 1/%d of every batch; images/s "
                    + "below are the group's. All-reduce: %.1f %% of rank 0's training time (waiting for the "
                    + "slowest rank included).%n", group.worldSize(), group.worldSize(),
                    100 * trainer.allReduceSeconds() / trainer.trainingSeconds());
            if (common.network.batchNorm()) {
                out.printf(Locale.ROOT, "BatchNorm normalizes each process's part of a batch with that part's "
                        + "statistics (as DistributedDataParallel without SyncBatchNorm), so these figures are not "
                        + "one process's; the test passes use rank 0's running statistics.%n");
            }
        }
        Reports.printTable(results, out);
        out.printf(Locale.ROOT, "Wall time: %.1f s%n", (System.nanoTime() - start) / 1e9);
        if (reporting) {
            writeOutputs(results, setup, data[0].count());
        }
        out.flush();
        return 0;
    }

    /**
     * Runs every activation {@code runs} times, after a few untimed warm-up steps of each; run r of every
     * activation uses seed {@code seed + r}.
     */
    List<ActivationResult> compare(List<ActivationSpec<?>> selected, MnistData train, MnistData test, Trainer trainer) {
        TensorData trainTensors = common.tensors(train, MnistData.CLASSES);
        TensorData testTensors = common.tensors(test, MnistData.CLASSES);
        for (ActivationSpec<?> activation : selected) {
            trainer.warmUp(common.network, activation, trainTensors);
        }
        List<ActivationResult> results = new ArrayList<>();
        for (ActivationSpec<?> activation : selected) {
            List<Trainer.History> runs = new ArrayList<>();
            for (int run = 0; run < common.runs(); run++) {
                long runSeed = common.seed() + run;
                MnistNetwork network = common.newNetwork(activation, MnistData.CLASSES, runSeed);
                String label = String.format(Locale.ROOT, "%-9s run %d/%d", activation.name(), run + 1, common.runs());
                runs.add(trainer.fit(network, common.optimizer, learningRate, epochs, trainTensors, testTensors,
                        new Random(runSeed), label));
            }
            results.add(new ActivationResult(activation.name(), runs));
        }
        return results;
    }

    private void writeOutputs(List<ActivationResult> results, String setup, int trainCount)
            throws OutputFiles.Unwritable {
        if (jsonOut != null) {
            OutputFiles.write("--json-out", jsonOut, () -> Files.writeString(jsonOut, Reports.toJson(setup, results)));
        }
        if (csvOut != null) {
            OutputFiles.write("--csv-out", csvOut, () -> Files.writeString(csvOut, Reports.toCsv(results)));
        }
        if (plot != null) {
            String title = String.format(Locale.ROOT, "%s, %s lr %s, %d training images, %d run(s)", common.network,
                    common.optimizer, learningRate, trainCount, common.runs());
            OutputFiles.write("--plot", plot, () -> Reports.writeChart(results, title, plot));
        }
        if (parameterCsv != null) {
            OutputFiles.write("--parameter-csv", parameterCsv,
                    () -> Files.writeString(parameterCsv, Reports.toParameterCsv(results)));
        }
        if (parameterPlot != null) {
            String title = String.format(Locale.ROOT, "AReLU parameters: %s, %s lr %s, %d training images",
                    common.network, common.optimizer, learningRate, trainCount);
            OutputFiles.write("--parameter-plot", parameterPlot,
                    () -> Reports.writeParameterChart(results, title, parameterPlot));
        }
    }
}
