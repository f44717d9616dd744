package io.github.arelu.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.DoublePredicate;

/**
 * Reads JMH's CSV results and prints, as Markdown, the timing table, the ratios the project's speed targets
 * are stated in (each with its target per size and whether this run met it), the autograd node's per-call
 * cost, the channels_last table of {@link MemoryFormatBenchmark} and the training-step ratios of
 * {@link TrainingStepBenchmark}. Every ratio comes from one run and one set of JMH parameters: rows are told
 * apart by benchmark, size and every other parameter, and only average times are compared (rows of other modes,
 * and profilers' secondary results, are counted and left out).
 */
public final class RatioReport {

    /**
     * A ratio numerator / denominator, or (numerator - baseline) / (denominator - baseline) where both benchmarks
     * also run work of the baseline's that is neither activation's (a shared part would pull the ratio toward 1);
     * {@code limits} by size (absent: no target, shown for scale).
     */
    private record Target(String name, String numerator, String denominator, String baseline,
            Map<Integer, Double> limits) {

        Target(String name, String numerator, String denominator, Map<Integer, Double> limits) {
            this(name, numerator, denominator, null, limits);
        }
    }

    /** #19's targets for the module's forward and backward against ReLU's. */
    private static final Map<Integer, Double> MODULE_LIMITS = Map.of(65536, 2.0, 1048576, 1.3, 16777216, 1.3);

    private static final List<Target> TARGETS = List.of(
            new Target("AReLU module fwd+bwd / ReLU fwd+bwd, leaf input (forward copies it)", "fwdBwdModule",
                    "fwdBwdRelu", MODULE_LIMITS),
            new Target("AReLU module fwd+bwd / ReLU fwd+bwd, on an activation (less the backward of the operation "
                    + "that made it, fwdBwdActivationOnly)", "fwdBwdModuleActivation", "fwdBwdReluActivation",
                    "fwdBwdActivationOnly", MODULE_LIMITS),
            new Target("fused kernels fwd+bwd / ReLU fwd+bwd", "fwdBwdKernels", "fwdBwdRelu", Map.of()),
            new Target("composed (reference formula) fwd+bwd / ReLU fwd+bwd", "fwdBwdComposed", "fwdBwdRelu",
                    Map.of()),
            new Target("PReLU fwd+bwd / ReLU fwd+bwd", "fwdBwdPrelu", "fwdBwdRelu", Map.of()),
            new Target("AReLU module forward, no grad / ReLU forward", "fwdModule", "fwdRelu", Map.of()),
            new Target("caches cold: AReLU module fwd+bwd / ReLU fwd+bwd (less the multiply before each, coldBaseline)",
                    "coldFwdBwdModule", "coldFwdBwdRelu", "coldBaseline", Map.of()));

    /** {@link MemoryFormatBenchmark}'s rows, each shown against ReLU's on the same channels_last tensor. */
    private static final List<String> MEMORY_FORMAT = List.of("fwdBwdReluChannelsLast", "fwdBwdScalarChannelsLast",
            "fwdBwdScalarViaContiguous", "fwdBwdChannelwiseChannelsLast", "fwdBwdChannelwiseViaContiguous");

    /** End to end: AReLU's images/s at least this fraction of ReLU's. */
    private static final double STEP_TARGET = 0.97;

    /** The mode and unit every ratio here is taken in. */
    private static final String MODE = "avgt";

    /**
     * One line of JMH's CSV.
     *
     * @param name the benchmark method's name, with {@code :label} for a secondary result (a counter, a
     *     profiler's figure)
     * @param setting the JMH parameters other than the size, as "threads 2, oneDnn true"
     * @param size the {@code size} parameter, or null without one
     */
    private record Row(String name, String mode, String unit, String setting, Integer size, double score,
            double error) {

        boolean secondary() {
            return name.indexOf(':') >= 0;
        }
    }

    private RatioReport() {
    }

    public static void main(String[] args) throws IOException {
        Path csv = Path.of(args.length > 0 ? args[0] : "jmh/target/results.csv");
        System.out.print(report(Files.readAllLines(csv)));
    }

