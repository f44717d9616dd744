package io.github.arelu.examples;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The comparison's outputs: console table, JSON, CSV and a PNG chart. Accuracies are percentages. */
public final class Reports {

    private Reports() {
    }

    /** One row per activation: first-epoch and best test accuracy (mean +- std), final loss, speed. */
    public static void printTable(List<ActivationResult> results, PrintWriter out) {
        out.printf(Locale.ROOT, "%-10s | %-17s | %-17s | %-10s | %-7s | %s%n", "activation", "1st epoch acc (%)",
                "best acc (%)", "final loss", "img/s", "time (s)");
        out.println("-".repeat(10) + "-+-" + "-".repeat(17) + "-+-" + "-".repeat(17) + "-+-" + "-".repeat(10)
                + "-+-" + "-".repeat(7) + "-+-" + "-".repeat(8));
        for (ActivationResult result : results) {
            out.printf(Locale.ROOT, "%-10s | %7.2f +- %-6.2f | %7.2f +- %-6.2f | %-10.4f | %7.0f | %.1f%n",
                    result.activation(), result.firstEpochMean(), result.firstEpochStd(), result.bestMean(),
                    result.bestStd(), result.finalLossMean(), result.imagesPerSecondMean(), result.secondsTotal());
        }
    }

    /**
     * JSON object keyed by activation name, each with {@code firstEpochMean}, {@code firstEpochStd},
     * {@code bestMean}, {@code bestStd}, {@code finalLossMean}, {@code imagesPerSecondMean} (training
     * throughput), {@code accuracyPerEpochMean} and the per-run histories.
     */
    public static String toJson(List<ActivationResult> results) {
        StringJoiner activations = new StringJoiner(",\n", "{\n", "\n}\n");
        for (ActivationResult result : results) {
            StringJoiner runs = new StringJoiner(", ", "[", "]");
            for (Trainer.History run : result.runs()) {
                runs.add("{\"testAccuracy\": " + jsonArray(run.testAccuracy()) + ", \"trainLoss\": "
                        + jsonArray(run.trainLoss()) + ", \"imagesPerSecond\": " + jsonNumber(run.imagesPerSecond())
                        + ", \"seconds\": " + jsonNumber(run.seconds()) + "}");
            }
            activations.add("  " + jsonString(result.activation()) + ": {"
                    + "\"firstEpochMean\": " + jsonNumber(result.firstEpochMean())
                    + ", \"firstEpochStd\": " + jsonNumber(result.firstEpochStd())
                    + ", \"bestMean\": " + jsonNumber(result.bestMean())
                    + ", \"bestStd\": " + jsonNumber(result.bestStd())
                    + ", \"finalLossMean\": " + jsonNumber(result.finalLossMean())
                    + ", \"imagesPerSecondMean\": " + jsonNumber(result.imagesPerSecondMean())
                    + ", \"accuracyPerEpochMean\": " + jsonArray(result.accuracyPerEpochMean())
                    + ", \"runs\": " + runs + "}");
        }
        return activations.toString();
    }

    /** Long format, one line per activation, run and epoch: easy to load into any plotting tool. */
    public static String toCsv(List<ActivationResult> results) {
        StringBuilder csv = new StringBuilder("activation,run,epoch,train_loss,test_accuracy\n");
        for (ActivationResult result : results) {
            for (int run = 0; run < result.runs().size(); run++) {
                Trainer.History history = result.runs().get(run);
                for (int epoch = 0; epoch < history.testAccuracy().length; epoch++) {
                    csv.append(String.format(Locale.ROOT, "%s,%d,%d,%.6f,%.4f%n", result.activation(), run + 1,
                            epoch + 1, history.trainLoss()[epoch], history.testAccuracy()[epoch]));
                }
            }
        }
        return csv.toString();
    }

    /** Mean test accuracy per epoch, one line per activation, as a PNG at exactly {@code file}. */
    public static void writeChart(List<ActivationResult> results, String title, Path file) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("epoch")
                .yAxisTitle("test accuracy (%)").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisDecimalPattern("0");
        for (ActivationResult result : results) {
            double[] accuracy = result.accuracyPerEpochMean();
            double[] epochs = new double[accuracy.length];
            for (int i = 0; i < epochs.length; i++) {
                epochs[i] = i + 1;
            }
            chart.addSeries(result.activation(), epochs, accuracy).setMarker(SeriesMarkers.CIRCLE);
        }
        // Through a stream: saveBitmap(chart, name, format) appends ".png" to names that lack it.
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static String jsonArray(double[] values) {
        StringJoiner array = new StringJoiner(", ", "[", "]");
        for (double value : values) {
            array.add(jsonNumber(value));
        }
        return array.toString();
    }

    /** JSON has no NaN or infinity (a diverged loss): those become null. */
    private static String jsonNumber(double value) {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.6g", value) : "null";
    }

    private static String jsonString(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
