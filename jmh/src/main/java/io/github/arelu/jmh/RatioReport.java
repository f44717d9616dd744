package io.github.arelu.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Reads JMH's CSV results and prints the timing table and the ratios the project's speed targets are
 * stated in, each with its target and whether this run met it. All ratios come from one run.
 */
public final class RatioReport {

    private record Target(String name, String numerator, String denominator, double limit, boolean atMost) {
    }

    private static final List<Target> TARGETS = List.of(
            new Target("fused forward / ReLU forward", "fwdFused", "fwdRelu", 1.1, true),
            new Target("fused forward into / ReLU forward into", "fwdFusedInto", "fwdReluInto", 1.1, true),
            new Target("fused backward / ReLU backward", "bwdFused", "bwdRelu", 1.3, true),
            new Target("fused backward into / ReLU backward into", "bwdFusedInto", "bwdReluInto", 1.3, true),
            new Target("copy into / fused forward into (bandwidth share)", "fwdCopyInto", "fwdFusedInto", 0.7, false),
            new Target("composed fwd+bwd / ReLU fwd+bwd", "fwdBwdComposed", "fwdBwdRelu", 2.3, true),
            new Target("reference fwd+bwd / ReLU fwd+bwd (for scale)", "fwdBwdReference", "fwdBwdRelu",
                    Double.POSITIVE_INFINITY, true),
            new Target("PReLU fwd+bwd / ReLU fwd+bwd (for scale)", "fwdBwdPrelu", "fwdBwdRelu",
                    Double.POSITIVE_INFINITY, true));

    private RatioReport() {
    }

    public static void main(String[] args) throws IOException {
        Path csv = Path.of(args.length > 0 ? args[0] : "jmh/target/results.csv");
        // benchmark -> size -> microseconds
        Map<String, Map<Integer, double[]>> table = new LinkedHashMap<>();
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
            int size = Integer.parseInt(cells.get(sizeCol));
            sizes.add(size);
            table.computeIfAbsent(name, k -> new LinkedHashMap<>()).put(size, new double[] {
                Double.parseDouble(cells.get(scoreCol)), parseOrNaN(cells.get(errorCol))});
        }

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
        out.append("\n| ratio | target |");
        sizes.forEach(s -> out.append(' ').append(s).append(" |"));
        out.append("\n|---|---|").append("---:|".repeat(sizes.size())).append('\n');
        for (Target t : TARGETS) {
            out.append("| ").append(t.name()).append(" | ")
                    .append(Double.isInfinite(t.limit()) ? "-" : (t.atMost() ? "<= " : ">= ") + t.limit()).append(" |");
            for (int size : sizes) {
                double[] n = table.getOrDefault(t.numerator(), Map.of()).get(size);
                double[] d = table.getOrDefault(t.denominator(), Map.of()).get(size);
                if (n == null || d == null) {
                    out.append(" - |");
                    continue;
                }
                double ratio = n[0] / d[0];
                boolean met = t.atMost() ? ratio <= t.limit() : ratio >= t.limit();
                out.append(String.format(" %.2f%s |", ratio, Double.isInfinite(t.limit()) ? "" : met ? " ok" : " MISSED"));
            }
            out.append('\n');
        }
        System.out.print(out);
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