    /** The report of one CSV file's lines, header first. */
    static String report(List<String> lines) {
        List<Row> rows = parse(lines);
        int used = 0;
        // setting -> benchmark -> size -> {microseconds, error}
        Map<String, Map<String, Map<Integer, double[]>>> sized = new LinkedHashMap<>();
        // setting -> benchmark or counter -> score: the training steps and MemoryFormatBenchmark
        Map<String, Map<String, Double>> unsized = new LinkedHashMap<>();
        Map<String, Map<String, double[]>> memoryFormat = new LinkedHashMap<>();
        for (Row row : rows) {
            if (!row.mode().equals(MODE)) {
                continue;
            }
            if (row.size() != null) {
                if (!row.secondary() && row.unit().equals("us/op")) {
                    sized.computeIfAbsent(row.setting(), k -> new LinkedHashMap<>())
                            .computeIfAbsent(row.name(), k -> new LinkedHashMap<>())
                            .put(row.size(), new double[] {row.score(), row.error()});
                    used++;
                }
            } else if (MEMORY_FORMAT.contains(row.name()) && row.unit().equals("us/op")) {
                memoryFormat.computeIfAbsent(row.setting(), k -> new LinkedHashMap<>())
                        .put(row.name(), new double[] {row.score(), row.error()});
                used++;
            } else if (row.secondary() || row.unit().equals("ms/op")) {
                // The step tables print the invocation's score as milliseconds; its counters are milliseconds by
                // construction, whatever unit JMH gives them.
                unsized.computeIfAbsent(row.setting(), k -> new LinkedHashMap<>()).put(row.name(), row.score());
            }
        }
        StringBuilder out = new StringBuilder();
        sized.forEach((setting, table) -> {
            out.append(out.isEmpty() ? "" : "\n");
            if (sized.size() > 1 && !setting.isEmpty()) {
                out.append("**").append(setting).append("**\n\n");
            }
            out.append(sizeTables(table));
        });
        memoryFormat.forEach((setting, table) -> out.append(out.isEmpty() ? "" : "\n")
                .append(memoryFormatTable(setting, table)));
        StringBuilder steps = new StringBuilder();
        used += stepTable(steps, unsized, "ConvMNIST", "reluAreluPreluSteps", new String[] {"ReLU", "AReLU", "PReLU"},
                new String[] {"reluMs", "areluMs", "preluMs"}, false);
        used += stepTable(steps, unsized, "ResNet", "resnetReluAreluChannelwiseSteps",
                new String[] {"ReLU", "AReLU", "AReLU-channelwise"},
                new String[] {"resnetReluMs", "resnetAreluMs", "resnetAreluChannelwiseMs"}, true);
        if (!steps.isEmpty()) {
            out.append(out.isEmpty() ? "" : "\n").append(steps);
        }
        int leftOut = rows.size() - used;
        if (leftOut > 0) {
            out.append(out.isEmpty() ? "" : "\n").append(String.format(Locale.ROOT, "(%d of %d rows not in these "
                    + "tables: other modes than average time, other units, profilers' secondary results, or "
                    + "benchmarks without a table here.)%n", leftOut, rows.size()));
        }
        return out.toString();
    }

