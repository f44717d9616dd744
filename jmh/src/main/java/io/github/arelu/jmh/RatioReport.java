package io.github.arelu.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Reads JMH's CSV results and prints, as Markdown, the timing table, the ratios the project's speed targets
 * are stated in (each with its target per size and whether this run met it), the autograd node's per-call
 * cost, and the training-step ratios of {@link TrainingStepBenchmark}. Every ratio comes from one run.
 */
public final class RatioReport {

    /** A ratio numerator / denominator; {@code limits} by size (absent: no target, shown for scale). */
    private record Target(String name, String numerator, String denominator, Map<Integer, Double> limits) {
    }

    private static final List<Target> TARGETS = List.of(
            new Target("AReLU module fwd+bwd / ReLU fwd+bwd", "fwdBwdModule", "fwdBwdRelu",
                    Map.of(65536, 2.0, 1048576, 1.3, 16777216, 1.3)),
            new Target("fused kernels fwd+bwd / ReLU fwd+bwd", "fwdBwdKernels", "fwdBwdRelu", Map.of()),
            new Target("composed (reference formula) fwd+bwd / ReLU fwd+bwd", "fwdBwdComposed", "fwdBwdRelu",
                    Map.of()),
            new Target("PReLU fwd+bwd / ReLU fwd+bwd", "fwdBwdPrelu", "fwdBwdRelu", Map.of()),
            new Target("AReLU module forward, no grad / ReLU forward", "fwdModule", "fwdRelu", Map.of()),
            new Target("caches cold: AReLU module fwd+bwd / ReLU fwd+bwd (each after a multiply)", "coldFwdBwdModule",
                    "coldFwdBwdRelu", Map.of()));

    /** End to end: AReLU's images/s at least this fraction of ReLU's. */
    private static final double STEP_TARGET = 0.97;

    private RatioReport() {
    }

    public static void main(String[] args) throws IOException {
        Path csv = Path.of(args.length > 0 ? args[0] : "jmh/target/results.csv");
        // benchmark -> size -> {microseconds, error}; benchmarks without a size (the training step) apart
        Map<String, Map<Integer, double[]>> table = new LinkedHashMap<>();
        // the training steps: their parameters ("threads 2, oneDnn true") -> benchmark or counter -> score
        Map<String, Map<String, Double>> steps = new LinkedHashMap<>();
        TreeSet<Integer> sizes = new TreeSet<>();
        List<String> lines = Files.readAllLines(csv);
        List<String> header = split(lines.get(0));
        int nameCol = header.indexOf("Benchmark");
        int scoreCol = header.indexOf("Score");
        int errorCol = header.indexOf("Score Error (99.9%)");
        int sizeCol = header.indexOf("Param: size");
        for (String line : lines.subList(1, lines.size())) {
            List<String> cells = split(line);
            String name = cells.get(nameCol).substring(cells.get(nameCol).lastIndexOf('.') + 1);
            double score = Double.parseDouble(cells.get(scoreCol));
            if (sizeCol < 0 || cells.get(sizeCol).isEmpty()) {
                steps.computeIfAbsent(parameters(header, cells), k -> new LinkedHashMap<>()).put(name, score);
                continue;
            }
            int size = Integer.parseInt(cells.get(sizeCol));
            sizes.add(size);
            table.computeIfAbsent(name, k -> new LinkedHashMap<>()).put(size, new double[] {
                score, parseOrNaN(cells.get(errorCol))});
        }
        StringBuilder out = new StringBuilder();
        if (!sizes.isEmpty()) {
            out.append(sizeTables(table, sizes));
        }
        String stepTables = stepTable(steps, "ConvMNIST", "reluAreluPreluSteps",
                new String[] {"ReLU", "AReLU", "PReLU"}, new String[] {"reluMs", "areluMs", "preluMs"}, false)
                + stepTable(steps, "ResNet", "resnetReluAreluChannelwiseSteps",
                        new String[] {"ReLU", "AReLU", "AReLU-channelwise"},
                        new String[] {"resnetReluMs", "resnetAreluMs", "resnetAreluChannelwiseMs"}, true);
        if (!stepTables.isEmpty()) {
            out.append(sizes.isEmpty() ? "" : "\n").append(stepTables);
        }
        System.out.print(out);
    }

