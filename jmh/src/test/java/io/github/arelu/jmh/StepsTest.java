package io.github.arelu.jmh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The quantiles and ratios Steps prints, from steps timed by a clock the test drives. */
class StepsTest {

    @Test
    void theQuantilesOfSortedSteps() {
        double[] even = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEquals(4.5, Steps.median(even));
        assertEquals(3, Steps.median(new double[] {1, 3, 9}));
        // A quarter of the steps below it: sorted[n / 4].
        assertEquals(3, Steps.quartile(even));
        assertEquals(2, Steps.quartile(new double[] {1, 2, 3, 4, 5, 6, 7}));
    }

    @Test
    void eachActivationsImagesPerSecondAgainstTheFirstsAtTheSameQuantile() {
        double[][] ms = {{13, 10, 12, 11, 30, 14, 15, 16}, {60, 15, 16, 18, 20, 21, 22, 23}};
        List<String> lines = Steps.quantileTable(List.of("ReLU", "AReLU"), ms).lines().toList();
        assertTrue(lines.get(0).contains("images/s / ReLU's, lower quartile"), lines.get(0));
        assertTrue(lines.get(0).endsWith("| images/s / ReLU's, median of rounds |"), lines.get(0));
        assertEquals("| ReLU | 10.00 | 12.00 | 13.50 | 1.000 | 1.000 | 1.000 |", lines.get(2));
        // ReLU's step over AReLU's: 12 / 18 at the lower quartile, 13.5 / 20.5 at the median. Round by round:
        // 13/60, 11/18, 10/15, 14/21, 15/22, 16/23, 12/16, 30/20, whose middle two are 10/15 and 15/22.
        assertEquals("| AReLU | 15.00 | 18.00 | 20.50 | 0.667 | 0.659 | 0.674 |", lines.get(3));
    }

    @Test
    void eachWindowComparesTheSameStepsOfBothActivations() {
        // 9 steps in 2 windows of 4: the ninth is left out, as the window's label says.
        double[][] ms = {{13, 10, 12, 11, 20, 22, 21, 23, 99}, {23, 20, 22, 21, 25, 27, 26, 28, 99}};
        String table = Steps.windowTable(List.of("ReLU", "AReLU"), ms, 2, 100);
        assertTrue(table.contains("median of each window of 4 steps (after 100 of warm-up)"), table);
        assertTrue(table.contains("| activation | steps 101-104 | steps 105-108 |"), table);
        // Medians 11.5 / 21.5 and 21.5 / 26.5.
        assertTrue(table.contains("| AReLU | 0.535 | 0.811 |"), table);
        assertFalse(table.contains("| ReLU |"), table);
    }

    @Test
    void warmUpRoundsAreNotTimedAndEachRoundStartsOneNetworkFurtherOn() {
        long[] now = {0};
        List<Integer> order = new ArrayList<>();
        // Network k's step takes k + 1 ms on the test's clock.
        double[][] ms = Steps.interleavedMs(3, 2, 4, k -> {
            order.add(k);
            now[0] += (k + 1) * 1_000_000L;
        }, () -> now[0]);
        assertEquals(List.of(1, 2, 0, 2, 0, 1, 0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2), order);
        for (int k = 0; k < 3; k++) {
            assertArrayEquals(new double[] {k + 1, k + 1, k + 1, k + 1}, ms[k]);
        }
    }
}
