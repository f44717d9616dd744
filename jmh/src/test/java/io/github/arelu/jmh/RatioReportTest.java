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

    /** Every ratio of the size table against the baseline it names, each of them different here. */
    @Test
    void eachRatioIsTakenAgainstItsOwnBaseline() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdRelu", "avgt", "10.0", "us/op", 65536, 2),
                row("fwdBwdReluActivation", "avgt", "12.0", "us/op", 65536, 2),
                row("fwdBwdModule", "avgt", "25.0", "us/op", 65536, 2),
                row("fwdBwdModuleActivation", "avgt", "18.0", "us/op", 65536, 2),
                row("fwdBwdKernels", "avgt", "14.0", "us/op", 65536, 2),
                row("fwdBwdComposed", "avgt", "50.0", "us/op", 65536, 2),
                row("fwdBwdPrelu", "avgt", "16.0", "us/op", 65536, 2),
                row("fwdRelu", "avgt", "4.0", "us/op", 65536, 2),
                row("fwdModule", "avgt", "9.0", "us/op", 65536, 2),
                row("fwdBwdActivationOnly", "avgt", "6.0", "us/op", 65536, 2),
                row("coldFwdBwdRelu", "avgt", "8.0", "us/op", 65536, 2),
                row("coldFwdBwdModule", "avgt", "11.0", "us/op", 65536, 2),
                row("coldBaseline", "avgt", "5.0", "us/op", 65536, 2)));
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf")
                .endsWith("| 2.50 (<= 2.0: missed) |"), report);
        // (18 - 6) / (12 - 6): the activation's own backward, in both, taken off both.
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, on an activation")
                .endsWith("| 2.00 (<= 2.0: met) |"), report);
        assertTrue(line(report, "fused kernels").endsWith("| 1.40 |"), report);
        assertTrue(line(report, "composed").endsWith("| 5.00 |"), report);
        assertTrue(line(report, "PReLU").endsWith("| 1.60 |"), report);
        assertTrue(line(report, "AReLU module forward, no grad").endsWith("| 2.25 |"), report);
        assertTrue(line(report, "caches cold").endsWith("| 2.00 |"), report); // (11 - 5) / (8 - 5)
        assertTrue(line(report, "autograd node per call").endsWith("| 11.0 |"), report);
        assertFalse(report.contains("**"), "one set of parameters needs no label:\n" + report);
    }

    /** A ratio that takes a baseline off is not shown without it: the plain quotient would be pulled toward 1. */
    @Test
    void aRatioWithoutItsBaselineIsNotShown() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdReluActivation", "avgt", "12.0", "us/op", 65536, 2),
                row("fwdBwdModuleActivation", "avgt", "18.0", "us/op", 65536, 2),
                row("coldFwdBwdRelu", "avgt", "8.0", "us/op", 65536, 2),
                row("coldFwdBwdModule", "avgt", "11.0", "us/op", 65536, 2)));
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, on an activation").endsWith("| - |"), report);
        assertTrue(line(report, "caches cold").endsWith("| - |"), report);
    }

    /** #19's targets: 2.0 at 64K elements, 1.3 from 1M on; a ratio on the limit meets it. */
    @Test
    void eachSizeIsHeldToItsOwnLimit() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdModule", "avgt", "60.0", "us/op", 65536, 2),
                row("fwdBwdRelu", "avgt", "30.0", "us/op", 65536, 2),
                row("fwdBwdModule", "avgt", "450.0", "us/op", 1048576, 2),
                row("fwdBwdRelu", "avgt", "300.0", "us/op", 1048576, 2),
                row("fwdBwdModule", "avgt", "13000.0", "us/op", 16777216, 2),
                row("fwdBwdRelu", "avgt", "10000.0", "us/op", 16777216, 2)));
        assertTrue(line(report, "AReLU module fwd+bwd / ReLU fwd+bwd, leaf")
                .endsWith("| 2.00 (<= 2.0: met) | 1.50 (<= 1.3: missed) | 1.30 (<= 1.3: met) |"), report);
    }

    /**
     * A run with another time unit ({@code -tu ns}) gets no table headed us/op; an operations counter (reported in
     * the primary result's unit) is not the benchmark's time.
     */
    @Test
    void onlyPrimaryResultsInMicrosecondsAreTabled() {
        String report = RatioReport.report(List.of(HEADER,
                row("fwdBwdModule", "avgt", "50000.0", "us/op", 65536, 2).replace("us/op", "ns/op"),
                row("fwdBwdRelu", "avgt", "30000.0", "us/op", 65536, 2).replace("us/op", "ns/op"),
                "\"io.github.arelu.jmh.MemoryFormatBenchmark.fwdBwdReluChannelsLast\",\"avgt\",1,10,200000.0,5.0,"
                        + "\"ns/op\",,2"));
        assertFalse(report.contains("| fwdBwd"), report);
        assertTrue(report.contains("(3 of 3 rows not in these tables"), report);

        report = RatioReport.report(List.of(HEADER,
                row("fwdBwdModule", "avgt", "50.0", "us/op", 65536, 2),
                row("fwdBwdModule:kernelCalls", "avgt", "0.5", "us/op", 65536, 2),
                row("fwdBwdRelu", "avgt", "30.0", "us/op", 65536, 2)));
        assertFalse(report.contains("kernelCalls"), report);
        assertTrue(report.contains("(1 of 3 rows not in these tables"), report);
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

    /**
     * A step run in another unit (jmh/run passes -tu us on to JMH) is left out: its score was printed under
     * "ms per step" as it was, microseconds included.
     */
    @Test
    void aTrainingStepInAnotherUnitIsLeftOut() {
        String header = "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\","
                + "\"Param: oneDnn\",\"Param: threads\"";
        String prefix = "\"io.github.arelu.jmh.TrainingStepBenchmark.reluAreluPreluSteps";
        String report = RatioReport.report(List.of(header,
                prefix + "\",\"avgt\",1,10,30000.0,1.0,\"us/op\",false,2",
                prefix + ":areluMs\",\"avgt\",1,10,1050.0,NaN,\"#\",false,2",
                prefix + ":preluMs\",\"avgt\",1,10,1000.0,NaN,\"#\",false,2",
                prefix + ":reluMs\",\"avgt\",1,10,950.0,NaN,\"#\",false,2"));
        assertFalse(report.contains("ConvMNIST training step"), report);
        assertTrue(report.contains("(4 of 4 rows not in these tables"), report);
    }

    /** The ResNet's third network, the channel-wise AReLU, is held to the target too; a ratio on it meets it. */
    @Test
    void theResNetStepHoldsBothAReLUsToTheTarget() {
        String header = "\"Benchmark\",\"Mode\",\"Threads\",\"Samples\",\"Score\",\"Score Error (99.9%)\",\"Unit\","
                + "\"Param: oneDnn\",\"Param: threads\"";
        String prefix = "\"io.github.arelu.jmh.TrainingStepBenchmark.resnetReluAreluChannelwiseSteps";
        String report = RatioReport.report(List.of(header,
                prefix + "\",\"avgt\",1,10,307.0,1.0,\"ms/op\",false,2",
                prefix + ":resnetAreluChannelwiseMs\",\"avgt\",1,10,1100.0,NaN,\"#\",false,2",
                prefix + ":resnetAreluMs\",\"avgt\",1,10,1000.0,NaN,\"#\",false,2",
                prefix + ":resnetReluMs\",\"avgt\",1,10,970.0,NaN,\"#\",false,2"));
        assertTrue(line(report, "ResNet training step").contains("ReLU / AReLU / AReLU-channelwise"), report);
        String row = line(report, "oneDnn false, threads 2");
        assertTrue(row.contains("| 97.00 / 100.00 / 110.00 |"), row);
        assertTrue(row.endsWith("| 0.970 (>= 0.97: met) | 0.882 (>= 0.97: missed) |"), row);
        assertFalse(report.contains("rows not in these tables"), report);
    }
}