    private static String sizeTables(Map<String, Map<Integer, double[]>> table, TreeSet<Integer> sizes) {
        StringBuilder out = new StringBuilder("| benchmark (us/op, +- 99.9% error) |");
        sizes.forEach(s -> out.append(' ').append(s).append(" |"));
        out.append("\n|---|").append("---:|".repeat(sizes.size())).append('\n');
        table.forEach((name, bySize) -> {
            out.append("| ").append(name).append(" |");
            for (int size : sizes) {
                double[] v = bySize.get(size);
                out.append(v == null ? " - |" : String.format(" %.1f +- %.1f |", v[0], v[1]));
            }
            out.append('\n');
        });

        out.append("\n| ratio (same run) |");
        sizes.forEach(s -> out.append(' ').append(s).append(" |"));
        out.append("\n|---|").append("---:|".repeat(sizes.size())).append('\n');
        for (Target t : TARGETS) {
            out.append("| ").append(t.name()).append(" |");
            for (int size : sizes) {
                double[] n = table.getOrDefault(t.numerator(), Map.of()).get(size);
                double[] d = table.getOrDefault(t.denominator(), Map.of()).get(size);
                if (n == null || d == null) {
                    out.append(" - |");
                    continue;
                }
                double ratio = n[0] / d[0];
                Double limit = t.limits().get(size);
                out.append(String.format(" %.2f", ratio));
                if (limit != null) {
                    out.append(String.format(" (<= %.1f: %s)", limit, ratio <= limit ? "met" : "missed"));
                }
                out.append(" |");
            }
            out.append('\n');
        }

        out.append("| autograd node per call: module - kernels (us) |");
        for (int size : sizes) {
            double[] module = table.getOrDefault("fwdBwdModule", Map.of()).get(size);
            double[] kernels = table.getOrDefault("fwdBwdKernels", Map.of()).get(size);
            out.append(module == null || kernels == null ? " - |"
                    : String.format(" %.1f |", module[0] - kernels[0]));
        }
        out.append('\n');
        return out.toString();
    }

    /**
     * One of {@link TrainingStepBenchmark}'s interleaved steps, a row per run's parameters: its score is the time
     * of one invocation (one step of each network), its counters each network's summed milliseconds, so a
     * network's share of the counters splits the score and the counters' ratio is the images/s ratio. AReLU is
     * held to the target; the third activation too when {@code thirdHeld} (the channel-wise AReLU), else it is
     * shown for scale (PReLU).
     *
     * @param names ReLU, AReLU and the third activation
     * @param counters their counters, in the same order
     */
    private static String stepTable(Map<String, Map<String, Double>> steps, String network, String benchmark,
            String[] names, String[] counters, boolean thirdHeld) {
        StringBuilder rows = new StringBuilder();
        for (Map.Entry<String, Map<String, Double>> run : steps.entrySet()) {
            Map<String, Double> scores = run.getValue();
            Double invocation = scores.get(benchmark);
            Double relu = scores.get(benchmark + ":" + counters[0]);
            Double arelu = scores.get(benchmark + ":" + counters[1]);
            Double third = scores.get(benchmark + ":" + counters[2]);
            if (invocation == null || relu == null || arelu == null || third == null) {
                continue;
            }
            double total = relu + arelu + third;
            rows.append(String.format(Locale.ROOT, "| %s | %.2f / %.2f / %.2f | %s | %s |%n",
                    run.getKey().isEmpty() ? "-" : run.getKey(), invocation * relu / total,
                    invocation * arelu / total, invocation * third / total, ratio(relu / arelu, true),
                    ratio(relu / third, thirdHeld)));
        }
        if (rows.isEmpty()) {
            return "";
        }
        return String.format("| %s training step, batch 128 (interleaved) | ms per step: %s / %s / %s "
                + "| %s images/s / ReLU's | %s images/s / ReLU's |%n|---|---|---:|---:|%n", network, names[0],
                names[1], names[2], names[1], names[2]) + rows + "\n";
    }

    /** An images/s ratio, with the step target and whether it was met where it applies. */
    private static String ratio(double value, boolean held) {
        return held ? String.format(Locale.ROOT, "%.3f (>= %.2f: %s)", value, STEP_TARGET,
                value >= STEP_TARGET ? "met" : "missed") : String.format(Locale.ROOT, "%.3f", value);
    }

    /** The run's JMH parameters other than the size, as "threads 2, oneDnn true"; empty without any. */
    private static String parameters(List<String> header, List<String> cells) {
        StringBuilder label = new StringBuilder();
        for (int i = 0; i < header.size(); i++) {
            String column = header.get(i);
            if (column.startsWith("Param: ") && !column.equals("Param: size") && i < cells.size()
                    && !cells.get(i).isEmpty()) {
                label.append(label.isEmpty() ? "" : ", ").append(column.substring(7)).append(' ').append(cells.get(i));
            }
        }
        return label.toString();
    }

    private static double parseOrNaN(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static List<String> split(String line) {
        return java.util.Arrays.stream(line.split(",", -1)).map(c -> c.replace("\"", "")).toList();
    }
}
