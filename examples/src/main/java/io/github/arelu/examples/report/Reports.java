package io.github.arelu.examples.report;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.github.arelu.examples.train.Trainer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The commands' outputs: console table, JSON, CSV, and PNG charts of means with std bands. Accuracies are percentages.
 */
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
     * throughput), {@code accuracyPerEpochMean}, {@code accuracyPerEpochStd} and the per-run histories.
     */
    public static String toJson(List<ActivationResult> results) {
        return Json.write(activationsJson(results));
    }

    /** {@link #toJson}'s object, to nest in a larger document. */
    static JsonObject activationsJson(List<ActivationResult> results) {
        JsonObject activations = new JsonObject();
        for (ActivationResult result : results) {
            JsonArray runs = new JsonArray();
            for (Trainer.History run : result.runs()) {
                JsonObject history = new JsonObject();
                history.add("testAccuracy", Json.array(run.testAccuracy()));
                history.add("trainLoss", Json.array(run.trainLoss()));
                history.add("imagesPerSecond", Json.number(run.imagesPerSecond()));
                history.add("seconds", Json.number(run.seconds()));
                runs.add(history);
            }
            JsonObject summary = new JsonObject();
            summary.add("firstEpochMean", Json.number(result.firstEpochMean()));
            summary.add("firstEpochStd", Json.number(result.firstEpochStd()));
            summary.add("bestMean", Json.number(result.bestMean()));
            summary.add("bestStd", Json.number(result.bestStd()));
            summary.add("finalLossMean", Json.number(result.finalLossMean()));
            summary.add("imagesPerSecondMean", Json.number(result.imagesPerSecondMean()));
            summary.add("accuracyPerEpochMean", Json.array(result.accuracyPerEpochMean()));
            summary.add("accuracyPerEpochStd", Json.array(result.accuracyPerEpochStd()));
            summary.add("runs", runs);
            activations.add(result.activation(), summary);
        }
        return activations;
    }

    /** Long format, one line per activation, run and epoch: easy to load into any plotting tool. */
    public static String toCsv(List<ActivationResult> results) {
        StringBuilder csv = new StringBuilder("activation,run,epoch,train_loss,test_accuracy\n");
        appendCsvRows(csv, "", results);
        return csv.toString();
    }

    /** The rows of {@link #toCsv}, each after {@code prefix} (leading columns of the caller's own, or ""). */
    static void appendCsvRows(StringBuilder csv, String prefix, List<ActivationResult> results) {
        for (ActivationResult result : results) {
            for (int run = 0; run < result.runs().size(); run++) {
                Trainer.History history = result.runs().get(run);
                for (int epoch = 0; epoch < history.testAccuracy().length; epoch++) {
                    csv.append(prefix).append(String.format(Locale.ROOT, "%s,%d,%d,%.6f,%.4f%n", result.activation(),
                            run + 1, epoch + 1, history.trainLoss()[epoch], history.testAccuracy()[epoch]));
                }
            }
        }
    }

    /**
     * Mean test accuracy per epoch, one line per activation with a band of one standard deviation over runs
     * around it, as a PNG at exactly {@code file}.
     */
    public static void writeChart(List<ActivationResult> results, String title, Path file) throws IOException {
        List<Band> bands = new ArrayList<>();
        for (ActivationResult result : results) {
            double[] accuracy = result.accuracyPerEpochMean();
            bands.add(new Band(result.activation(), oneBased(accuracy.length), accuracy, result.accuracyPerEpochStd()));
        }
        writeBandChart(title, "epoch", "test accuracy (%)", bands, file);
    }

    /**
     * One curve of a {@link #writeBandChart band chart}: {@code mean} at {@code x}, shaded {@code +- std}.
     *
     * @throws IllegalArgumentException when the three arrays differ in length
     */
    public record Band(String name, double[] x, double[] mean, double[] std) {
        public Band {
            if (x.length != mean.length || x.length != std.length) {
                throw new IllegalArgumentException(name + ": " + x.length + " x values, " + mean.length
                        + " means and " + std.length + " standard deviations");
            }
        }
    }

    /**
     * A line per band through its means, with markers up to 40 points, and the area between mean - std and
     * mean + std shaded in the line's colour (left out where every std is 0, e.g. a single run), as a PNG at
     * exactly {@code file}.
     */
    public static void writeBandChart(String title, String xTitle, String yTitle, List<Band> bands, Path file)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisDecimalPattern("0");
        Color[] palette = chart.getStyler().getSeriesColors();
        for (int i = 0; i < bands.size(); i++) {
            Band band = bands.get(i);
            Color color = palette[i % palette.length];
            if (Arrays.stream(band.std()).anyMatch(std -> std > 0)) {
                addShadedBand(chart, band, new Color(color.getRed(), color.getGreen(), color.getBlue(), 48));
            }
            XYSeries line = chart.addSeries(band.name(), band.x(), band.mean());
            line.setMarker(band.x().length > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
            line.setLineColor(color);
            line.setMarkerColor(color);
        }
        // Through a stream: saveBitmap(chart, name, format) appends ".png" to names that lack it.
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    /** The band as one closed polygon: along mean + std forwards, back along mean - std. */
    private static void addShadedBand(XYChart chart, Band band, Color fill) {
        int n = band.x().length;
        double[] xs = new double[2 * n];
        double[] ys = new double[2 * n];
        for (int i = 0; i < n; i++) {
            xs[i] = band.x()[i];
            ys[i] = band.mean()[i] + band.std()[i];
            xs[2 * n - 1 - i] = band.x()[i];
            ys[2 * n - 1 - i] = band.mean()[i] - band.std()[i];
        }
        XYSeries area = chart.addSeries(band.name() + " +- std", xs, ys);
        area.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
        area.setMarker(SeriesMarkers.NONE);
        area.setFillColor(fill);
        area.setLineColor(fill);
        area.setShowInLegend(false);
    }

    /** {@code 1, 2, ..., count}: epochs or iterations as a chart's x values. */
    public static double[] oneBased(int count) {
        double[] values = new double[count];
        for (int i = 0; i < count; i++) {
            values[i] = i + 1;
        }
        return values;
    }
}
