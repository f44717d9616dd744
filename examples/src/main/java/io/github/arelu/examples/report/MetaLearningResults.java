package io.github.arelu.examples.report;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

/**
 * The meta-learning experiment's results and its file formats: a Markdown table, JSON and CSV. Accuracies
 * are percentages.
 *
 * @param description the setup in words, for the Markdown's introduction and the JSON
 * @param results one per activation
 */
public record MetaLearningResults(String description, List<MetaLearningResults.Result> results) {

    /**
     * One run of one activation.
     *
     * @param trainQueryAccuracy query accuracy (%) of each meta step's training tasks, as adapted during it
     * @param metaGradientNorm each meta step's meta-gradient norm, before any clipping
     * @param evaluatedSteps the meta steps (1-based) after which evaluation ran
     * @param testQueryAccuracy query accuracy (%) of the test-image tasks at each evaluated step
     */
    public record Run(double[] trainQueryAccuracy, double[] metaGradientNorm, int[] evaluatedSteps,
            double[] testQueryAccuracy, double seconds) {

        public double finalAccuracy() {
            return testQueryAccuracy[testQueryAccuracy.length - 1];
        }

        public double bestAccuracy() {
            return Arrays.stream(testQueryAccuracy).max().orElse(Double.NaN);
        }

        /** The paper's code's figure: the best query accuracy of any meta step's training tasks. */
        public double bestTrainAccuracy() {
            return Arrays.stream(trainQueryAccuracy).max().orElse(Double.NaN);
        }

        /** The largest meta-gradient norm of the run (NaN if any step's was: NaN sorts above every number). */
        public double largestMetaGradientNorm() {
            return Arrays.stream(metaGradientNorm).max().orElse(Double.NaN);
        }
    }

    /** All runs of one activation. */
    public record Result(String activation, List<Run> runs) {

        public double[] finals() {
            return runs.stream().mapToDouble(Run::finalAccuracy).toArray();
        }

        public double[] bests() {
            return runs.stream().mapToDouble(Run::bestAccuracy).toArray();
        }

        public double[] bestTrains() {
            return runs.stream().mapToDouble(Run::bestTrainAccuracy).toArray();
        }

        /** Training query accuracy at each meta step: mean or std over runs, as {@code statistic} says. */
        public double[] perStep(ToDoubleFunction<double[]> statistic) {
            return Statistics.overRuns(runs.stream().map(Run::trainQueryAccuracy).toList(), statistic);
        }

        /** Test query accuracy at each evaluated step: mean or std over runs, as {@code statistic} says. */
        public double[] perEvaluation(ToDoubleFunction<double[]> statistic) {
            return Statistics.overRuns(runs.stream().map(Run::testQueryAccuracy).toList(), statistic);
        }
    }

    /**
     * The table the command prints: final, best and best-train query accuracy, mean ± std over runs, and each
     * run's largest meta-gradient norm (a run whose norm jumped by orders of magnitude is one that
     * {@code --clip-meta-gradient} may save).
     */
    public String toMarkdown() {
        StringBuilder text = new StringBuilder("# Meta learning\n\n").append(description).append(".\n\n")
                .append("Query accuracy in % after adaptation, mean ± std over runs. On test-image tasks: \"final\" "
                        + "after the last meta step, \"best\" the best evaluation of each run. \"best train\": the best "
                        + "of any meta step's training tasks, the figure the paper's code reports (an optimistic "
                        + "one: the maximum of many noisy values). Largest meta-gradient norm: of each run, before "
                        + "any clipping.\n\n")
                .append("| activation | final | best | best train | largest meta-gradient norm | time per run (s) |\n"
                        + "| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for (Result result : results) {
            String norms = String.join(", ", result.runs().stream()
                    .map(run -> String.format(Locale.ROOT, "%.1f", run.largestMetaGradientNorm())).toList());
            text.append(String.format(Locale.ROOT, "| %s | %.2f ± %.2f | %.2f ± %.2f | %.2f ± %.2f | %s | %.0f |%n",
                    result.activation(), Statistics.mean(result.finals()), Statistics.std(result.finals()),
                    Statistics.mean(result.bests()), Statistics.std(result.bests()), Statistics.mean(result.bestTrains()),
                    Statistics.std(result.bestTrains()), norms, result.runs().stream().mapToDouble(Run::seconds)
                            .average().orElse(Double.NaN)));
        }
        return text.toString();
    }

    /**
     * {@code {"setup": ..., "activations": {NAME: {"finalMean": ..., ..., "runs": [...]}}}}, each run with its
     * {@code trainQueryAccuracy}, {@code metaGradientNorm}, {@code evaluatedSteps}, {@code testQueryAccuracy} and
     * {@code seconds}.
     */
    public String toJson() {
        JsonObject activations = new JsonObject();
        for (Result result : results) {
            JsonArray runs = new JsonArray();
            for (Run run : result.runs()) {
                JsonObject history = new JsonObject();
                history.add("trainQueryAccuracy", Json.array(run.trainQueryAccuracy()));
                history.add("metaGradientNorm", Json.array(run.metaGradientNorm()));
                history.add("evaluatedSteps", Json.array(run.evaluatedSteps()));
                history.add("testQueryAccuracy", Json.array(run.testQueryAccuracy()));
                history.add("seconds", Json.number(run.seconds()));
                runs.add(history);
            }
            JsonObject summary = new JsonObject();
            Json.addMeanStd(summary, "final", result.finals());
            Json.addMeanStd(summary, "best", result.bests());
            Json.addMeanStd(summary, "bestTrain", result.bestTrains());
            summary.add("runs", runs);
            activations.add(result.activation(), summary);
        }
        return Json.document(description, activations);
    }

    /** One line per activation, run and meta step; the test accuracy only where that step was evaluated. */
    public String toCsv() {
        StringBuilder csv = new StringBuilder(
                "activation,run,step,train_query_accuracy,meta_gradient_norm,test_query_accuracy\n");
        for (Result result : results) {
            for (int run = 0; run < result.runs().size(); run++) {
                Run history = result.runs().get(run);
                int next = 0;
                for (int step = 1; step <= history.trainQueryAccuracy().length; step++) {
                    String test = "";
                    if (next < history.evaluatedSteps().length && history.evaluatedSteps()[next] == step) {
                        test = String.format(Locale.ROOT, "%.4f", history.testQueryAccuracy()[next++]);
                    }
                    csv.append(String.format(Locale.ROOT, "%s,%d,%d,%.4f,%.6g,%s%n", result.activation(), run + 1,
                            step, history.trainQueryAccuracy()[step - 1], history.metaGradientNorm()[step - 1], test));
                }
            }
        }
        return csv.toString();
    }
}
