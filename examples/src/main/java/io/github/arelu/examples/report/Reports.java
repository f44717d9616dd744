package io.github.arelu.examples.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

import javax.imageio.ImageIO;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.github.arelu.examples.train.AReLUTrajectory;
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

    /**
     * Makes {@code out} if needed and writes a command's tables into it: {@code table.md}, {@code results.json}
     * and {@code results.csv}, the files every command's {@code --out} holds.
     */
    public static void writeTables(Path out, String markdown, String json, String csv) throws IOException {
        Files.createDirectories(out);
        Files.writeString(out.resolve("table.md"), markdown);
        Files.writeString(out.resolve("results.json"), json);
        Files.writeString(out.resolve("results.csv"), csv);
    }

    private Reports() {
    }

    /**
     * One row per activation: first-epoch and best test accuracy (mean +- std), final loss, speed. The first
     * column is as wide as the longest name ("AReLU-channelwise"), so the columns stay aligned.
     */
    public static void printTable(List<ActivationResult> results, PrintWriter out) {
        int width = Math.max("activation".length(),
                results.stream().mapToInt(result -> result.activation().length()).max().orElse(0));
        out.printf(Locale.ROOT, "%-" + width + "s | %-17s | %-17s | %-10s | %-7s | %s%n", "activation",
                "1st epoch acc (%)", "best acc (%)", "final loss", "img/s", "time (s)");
        out.println("-".repeat(width) + "-+-" + "-".repeat(17) + "-+-" + "-".repeat(17) + "-+-" + "-".repeat(10)
                + "-+-" + "-".repeat(7) + "-+-" + "-".repeat(8));
        for (ActivationResult result : results) {
            out.printf(Locale.ROOT, "%-" + width + "s | %7.2f +- %-6.2f | %7.2f +- %-6.2f | %-10.4f | %7.0f | %.1f%n",
                    result.activation(), result.firstEpochMean(), result.firstEpochStd(), result.bestMean(),
                    result.bestStd(), result.finalLossMean(), result.imagesPerSecondMean(), result.secondsTotal());
        }
    }

    /**
     * {@code {"setup": ..., "activations": {NAME: {...}}}}, as the other commands' results: the setup in words (data,
     * network, optimizer, batch, runs and their seeds, learning rate, epochs), then per activation
     * {@code firstEpochMean}, {@code firstEpochStd}, {@code bestMean}, {@code bestStd}, {@code finalLossMean},
     * {@code imagesPerSecondMean} (training throughput), {@code accuracyPerEpochMean}, {@code accuracyPerEpochStd}
     * and the per-run histories.
     */
    public static String toJson(String setup, List<ActivationResult> results) {
        return Json.document(setup, activationsJson(results));
    }

    /** {@link #toJson}'s activations object, to nest in a larger document. */
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
                if (!run.parameters().isEmpty()) {
                    history.add("parameters", parametersJson(run.parameters()));
                }
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

    /**
     * Per AReLU layer: {@code layer}, {@code channels}, and for {@code alpha} and {@code beta} the arrays
     * {@code mean}, {@code min} and {@code max}, for alpha also {@code outsideClamp} (index 0 at the start, e
     * after epoch e).
     */
    static JsonArray parametersJson(List<AReLUTrajectory> trajectories) {
        JsonArray layers = new JsonArray();
        for (AReLUTrajectory trajectory : trajectories) {
            JsonObject layer = new JsonObject();
            layer.addProperty("layer", trajectory.layer());
            layer.addProperty("channels", trajectory.channels());
            JsonObject alpha = summariesJson(trajectory.alpha());
            alpha.add("outsideClamp", Json.array(trajectory.alpha().stream()
                    .mapToDouble(AReLUTrajectory.Summary::outsideClamp).toArray()));
            layer.add("alpha", alpha);
            layer.add("beta", summariesJson(trajectory.beta()));
            layers.add(layer);
        }
        return layers;
    }

    private static JsonObject summariesJson(List<AReLUTrajectory.Summary> summaries) {
        JsonObject json = new JsonObject();
        json.add("mean", Json.array(summaries.stream().mapToDouble(AReLUTrajectory.Summary::mean).toArray()));
        json.add("min", Json.array(summaries.stream().mapToDouble(AReLUTrajectory.Summary::min).toArray()));
        json.add("max", Json.array(summaries.stream().mapToDouble(AReLUTrajectory.Summary::max).toArray()));
        return json;
    }

    /**
     * The AReLU layers' parameters in long format, one line per activation, run, epoch (0: the start), layer
     * and parameter (alpha or beta): mean, min and max over the layer's channels (the value itself for scalar
     * AReLU) and, for alpha, the fraction of them outside AReLU's clamp [0.01, 0.99] (empty for beta). Only the
     * header for runs without AReLU.
     */
    public static String toParameterCsv(List<ActivationResult> results) {
        StringBuilder csv = new StringBuilder("activation,run,epoch,layer,channels,parameter,mean,min,max,"
                + "outside_clamp\n");
        for (ActivationResult result : results) {
            for (int run = 0; run < result.runs().size(); run++) {
                for (AReLUTrajectory trajectory : result.runs().get(run).parameters()) {
                    for (int epoch = 0; epoch < trajectory.alpha().size(); epoch++) {
                        for (String name : new String[] {"alpha", "beta"}) {
                            AReLUTrajectory.Summary summary = (name.equals("alpha") ? trajectory.alpha()
                                    : trajectory.beta()).get(epoch);
                            csv.append(String.format(Locale.ROOT, "%s,%d,%d,%s,%d,%s,%.8g,%.8g,%.8g,%s%n",
                                    result.activation(), run + 1, epoch, trajectory.layer(), trajectory.channels(),
                                    name, summary.mean(), summary.min(), summary.max(),
                                    Double.isNaN(summary.outsideClamp()) ? ""
                                    : String.format(Locale.ROOT, "%.6f", summary.outsideClamp())));
                        }
                    }
                }
            }
        }
        return csv.toString();
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

    /**
     * The AReLU layers' parameters against epoch (0: the start), averaged over runs: one row of three panels
     * per activation that has AReLU layers (raw alpha with the clamp's bounds, beta, and the fraction of alphas
     * outside the clamp), one line per layer; for channel-wise AReLU the values are means over channels. Runs
     * without recorded parameters are left out. A PNG at exactly {@code file}.
     *
     * @throws IllegalArgumentException when no result has AReLU layers
     */
    public static void writeParameterChart(List<ActivationResult> results, String title, Path file)
            throws IOException {
        // Only the runs that recorded parameters: a resumed learning-rate table may hold older runs without them.
        List<ActivationResult> withAReLU = results.stream().map(result -> new ActivationResult(result.activation(),
                result.runs().stream().filter(run -> !run.parameters().isEmpty()).toList()))
                .filter(result -> !result.runs().isEmpty()).toList();
        if (withAReLU.isEmpty()) {
            throw new IllegalArgumentException("no AReLU layers to plot: none of " + results.stream()
                    .map(ActivationResult::activation).toList() + " is AReLU");
        }
        int width = 640;
        int height = 420;
        int titleHeight = 40;
        BufferedImage image = new BufferedImage(3 * width, titleHeight + withAReLU.size() * height,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        graphics.setColor(Color.WHITE);
        graphics.fillRect(0, 0, image.getWidth(), image.getHeight());
        graphics.setColor(Color.BLACK);
        graphics.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        graphics.setFont(graphics.getFont().deriveFont(Font.BOLD, 18f));
        graphics.drawString(title, 12, 27);
        for (int row = 0; row < withAReLU.size(); row++) {
            ActivationResult result = withAReLU.get(row);
            String suffix = result.runs().size() > 1 ? ", mean of " + result.runs().size() + " runs" : "";
            XYChart[] panels = {
                parameterPanel(result, "alpha" + suffix, "raw alpha", AReLUTrajectory::alpha,
                        AReLUTrajectory.Summary::mean, width, height),
                parameterPanel(result, "beta" + suffix, "beta", AReLUTrajectory::beta,
                        AReLUTrajectory.Summary::mean, width, height),
                parameterPanel(result, "alphas outside [0.01, 0.99]" + suffix, "fraction", AReLUTrajectory::alpha,
                        AReLUTrajectory.Summary::outsideClamp, width, height)};
            panels[2].getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setYAxisDecimalPattern("0.00");
            for (double bound : new double[] {AReLUTrajectory.CLAMP_LOW, AReLUTrajectory.CLAMP_HIGH}) {
                int epochs = result.runs().get(0).parameters().get(0).alpha().size();
                XYSeries clamp = panels[0].addSeries("clamp " + bound, new double[] {0, epochs - 1},
                        new double[] {bound, bound});
                clamp.setMarker(SeriesMarkers.NONE);
                clamp.setLineColor(Color.GRAY);
                clamp.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10,
                        new float[] {6, 4}, 0));
                clamp.setShowInLegend(false);
            }
            for (int column = 0; column < panels.length; column++) {
                graphics.drawImage(BitmapEncoder.getBufferedImage(panels[column]), column * width,
                        titleHeight + row * height, null);
            }
        }
        graphics.dispose();
        try (OutputStream out = Files.newOutputStream(file)) {
            ImageIO.write(image, "png", out);
        }
    }

    /** One line per layer of {@code statistic} of a parameter against epoch, averaged over the runs. */
    private static XYChart parameterPanel(ActivationResult result, String panelTitle, String yTitle,
            Function<AReLUTrajectory, List<AReLUTrajectory.Summary>> parameter,
            ToDoubleFunction<AReLUTrajectory.Summary> statistic, int width, int height) {
        XYChart chart = new XYChartBuilder().width(width).height(height).title(result.activation() + ": "
                + panelTitle).xAxisTitle("epoch").yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisDecimalPattern("0");
        chart.getStyler().setLegendFont(chart.getStyler().getLegendFont().deriveFont(10f));
        List<AReLUTrajectory> firstRun = result.runs().get(0).parameters();
        for (int layer = 0; layer < firstRun.size(); layer++) {
            int points = parameter.apply(firstRun.get(layer)).size();
            double[] epochs = new double[points];
            double[] values = new double[points];
            for (int epoch = 0; epoch < points; epoch++) {
                epochs[epoch] = epoch;
                double[] overRuns = new double[result.runs().size()];
                for (int run = 0; run < overRuns.length; run++) {
                    overRuns[run] = statistic.applyAsDouble(parameter.apply(result.runs().get(run).parameters()
                            .get(layer)).get(epoch));
                }
                values[epoch] = Statistics.mean(overRuns);
            }
            XYSeries line = chart.addSeries(firstRun.get(layer).layer(), epochs, values);
            line.setMarker(points > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        }
        return chart;
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
