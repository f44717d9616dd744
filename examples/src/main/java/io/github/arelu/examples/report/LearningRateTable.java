package io.github.arelu.examples.report;

import java.util.List;
import java.util.Locale;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

/**
 * The learning-rate table's results and its file formats: Markdown (the paper's layout, one row per
 * activation and two columns per learning rate), JSON and CSV. Accuracies are percentages.
 *
 * @param description the setup in words, for the Markdown's introduction and the JSON
 * @param cells one per learning rate, each with the same activations in the same order
 */
public record LearningRateTable(String description, List<Cell> cells) {

    /** All runs of every activation at one learning rate. */
    public record Cell(double learningRate, List<ActivationResult> results) {
    }

    public LearningRateTable {
        if (cells.isEmpty()) {
            throw new IllegalArgumentException("a table needs at least one learning rate");
        }
        List<String> names = activations(cells.getFirst());
        for (Cell cell : cells) {
            if (!activations(cell).equals(names)) {
                throw new IllegalArgumentException("learning rate " + cell.learningRate() + " has activations "
                        + activations(cell) + ", the first has " + names);
            }
        }
    }

    private static List<String> activations(Cell cell) {
        return cell.results().stream().map(ActivationResult::activation).toList();
    }

    /** A Markdown table: first-epoch and best accuracy, mean +- std, per learning rate. */
    public String toMarkdown() {
        StringBuilder text = new StringBuilder("# Learning-rate table\n\n").append(description).append(
                ".\n\nTest accuracy in %, mean ± std over runs: \"first\" after the first epoch, \"best\" the best "
                + "epoch of each run.\n\n| activation |");
        StringBuilder rule = new StringBuilder("| --- |");
        for (Cell cell : cells) {
            String rate = RunStore.formatLearningRate(cell.learningRate());
            text.append(" lr ").append(rate).append(" first | lr ").append(rate).append(" best |");
            rule.append(" ---: | ---: |");
        }
        text.append('\n').append(rule).append('\n');
        for (int row = 0; row < cells.getFirst().results().size(); row++) {
            text.append("| ").append(cells.getFirst().results().get(row).activation()).append(" |");
            for (Cell cell : cells) {
                ActivationResult result = cell.results().get(row);
                text.append(String.format(Locale.ROOT, " %.2f ± %.2f | %.2f ± %.2f |", result.firstEpochMean(),
                        result.firstEpochStd(), result.bestMean(), result.bestStd()));
            }
            text.append('\n');
        }
        return text.toString();
    }

    /**
     * {@code {"setup": ..., "learningRates": [{"learningRate": ..., "activations": {...}}]}}, where each
     * {@code activations} object is {@link Reports#toJson}'s.
     */
    public String toJson() {
        JsonArray rates = new JsonArray();
        for (Cell cell : cells) {
            JsonObject rate = new JsonObject();
            rate.add("learningRate", Json.number(cell.learningRate()));
            rate.add("activations", Reports.activationsJson(cell.results()));
            rates.add(rate);
        }
        JsonObject document = new JsonObject();
        document.addProperty("setup", description);
        document.add("learningRates", rates);
        return Json.write(document);
    }

    /** One line per learning rate, activation, run and epoch. */
    public String toCsv() {
        StringBuilder csv = new StringBuilder("learning_rate,activation,run,epoch,train_loss,test_accuracy\n");
        for (Cell cell : cells) {
            Reports.appendCsvRows(csv, RunStore.formatLearningRate(cell.learningRate()) + ",", cell.results());
        }
        return csv.toString();
    }
}
