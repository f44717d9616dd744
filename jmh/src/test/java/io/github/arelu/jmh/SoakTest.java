package io.github.arelu.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The units and differences in Soak's table. */
class SoakTest {

    @Test
    void aWindowsLineInTheTablesUnits() {
        String line = Soak.tableRow(500_000, 123.46, 3, 42, 250_000, 5_000_000_000L, 4_500_000_000L, 25_000,
                100_000_000L, new long[] {10, 100}, new long[] {14, 130});
        // 5 s over 250 000 calls, 4.5 s of CPU; ReLU's 0.1 s over its 25 000; 4 collections of 30 ms in the window.
        assertEquals("| 500,000 | 123.5 | 3 | 42 | 20.0 | 18.0 | 4.0 | 4 | 30 | 7.5 |" + System.lineSeparator(), line);
    }

    @Test
    void aWindowWithoutCollectionsHasNoPause() {
        String line = Soak.tableRow(250_000, 100, 0, 0, 250_000, 1_000_000_000L, 1_000_000_000L, 25_000,
                100_000_000L, new long[] {7, 70}, new long[] {7, 70});
        assertEquals("| 250,000 | 100.0 | 0 | 0 | 4.0 | 4.0 | 4.0 | 0 | 0 | 0.0 |" + System.lineSeparator(), line);
    }

    @Test
    void theResidentSetInMebibytes() {
        List<String> status = List.of("Name:\tjava", "VmPeak:\t 9000000 kB", "VmHWM:\t  300000 kB",
                "VmRSS:\t  262144 kB", "RssAnon:\t  200000 kB");
        assertEquals(256.0, Soak.residentMiB(status));
    }
}
