package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The comparison's console table, CSV and chart, on runs whose statistics are known. */
class ReportsTest {

    @TempDir
    Path directory;

    private static final List<ActivationResult> RESULTS = List.of(
            new ActivationResult("AReLU", List.of(
                    new Trainer.History(new double[] {0.9, 0.5}, new double[] {60, 70}, 8000, 10),
                    new Trainer.History(new double[] {0.7, 0.3}, new double[] {64, 74}, 9000, 12))),
            new ActivationResult("ReLU", List.of(
                    new Trainer.History(new double[] {2.3, 2.2}, new double[] {11, 14}, 9500, 9),
                    new Trainer.History(new double[] {2.3, 2.1}, new double[] {13, 12}, 9700, 9))));

    @Test
    void consoleTableHasMeanPlusMinusStdPerActivation() {
        StringWriter text = new StringWriter();
        Reports.printTable(RESULTS, new PrintWriter(text, true));
        List<String> lines = text.toString().lines().toList();
        assertEquals(4, lines.size(), text.toString());
        assertTrue(lines.get(0).startsWith("activation | 1st epoch acc (%)"), lines.get(0));
        // AReLU: first epochs 60 and 64, bests 70 and 74, final losses 0.5 and 0.3, 8500 img/s, 22 s.
        assertEquals("AReLU      |   62.00 +- 2.00   |   72.00 +- 2.00   | 0.4000     |    8500 | 22.0", lines.get(2));
        // ReLU: bests 14 and 13 (the best epoch of each run, not the last).
        assertEquals("ReLU       |   12.00 +- 1.00   |   13.50 +- 0.50   | 2.1500     |    9600 | 18.0", lines.get(3));
    }

    /** A name longer than the header ("AReLU-channelwise") widens the first column for every row. */
    @Test
    void consoleTableStaysAlignedWithLongNames() {
        StringWriter text = new StringWriter();
        Reports.printTable(List.of(new ActivationResult("AReLU-channelwise", RESULTS.getFirst().runs()),
                RESULTS.get(1)), new PrintWriter(text, true));
        List<String> lines = text.toString().lines().toList();
        assertEquals("activation        | 1st epoch acc (%)", lines.get(0).substring(0, 37));
        assertEquals("AReLU-channelwise |   62.00 +- 2.00", lines.get(2).substring(0, 35));
        assertEquals("ReLU              |   12.00 +- 1.00", lines.get(3).substring(0, 35));
        assertEquals("------------------+-", lines.get(1).substring(0, 20));
    }

    @Test
    void csvHasOneLinePerActivationRunAndEpoch() {
        List<String> lines = Reports.toCsv(RESULTS).lines().toList();
        assertEquals(List.of("activation,run,epoch,train_loss,test_accuracy", "AReLU,1,1,0.900000,60.0000",
                "AReLU,1,2,0.500000,70.0000", "AReLU,2,1,0.700000,64.0000", "AReLU,2,2,0.300000,74.0000",
                "ReLU,1,1,2.300000,11.0000", "ReLU,1,2,2.200000,14.0000", "ReLU,2,1,2.300000,13.0000",
                "ReLU,2,2,2.100000,12.0000"), lines);
    }

    @Test
    void chartIsAPngAtExactlyTheGivenName() throws IOException {
        Path file = directory.resolve("chart.image");
        Reports.writeChart(RESULTS, "test", file);
        BufferedImage image = ImageIO.read(file.toFile());
        assertEquals(900, image.getWidth());
        assertEquals(560, image.getHeight());
    }

    @Test
    void bandsNeedAsManyMeansAndStdsAsXValues() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Reports.Band("AReLU", new double[] {1, 2}, new double[] {50}, new double[] {1, 2}));
        assertTrue(e.getMessage().contains("2 x values, 1 means"), e.getMessage());
        assertArrayEquals(new double[] {1, 2, 3}, Reports.oneBased(3));
    }
}
