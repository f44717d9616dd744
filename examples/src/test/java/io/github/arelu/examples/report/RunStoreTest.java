package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import io.github.arelu.examples.train.AReLUTrajectory;
import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-run files that let a long table resume: exact round trip, and no results from another setup. */
class RunStoreTest {

    @TempDir
    Path directory;

    private static final Map<String, String> SETUP = Map.of("network", "ConvMNIST", "epochs", "2");
    private static final RunStore.RunKey KEY = new RunStore.RunKey(1e-5, "AReLU", 1);

    @Test
    void aSavedRunReadsBackBitForBit() throws IOException {
        RunStore store = new RunStore(directory, SETUP);
        // Values whose shortest decimal forms are long: a lossy format would change them.
        Trainer.History history = new Trainer.History(new double[] {2.302585092994046, 0.1 + 0.2},
                new double[] {11.35, 73.80000000000001}, 8123.456789, 95.25);
        assertTrue(store.load(KEY).isEmpty());
        store.save(KEY, history, 1);
        Trainer.History loaded = new RunStore(directory, SETUP).load(KEY).orElseThrow();
        assertArrayEquals(history.trainLoss(), loaded.trainLoss());
        assertArrayEquals(history.testAccuracy(), loaded.testAccuracy());
        assertEquals(history.imagesPerSecond(), loaded.imagesPerSecond());
        assertEquals(history.seconds(), loaded.seconds());
        assertEquals(directory.resolve("lr-0.00001/AReLU/run-2.properties"), store.fileOf(KEY));
        try (var files = Files.walk(directory)) {
            assertFalse(files.anyMatch(file -> file.toString().endsWith(".tmp")), "no temporary file is left behind");
        }
    }

    @Test
    void theAReLULayersTrajectoriesReadBackBitForBit() throws IOException {
        RunStore store = new RunStore(directory, SETUP);
        List<AReLUTrajectory> trajectories = List.of(
                new AReLUTrajectory("block1.activation1", 16,
                        List.of(new AReLUTrajectory.Summary(0.9, 0.9, 0.9, 0), new AReLUTrajectory.Summary(
                                0.1 + 0.2, -0.0123456789, 1.0000001, 0.0625)),
                        List.of(new AReLUTrajectory.Summary(2, 2, 2, Double.NaN), new AReLUTrajectory.Summary(
                                2.5, 1.75, 3.125, Double.NaN))),
                new AReLUTrajectory("activation2", 1,
                        List.of(new AReLUTrajectory.Summary(0.9, 0.9, 0.9, 0), new AReLUTrajectory.Summary(
                                1.02, 1.02, 1.02, 1)),
                        List.of(new AReLUTrajectory.Summary(2, 2, 2, Double.NaN), new AReLUTrajectory.Summary(
                                1.5, 1.5, 1.5, Double.NaN))));
        store.save(KEY, new Trainer.History(new double[] {1}, new double[] {50}, 1, 1, trajectories), 1);
        assertEquals(trajectories, store.load(KEY).orElseThrow().parameters());

        store.save(KEY, new Trainer.History(new double[] {1}, new double[] {50}, 1, 1), 1);
        assertEquals(List.of(), store.load(KEY).orElseThrow().parameters(), "a run without AReLU has none");
    }

    @Test
    void aRunOfAnotherSetupIsAnErrorNamingTheDifference() throws IOException {
        new RunStore(directory, SETUP).save(KEY, new Trainer.History(new double[] {1}, new double[] {50}, 1, 1), 1);
        RunStore other = new RunStore(directory, Map.of("network", "ConvMNIST", "epochs", "20"));
        RunStore.SetupMismatchException e = assertThrows(RunStore.SetupMismatchException.class, () -> other.load(KEY));
        assertTrue(e.getMessage().contains("epochs '2' there, '20' now"), e.getMessage());
        assertTrue(e.getMessage().contains("delete " + directory), e.getMessage());

        // A setting the stored run had and this setup lacks is a difference too, not a match.
        RunStore fewer = new RunStore(directory, Map.of("network", "ConvMNIST"));
        e = assertThrows(RunStore.SetupMismatchException.class, () -> fewer.load(KEY));
        assertTrue(e.getMessage().contains("epochs '2' there, missing now"), e.getMessage());
    }

    /** A run file copied into another cell's place (by hand) would count in that cell's mean and std. */
    @Test
    void anotherCellsRunFileIsAnErrorNotItsRun() throws IOException {
        RunStore store = new RunStore(directory, SETUP);
        store.save(KEY, new Trainer.History(new double[] {1}, new double[] {50}, 1, 1), 1);
        for (RunStore.RunKey other : List.of(new RunStore.RunKey(1e-4, "AReLU", 1),
                new RunStore.RunKey(1e-5, "ReLU", 1), new RunStore.RunKey(1e-5, "AReLU", 0))) {
            Files.createDirectories(store.fileOf(other).getParent());
            Files.copy(store.fileOf(KEY), store.fileOf(other));
            IOException e = assertThrows(IOException.class, () -> store.load(other));
            assertTrue(e.getMessage().contains("holds the run of learning rate, activation and run (1-based) "
                    + "'1.0E-5/AReLU/2', not '" + other.learningRate() + "/" + other.activation() + "/"
                    + (other.run() + 1) + "'"), e.getMessage());
        }
        assertEquals(50, store.load(KEY).orElseThrow().testAccuracy()[0], "its own place still reads");
    }

    @Test
    void aTruncatedFileIsAnErrorNotAnEmptyRun() throws IOException {
        RunStore store = new RunStore(directory, SETUP);
        store.save(KEY, new Trainer.History(new double[] {1}, new double[] {50}, 1, 1), 1);
        Path file = store.fileOf(KEY);
        Files.writeString(file, Files.readString(file).replaceAll("(?m)^testAccuracy=.*$", ""));
        IOException e = assertThrows(IOException.class, () -> store.load(KEY));
        assertTrue(e.getMessage().contains("no testAccuracy"), e.getMessage());
    }

    @Test
    void learningRatesAreWrittenPlainly() {
        assertEquals("0.01", RunStore.formatLearningRate(1e-2));
        assertEquals("0.0001", RunStore.formatLearningRate(1e-4));
        assertEquals("0.00001", RunStore.formatLearningRate(1e-5));
        assertEquals("0.0003", RunStore.formatLearningRate(3e-4));
    }
}
