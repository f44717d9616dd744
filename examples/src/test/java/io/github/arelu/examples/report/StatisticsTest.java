package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;

/** The statistics every table reports: population standard deviation, as NumPy's default and the paper's code. */
class StatisticsTest {

    @Test
    void meanAndPopulationStandardDeviation() {
        double[] values = {2, 4, 4, 4, 5, 5, 7, 9};
        assertEquals(5.0, Statistics.mean(values), 1e-15);
        // Squared deviations sum to 32 over 8 values: variance 4 (the sample form would give 32 / 7).
        assertEquals(2.0, Statistics.std(values), 1e-15);
    }

    @Test
    void oneValueHasNoSpreadAndNoValuesHaveNoMean() {
        assertEquals(0.0, Statistics.std(73.8));
        assertTrue(Double.isNaN(Statistics.mean()));
        assertTrue(Double.isNaN(Statistics.std()));
    }

    @Test
    void meanStdFormatsForTheConsoleTables() {
        assertEquals("  15.00 +- 5.00   ", Statistics.meanStd(10, 20));
    }

    @Test
    void activationResultsUseTheSameStatisticsPerEpoch() {
        ActivationResult result = new ActivationResult("AReLU", List.of(
                new Trainer.History(new double[] {1.0, 0.5}, new double[] {40, 60}, 100, 1),
                new Trainer.History(new double[] {0.8, 0.4}, new double[] {50, 80}, 300, 2)));
        assertEquals(45, result.firstEpochMean(), 1e-12);
        assertEquals(5, result.firstEpochStd(), 1e-12);
        assertEquals(70, result.bestMean(), 1e-12);
        assertEquals(10, result.bestStd(), 1e-12);
        assertEquals(200, result.imagesPerSecondMean(), 1e-12);
        assertEquals(3, result.secondsTotal(), 1e-12);
        assertEquals(List.of(45.0, 70.0), List.of(result.accuracyPerEpochMean()[0], result.accuracyPerEpochMean()[1]));
        assertEquals(List.of(5.0, 10.0), List.of(result.accuracyPerEpochStd()[0], result.accuracyPerEpochStd()[1]));
    }
}
