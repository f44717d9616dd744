package io.github.arelu.examples.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.github.arelu.examples.train.Trainer;

/**
 * The transfer experiment's results and its file formats: a Markdown table, JSON, CSV and a chart of the
 * fine-tuning curves. Accuracies are percentages, each on the test images of its own half.
 *
 * @param description the setup in words, for the Markdown's introduction, the JSON and the chart's title
 * @param results one per activation
 */
public record TransferResults(String description, List<TransferResults.Result> results) {

    /**
     * One run of one activation.
     *
     * @param pretraining the epochs on classes 0-4
     * @param beforeFinetuning accuracy on classes 5-9 with the pretrained weights, before any step on them
     * @param finetuning the epochs on classes 5-9
     */
    public record Run(Trainer.History pretraining, double beforeFinetuning, Trainer.History finetuning) {

        public double pretrainedAccuracy() {
            return pretraining.testAccuracy()[pretraining.testAccuracy().length - 1];
        }

        /** Accuracy on classes 5-9 before fine-tuning (index 0) and after each fine-tuning epoch. */
        public double[] finetuningCurve() {
            double[] accuracy = finetuning.testAccuracy();
            double[] curve = new double[accuracy.length + 1];
            curve[0] = beforeFinetuning;
            System.arraycopy(accuracy, 0, curve, 1, accuracy.length);
            return curve;
        }

        public double finalAccuracy() {
            return finetuning.testAccuracy()[finetuning.testAccuracy().length - 1];
        }
    }

    /** All runs of one activation. */
    public record Result(String activation, List<Run> runs) {

        public double[] of(ToDoubleFunction<Run> figure) {
            return runs.stream().mapToDouble(figure).toArray();
        }

        /** {@link Run#finetuningCurve()}: mean or std over runs, as {@code statistic} says. */
        public double[] finetuningCurve(ToDoubleFunction<double[]> statistic) {
            return Statistics.overRuns(runs.stream().map(Run::finetuningCurve).toList(), statistic);
        }
    }

    /** The columns of the table and the JSON summary: a name and how a run gives the figure. */
    private record Column(String heading, String jsonName, ToDoubleFunction<Run> figure) {
    }

    private static final List<Column> COLUMNS = List.of(
            new Column("pretrained, 0-4", "pretrained", Run::pretrainedAccuracy),
            new Column("5-9 before fine-tuning", "beforeFinetuning", Run::beforeFinetuning),
            new Column("fine-tuned, 1st epoch", "finetunedFirstEpoch", run -> run.finetuning().firstEpochAccuracy()),
            new Column("fine-tuned, last epoch", "finetunedLastEpoch", Run::finalAccuracy),
            new Column("fine-tuned, best", "finetunedBest", run -> run.finetuning().bestAccuracy()));

    /** The table the command prints: every column as mean ± std over runs. */
    public String toMarkdown() {
        StringBuilder text = new StringBuilder("# Transfer\n\n").append(description).append(".\n\n")
                .append("Test accuracy in %, mean ± std over runs, on the test images of classes 0-4 (pretrained) "
                        + "or 5-9 (the rest).\n\n| activation |");
        StringBuilder rule = new StringBuilder("| --- |");
        for (Column column : COLUMNS) {
            text.append(' ').append(column.heading()).append(" |");
            rule.append(" ---: |");
        }
        text.append('\n').append(rule).append('\n');
        for (Result result : results) {
            text.append("| ").append(result.activation()).append(" |");
            for (Column column : COLUMNS) {
                double[] values = result.of(column.figure());
                text.append(String.format(Locale.ROOT, " %.2f ± %.2f |", Statistics.mean(values), Statistics.std(values)));
            }
            text.append('\n');
        }
        return text.toString();
    }

    /**
     * {@code {"setup": ..., "activations": {NAME: {"pretrainedMean": ..., "pretrainedStd": ..., ...,
     * "finetuningCurveMean": [...], "finetuningCurveStd": [...], "runs": [...]}}}}; the curves start with the
     * accuracy before fine-tuning. Each run has its {@code pretraining} and {@code finetuning} histories
     * ({@code testAccuracy}, {@code trainLoss}, and for AReLU every layer's {@code parameters} as in
     * {@link Reports#toJson}) and {@code beforeFinetuning}.
     */
    public String toJson() {
        JsonObject activations = new JsonObject();
        for (Result result : results) {
            JsonObject summary = new JsonObject();
            for (Column column : COLUMNS) {
                Json.addMeanStd(summary, column.jsonName(), result.of(column.figure()));
            }
            summary.add("finetuningCurveMean", Json.array(result.finetuningCurve(Statistics::mean)));
            summary.add("finetuningCurveStd", Json.array(result.finetuningCurve(Statistics::std)));
            JsonArray runs = new JsonArray();
            for (Run run : result.runs()) {
                JsonObject json = new JsonObject();
                json.add("pretraining", historyJson(run.pretraining()));
                json.add("beforeFinetuning", Json.number(run.beforeFinetuning()));
                json.add("finetuning", historyJson(run.finetuning()));
                runs.add(json);
            }
            summary.add("runs", runs);
            activations.add(result.activation(), summary);
        }
        return Json.document(description, activations);
    }

    private static JsonObject historyJson(Trainer.History history) {
        JsonObject json = new JsonObject();
        json.add("testAccuracy", Json.array(history.testAccuracy()));
        json.add("trainLoss", Json.array(history.trainLoss()));
        if (!history.parameters().isEmpty()) {
            json.add("parameters", Reports.parametersJson(history.parameters()));
        }
        return json;
    }

    /**
     * One line per activation, run, phase ({@code pretrain} or {@code finetune}) and epoch; fine-tuning's epoch 0
     * is the accuracy before it, without a training loss.
     */
    public String toCsv() {
        StringBuilder csv = new StringBuilder("activation,run,phase,epoch,train_loss,test_accuracy\n");
        for (Result result : results) {
            for (int run = 0; run < result.runs().size(); run++) {
                Run history = result.runs().get(run);
                appendEpochs(csv, result.activation(), run + 1, "pretrain", history.pretraining());
                csv.append(String.format(Locale.ROOT, "%s,%d,finetune,0,,%.4f%n", result.activation(), run + 1,
                        history.beforeFinetuning()));
                appendEpochs(csv, result.activation(), run + 1, "finetune", history.finetuning());
            }
        }
        return csv.toString();
    }

    private static void appendEpochs(StringBuilder csv, String activation, int run, String phase,
            Trainer.History history) {
        for (int epoch = 0; epoch < history.testAccuracy().length; epoch++) {
            csv.append(String.format(Locale.ROOT, "%s,%d,%s,%d,%.6f,%.4f%n", activation, run, phase, epoch + 1,
                    history.trainLoss()[epoch], history.testAccuracy()[epoch]));
        }
    }

    /** Accuracy on classes 5-9 against fine-tuning epoch (0: before), mean ± std over runs, as a PNG. */
    public void writeFinetuningChart(String title, Path file) throws IOException {
        List<Reports.Band> bands = new ArrayList<>();
        for (Result result : results) {
            double[] mean = result.finetuningCurve(Statistics::mean);
            double[] epochs = new double[mean.length];
            for (int epoch = 0; epoch < epochs.length; epoch++) {
                epochs[epoch] = epoch;
            }
            bands.add(new Reports.Band(result.activation(), epochs, mean, result.finetuningCurve(Statistics::std)));
        }
        Reports.writeBandChart(title, "fine-tuning epoch (0: pretrained weights)", "test accuracy on classes 5-9 (%)",
                bands, file);
    }
}