    private static String sizeTables(Map<String, Map<Integer, double[]>> table) {
        TreeSet<Integer> sizes = new TreeSet<>();
        table.values().forEach(bySize -> sizes.addAll(bySize.keySet()));
        StringBuilder out = new StringBuilder("| benchmark (us/op, +- 99.9% error) |");
        sizes.forEach(s -> out.append(' ').append(s).append(" |"));
        out.append("\n|---|").append("---:|".repeat(sizes.size())).append('\n');
        table.forEach((name, bySize) -> {
            out.append("| ").append(name).append(" |");
            for (int size : sizes) {
                double[] v = bySize.get(size);
                out.append(v == null ? " - |" : String.format(Locale.ROOT, " %.1f +- %.1f |", v[0], v[1]));
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
                double[] b = t.baseline() == null ? new double[] {0.0}
                        : table.getOrDefault(t.baseline(), Map.of()).get(size);
                if (n == null || d == null || b == null) {
                    out.append(" - |");
                    continue;
                }
                double ratio = (n[0] - b[0]) / (d[0] - b[0]);
                Double limit = t.limits().get(size);
                if (limit == null) {
                    out.append(String.format(Locale.ROOT, " %.2f |", ratio));
                } else {
                    out.append(' ').append(verdict(ratio, 2, r -> r <= limit, "<= " + format(limit, 1))).append(" |");
                }
            }
            out.append('\n');
        }

        out.append("| autograd node per call: module - kernels, leaf input, forward's copy of it included (us) |");
        for (int size : sizes) {
            double[] module = table.getOrDefault("fwdBwdModule", Map.of()).get(size);
            double[] kernels = table.getOrDefault("fwdBwdKernels", Map.of()).get(size);
            out.append(module == null || kernels == null ? " - |"
                    : String.format(Locale.ROOT, " %.1f |", module[0] - kernels[0]));
        }
        out.append('\n');
        return out.toString();
    }

    /** {@link MemoryFormatBenchmark}: each row's time and its ratio to ReLU's on the same tensor. */
    private static String memoryFormatTable(String setting, Map<String, double[]> table) {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "| channels_last [32, 32, 32, 32]%s | us/op, +- 99.9%% error | / ReLU's |%n|---|---:|---:|%n",
                setting.isEmpty() ? "" : ", " + setting));
        double[] relu = table.get(MEMORY_FORMAT.get(0));
        for (String name : MEMORY_FORMAT) {
            double[] v = table.get(name);
            if (v != null) {
                out.append(String.format(Locale.ROOT, "| %s | %.1f +- %.1f | %s |%n", name, v[0], v[1],
                        relu == null ? "-" : String.format(Locale.ROOT, "%.2f", v[0] / relu[0])));
            }
        }
        return out.toString();
    }

    /**
     * One of {@link TrainingStepBenchmark}'s interleaved steps, a row per run's parameters: its score is the time
     * of one invocation (one step of each network), its counters each network's summed milliseconds, so a
     * network's share of the counters splits the score and the counters' ratio is the images/s ratio. AReLU is
     * held to the target; the third activation too when {@code thirdHeld} (the channel-wise AReLU), else it is
     * shown for scale (PReLU). Appends to {@code out}; returns how many CSV rows it used.
     *
     * @param names ReLU, AReLU and the third activation
     * @param counters their counters, in the same order
     */
    private static int stepTable(StringBuilder out, Map<String, Map<String, Double>> steps, String network,
            String benchmark, String[] names, String[] counters, boolean thirdHeld) {
        StringBuilder rows = new StringBuilder();
        int used = 0;
        for (Map.Entry<String, Map<String, Double>> run : steps.entrySet()) {
            Map<String, Double> scores = run.getValue();
            Double invocation = scores.get(benchmark);
            Double relu = scores.get(benchmark + ":" + counters[0]);
            Double arelu = scores.get(benchmark + ":" + counters[1]);
            Double third = scores.get(benchmark + ":" + counters[2]);
            if (invocation == null || relu == null || arelu == null || third == null) {
                continue;
            }
            used += 4;
            double total = relu + arelu + third;
            rows.append(String.format(Locale.ROOT, "| %s | %.2f / %.2f / %.2f | %s | %s |%n",
                    run.getKey().isEmpty() ? "-" : run.getKey(), invocation * relu / total,
                    invocation * arelu / total, invocation * third / total, stepRatio(relu / arelu, true),
                    stepRatio(relu / third, thirdHeld)));
        }
        if (!rows.isEmpty()) {
            out.append(String.format(Locale.ROOT, "| %s training step, batch 128 (interleaved) | ms per step: %s / %s / "
                    + "%s | %s images/s / ReLU's | %s images/s / ReLU's |%n|---|---|---:|---:|%n", network, names[0],
                    names[1], names[2], names[1], names[2])).append(rows).append('\n');
        }
        return used;
    }

    /** An images/s ratio, with the step target and whether it was met where it applies. */
    private static String stepRatio(double value, boolean held) {
        return held ? verdict(value, 3, r -> r >= STEP_TARGET, ">= " + format(STEP_TARGET, 2))
                : format(value, 3);
    }

    /**
     * A ratio with its target and whether it was met, printed with at least {@code digits} decimals and as many
     * more as it takes for the printed value to fall on the same side of the target as the value itself (so that
     * 2.004 is not printed "2.00 (<= 2.0: missed)").
     */
    static String verdict(double value, int digits, DoublePredicate met, String target) {
        boolean holds = met.test(value);
        String printed = format(value, digits);
        for (int d = digits + 1; d <= 9 && Double.isFinite(value) && met.test(Double.parseDouble(printed)) != holds;
                d++) {
            printed = format(value, d);
        }
        return printed + " (" + target + ": " + (holds ? "met" : "missed") + ")";
    }

    private static String format(double value, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f", value);
    }

    /** JMH's CSV: quoted fields, numbers in the JVM's locale (a decimal comma where that is the custom). */
    private static List<Row> parse(List<String> lines) {
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("the JMH results file is empty");
        }
        List<String> header = fields(lines.get(0));
        int nameCol = column(header, "Benchmark");
        int modeCol = column(header, "Mode");
        int scoreCol = column(header, "Score");
        int unitCol = column(header, "Unit");
        int errorCol = -1;
        for (int i = 0; i < header.size() && errorCol < 0; i++) {
            errorCol = header.get(i).startsWith("Score Error") ? i : -1;
        }
        int sizeCol = header.indexOf("Param: size");
        List<Row> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            List<String> cells = fields(line);
            String benchmark = cells.get(nameCol);
            int colon = benchmark.indexOf(':');
            String method = colon < 0 ? benchmark : benchmark.substring(0, colon);
            String name = method.substring(method.lastIndexOf('.') + 1) + (colon < 0 ? "" : benchmark.substring(colon));
            Integer size = sizeCol < 0 || sizeCol >= cells.size() || cells.get(sizeCol).isEmpty() ? null
                    : Integer.valueOf(cells.get(sizeCol));
            rows.add(new Row(name, cells.get(modeCol), cells.get(unitCol), parameters(header, cells), size,
                    number(cells.get(scoreCol)), errorCol < 0 ? Double.NaN : number(cells.get(errorCol))));
        }
        return rows;
    }

    private static int column(List<String> header, String name) {
        int i = header.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no column \"" + name + "\" in the JMH results' header " + header);
        }
        return i;
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

    /** A score or error; NaN for JMH's "NaN" and empty cells. */
    private static double number(String cell) {
        String s = cell.trim();
        if (s.indexOf('.') < 0) {
            s = s.replace(',', '.');
        }
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** The fields of one CSV line: separated by commas, quoted where they hold one, a doubled quote for a quote. */
    private static List<String> fields(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }
}
