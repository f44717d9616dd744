package io.github.arelu.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** What RatioReport reads from JMH's CSV files (in the forms JMH 1.37 writes them) and the verdicts it prints. */
class RatioReportTest {

    private static final String HEADER =
            "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\",\"Param: size\","
                    + "\"Param: threads\"";
    private static final String PREFIX = "\"io.github.arelu.jmh.AReLUBenchmark.";

    private static String row(String benchmark, String mode, String score, String unit, int size, int threads) {
        return PREFIX + benchmark + "\",\"" + mode + "\",1,8," + score + ",1.0,\"" + unit + "\"," + size + ","
                + threads;
    }

    /** The table line that starts with {@code label}, or fails. */
    private static String line(String report, String label) {
        return report.lines().filter(l -> l.startsWith("| " + label)).findFirst()
                .orElseThrow(() -> new AssertionError("no line \"" + label + "\" in:\n" + report));
    }

    @Test
    void eachSetOfParametersGetsItsOwnRatios() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdModule", "avgt", "90.0", "us/op", 65536, 1),
                row("fwdBwdRelu", "avgt", "30.0", "us/op", 65536, 1),
                row("fwdBwdModule", "avgt", "50.0", "us/op", 65536, 2),
                row("fwdBwdRelu", "avgt", "30.0", "us/op", 65536, 2)));
        assertTrue(report.contains("**threads 1**") && report.contains("**threads 2**"), report);
        int threads2 = report.indexOf("**threads 2**");
        String first = report.substring(0, threads2);
        String second = report.substring(threads2);
        assertTrue(line(first, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf").contains("3.00 (<= 2.0: missed)"), first);
        assertTrue(line(second, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf").contains("1.67 (<= 2.0: met)"), second);
        assertTrue(line(first, "autograd node per call").contains(" - |"), "no kernels row, no node figure");
    }

    @Test
    void otherModesAndProfilersFiguresStayOutOfTheRatios() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdModule", "avgt", "50.0", "us/op", 65536, 2),
                row("fwdBwdModule", "ss", "900.0", "us/op", 65536, 2),
                row("fwdBwdModule:gc.alloc.rate", "avgt", "1234.5", "MB/sec", 65536, 2),
                row("fwdBwdRelu", "avgt", "30.0", "us/op", 65536, 2),
                row("fwdBwdRelu", "thrpt", "0.05", "ops/us", 65536, 2),
                row("fwdBwdKernels", "avgt", "20.0", "us/op", 65536, 2)));
        assertTrue(line(report, "fwdBwdModule |").contains("50.0 +- 1.0"), report);
        assertFalse(report.contains("rate") || report.contains("1234.5") || report.contains("900"), report);
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf").contains("1.67 (<= 2.0: met)"), report);
        assertTrue(line(report, "autograd node per call").contains(" 30.0 |"), report);
        assertTrue(report.contains("(3 of 6 rows not in these tables"), report);
    }

    /** A JVM in a German locale writes "Score Error (99,9%)" and quoted scores with a decimal comma. */
    @Test
    void readsScoresWrittenWithADecimalComma() {
        String header = HEADER.replace("99.9%", "99,9%");
        String report = RatioReport.report(List.of(header,
                PREFIX + "fwdBwdModule\",\"avgt\",1,8,\"60,5\",\"2,25\",\"us/op\",65536,2",
                PREFIX + "fwdBwdRelu\",\"avgt\",1,8,\"24,2\",NaN,\"us/op\",65536,2"));
        assertTrue(line(report, "fwdBwdModule |").contains("60.5 +- 2.3"), report);
        assertTrue(line(report, "fwdBwdRelu |").contains("24.2 +- NaN"), report);
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf").contains("2.50 (<= 2.0: missed)"), report);
    }

    @Test
    void aVerdictIsPrintedWithTheDigitsThatShowIt() {
        assertEquals("2.004 (<= 2.0: missed)", RatioReport.verdict(2.004, 2, r -> r <= 2.0, "<= 2.0"));
        assertEquals("2.00 (<= 2.0: met)", RatioReport.verdict(2.0, 2, r -> r <= 2.0, "<= 2.0"));
        assertEquals("2.00 (<= 2.0: met)", RatioReport.verdict(1.996, 2, r -> r <= 2.0, "<= 2.0"));
        assertEquals("0.9696 (>= 0.97: missed)", RatioReport.verdict(0.9696, 3, r -> r >= 0.97, ">= 0.97"));
        assertEquals("0.981 (>= 0.97: met)", RatioReport.verdict(0.9812, 3, r -> r >= 0.97, ">= 0.97"));
        assertEquals("NaN (>= 0.97: missed)", RatioReport.verdict(Double.NaN, 3, r -> r >= 0.97, ">= 0.97"));
    }

    @Test
    void theChannelsLastBenchmarkGetsItsTable() {
        String header = "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\"";
        String prefix = "\"io.github.arelu.jmh.MemoryFormatBenchmark.";
        String report = RatioReport.report(List.of(header,
                prefix + "fwdBwdReluChannelsLast\",\"avgt\",1,10,200.0,5.0,\"us/op\"",
                prefix + "fwdBwdScalarChannelsLast\",\"avgt\",1,10,250.0,5.0,\"us/op\"",
                prefix + "fwdBwdChannelwiseChannelsLast\",\"avgt\",1,10,400.0,5.0,\"us/op\""));
        assertTrue(line(report, "fwdBwdScalarChannelsLast").endsWith("| 250.0 +- 5.0 | 1.25 |"), report);
        assertTrue(line(report, "fwdBwdChannelwiseChannelsLast").endsWith("| 400.0 +- 5.0 | 2.00 |"), report);
        assertFalse(report.contains("rows not in these tables"), report);
    }

    @Test
    void theTrainingStepSplitsItsTimeByTheCounters() {
        String header = "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\","
                + "\"Param: oneDnn\",\"Param: threads\"";
        String prefix = "\"io.github.arelu.jmh.TrainingStepBenchmark.reluAreluPreluSteps";
        String report = RatioReport.report(List.of(header,
                prefix + "\",\"avgt\",1,10,30.0,1.0,\"ms/op\",false,2",
                prefix + ":areluMs\",\"avgt\",1,10,1050.0,NaN,\"#\",false,2",
                prefix + ":preluMs\",\"avgt\",1,10,1000.0,NaN,\"#\",false,2",
                prefix + ":reluMs\",\"avgt\",1,10,950.0,NaN,\"#\",false,2"));
        // 30 ms per invocation split 950 : 1050 : 1000; ReLU's time over AReLU's is the images/s ratio.
        String row = line(report, "oneDnn false, threads 2");
        assertTrue(row.contains("9.50 / 10.50 / 10.00"), row);
        assertTrue(row.contains("0.905 (>= 0.97: missed)") && row.contains("| 0.950 |"), row);
    }
}
