package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.report.RunStore;
import io.github.arelu.examples.train.ProgressBar;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learning-rate table command end to end on a tiny data set (LinearMNIST, so it takes seconds): the files
 * it writes, resuming after an interruption, refusing results of another setup, presets and bad options.
 */
class LearningRateTableCommandTest {

    @TempDir
    Path data;

    @TempDir
    Path work;

    private Path out;
    private int threadsBefore;

    @BeforeEach
    void writeData() throws IOException {
        TinyDataSet.write(data, 8, 4, 4);
        out = work.resolve("table");
        threadsBefore = torch.get_num_threads();
    }

    @AfterEach
    void restoreThreads() {
        torch.set_num_threads(threadsBefore);
    }

    /**
     * Runs the command with two activations, two learning rates, 2 runs of 2 epochs; {@code options} (name
     * and value pairs, or a flag alone) replace those defaults or add to them.
     */
    private CommandRun run(String... options) {
        Map<String, String> chosen = new LinkedHashMap<>(Map.of("--data", data.toString(), "--net", "LinearMNIST",
                "--activations", "AReLU,ReLU", "--learning-rates", "1e-2,1e-3", "--runs", "2", "--epochs", "2",
                "--threads", "1", "--out", out.toString()));
        for (int i = 0; i < options.length; i++) {
            boolean flag = i + 1 == options.length || options[i + 1].startsWith("--");
            chosen.put(options[i], flag ? null : options[++i]);
        }
        List<String> args = new ArrayList<>();
        chosen.forEach((name, value) -> {
            args.add(name);
            if (value != null) {
                args.add(value);
            }
        });
        return CommandRun.of(new LearningRateTableCommand(ProgressBar.silent()), args.toArray(String[]::new));
    }

    private Map<Path, FileTime> runFiles() throws IOException {
        Map<Path, FileTime> files = new HashMap<>();
        try (Stream<Path> walk = Files.walk(out)) {
            for (Path file : walk.filter(path -> path.toString().endsWith(".properties")).toList()) {
                files.put(file, Files.getLastModifiedTime(file));
            }
        }
        return files;
    }

    @Test
    void writesEveryRunTheTableJsonCsvAndAPlotPerLearningRate() throws IOException {
        CommandRun outcome = run();
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertEquals(2 * 2 * 2, runFiles().size());
        for (String name : List.of("table.md", "results.json", "results.csv", "accuracy-lr-0.01.png",
                "accuracy-lr-0.001.png")) {
            assertTrue(Files.size(out.resolve(name)) > 0, name);
        }
        assertTrue(outcome.out().contains("= 8 runs, 0 already in " + out), outcome.out());
        assertTrue(outcome.out().contains("[8/8] lr 0.001 ReLU run 2/2: first epoch"), outcome.out());
        assertTrue(outcome.out().contains("| activation | lr 0.01 first | lr 0.01 best | lr 0.001 first | lr 0.001 best |"),
                outcome.out());
        assertEquals(1 + 8 * 2, Files.readAllLines(out.resolve("results.csv")).size());
        for (String name : List.of("parameters-lr-0.01.png", "parameters-lr-0.001.png")) {
            assertTrue(Files.size(out.resolve(name)) > 0, name);
        }
        // LinearMNIST: one AReLU layer, "activation".
        assertTrue(Files.readString(out.resolve("results.json")).contains("\"parameters\": [{\"layer\": \"activation\""),
                "AReLU's runs carry their parameters");
    }

    @Test
    void anInterruptedTableResumesWithOnlyTheMissingRunsAndTheSameResult() throws IOException {
        assertEquals(0, run().exitCode());
        String table = Files.readString(out.resolve("table.md"));
        Map<Path, FileTime> before = runFiles();
        // An interruption during a run leaves no file of it (files are moved into place when complete).
        Path unfinished = new RunStore(out, Map.of()).fileOf(new RunStore.RunKey(1e-3, "AReLU", 1));
        Files.delete(unfinished);

        CommandRun resumed = run();
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("= 8 runs, 7 already in"), resumed.out());
        assertTrue(resumed.out().contains("[1/1] lr 0.001 AReLU run 2/2"), resumed.out());
        assertFalse(resumed.out().contains("[2/"), resumed.out());
        Map<Path, FileTime> after = runFiles();
        assertEquals(before.keySet(), after.keySet());
        before.forEach((file, time) -> {
            if (!file.equals(unfinished)) {
                assertEquals(time, after.get(file), file + " was rewritten");
            }
        });
        // Seeded runs: the rerun reproduces the lost one, so the table is the same.
        assertEquals(table, Files.readString(out.resolve("table.md")));

        CommandRun complete = run();
        assertEquals(0, complete.exitCode(), complete.err());
        assertTrue(complete.out().contains("8 already in") && !complete.out().contains("Measured"), complete.out());
    }

    @Test
    void resultsOfAnotherSetupAreRefused() throws IOException {
        assertEquals(0, run().exitCode());
        CommandRun outcome = run("--epochs", "3");
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().contains("(--epochs '2' there, '3' now)"), outcome.err());
    }

    /** The differences are named by the options that make them, not by the keys the run files store them under. */
    @Test
    void aSetupMismatchNamesTheOptions() throws IOException {
        assertEquals(0, run().exitCode());
        CommandRun outcome = run("--batch-size", "4", "--seed", "7");
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().contains("(--batch-size '128' there, '4' now; --seed '42' there, '7' now)"),
                outcome.err());
        assertFalse(outcome.err().contains("batchSize") || outcome.err().contains("firstSeed"), outcome.err());
    }

    /** Runs on inputs left in [0, 1] are another experiment than runs on normalized ones, never resumed. */
    @Test
    void unnormalizedInputsAreAnotherSetup() throws IOException {
        assertEquals(0, run().exitCode());
        assertFalse(Files.readString(out.resolve("table.md")).contains("normalized"));
        CommandRun outcome = run("--normalize", "none");
        assertEquals(1, outcome.exitCode(), outcome.out());
        assertTrue(outcome.err().contains("(--normalize missing there, 'none' now)"), outcome.err());
        // A table of unnormalized inputs says so where its numbers are read.
        Path other = out;
        out = other.resolveSibling("unnormalized");
        assertEquals(0, run("--normalize", "none").exitCode());
        assertTrue(Files.readString(out.resolve("table.md")).contains("; inputs scaled to [0,1] and not normalized "
                + "(--normalize none)"), Files.readString(out.resolve("table.md")));
    }

    /** Other images of the same counts at the same path used to resume the runs of the old ones. */
    @Test
    void otherImagesOfTheSameCountsAreAnotherSetup() throws IOException {
        assertEquals(0, run().exitCode());
        TinyDataSet.writeSplit(data, "train", 8, 4, 28, 11);
        CommandRun outcome = run();
        assertEquals(1, outcome.exitCode(), outcome.out());
        assertTrue(outcome.err().matches("(?s)lr-table: .* was made with another setup \\(the data's CRC-32 "
                + "'[0-9a-f]{8}' there, '[0-9a-f]{8}' now\\)\\. .*"), outcome.err());
    }

    /** Threads change speed, not what is trained: a table resumes with other --threads and says its images/s mix them. */
    @Test
    void aTableResumedWithOtherThreadsSaysItsSpeedsMixThem() throws IOException {
        assertEquals(0, run().exitCode());
        assertFalse(Files.readString(out.resolve("table.md")).contains("thread"));
        Files.delete(out.resolve("lr-0.01").resolve("ReLU").resolve("run-2.properties"));
        CommandRun resumed = run("--threads", "2");
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("= 8 runs, 7 already in"), resumed.out());
        assertTrue(Files.readString(out.resolve("table.md")).contains("; the runs' images/s mix libtorch thread counts "
                + "1, 2 (the table was resumed with other --threads)"), Files.readString(out.resolve("table.md")));
        // Runs stored before the count was recorded count as their own kind.
        for (Path file : runFiles().keySet()) {
            Files.writeString(file, Files.readString(file).replaceAll("(?m)^threads=1\\R", ""));
        }
        assertEquals(0, run("--threads", "2").exitCode());
        assertTrue(Files.readString(out.resolve("table.md")).contains("thread counts 2, unrecorded"),
                Files.readString(out.resolve("table.md")));
    }

    /** Tables stored before the data's checksum was recorded still resume, as the compatibility policy has it. */
    @Test
    void runsStoredWithoutTheDataChecksumStillResume() throws IOException {
        assertEquals(0, run().exitCode());
        for (Path file : runFiles().keySet()) {
            Files.writeString(file, Files.readString(file).replaceAll("(?m)^setup\\.dataCrc32=.*\\R", ""));
            assertFalse(Files.readString(file).contains("dataCrc32"), file.toString());
        }
        CommandRun resumed = run();
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("= 8 runs, 8 already in"), resumed.out());
    }

    /** A --out that is a file used to fail with FileAlreadyExistsException after the first run. */
    @Test
    void anOutThatIsAFileIsRefusedBeforeTraining() throws IOException {
        Files.writeString(out, "a file");
        CommandRun outcome = run();
        assertEquals(1, outcome.exitCode());
        assertEquals("lr-table: cannot write --out " + out + ": it is not a directory\n", outcome.err());
        assertEquals("", outcome.out());
    }

    /** A run file that cannot be written once training has begun ends the table with the option named. */
    @Test
    void aRunThatCannotBeStoredIsNamedWithoutAStackTrace() throws IOException {
        Files.createDirectories(out);
        Path inTheWay = Files.writeString(out.resolve("lr-0.01"), "a file where the runs of lr 0.01 go");
        CommandRun outcome = run();
        assertEquals(1, outcome.exitCode());
        assertEquals("lr-table: cannot write --out " + out + ": " + inTheWay.resolve("AReLU") + ": Not a directory\n",
                outcome.err());
    }

    /** An empty test set crashed in the speed measurement with a stack trace. */
    @Test
    void aTestFileWithoutImagesIsNamed() throws IOException {
        TinyDataSet.writeSplit(data, "t10k", 0, 4, 28, 7);
        CommandRun outcome = run();
        assertEquals(1, outcome.exitCode());
        assertEquals("lr-table: cannot read the data set: " + data.resolve("t10k-images-idx3-ubyte")
                + ": holds no images\n", outcome.err());
    }

    /** A table with --project-alpha says so, and is another setup than one without: neither resumes the other. */
    @Test
    void alphaProjectionIsNamedAndPartOfTheSetup() throws IOException {
        assertEquals(0, run("--project-alpha").exitCode());
        assertTrue(Files.readString(out.resolve("table.md")).contains("AReLU's alpha projected onto [0.01, 0.99] "
                + "after every step (--project-alpha)"));
        CommandRun withoutIt = run();
        assertEquals(1, withoutIt.exitCode());
        assertTrue(withoutIt.err().contains("--project-alpha 'on' there, missing now"), withoutIt.err());
    }

    /**
     * --arelu-alpha starts every AReLU layer there (the recorded trajectories begin at it), is named, and is another
     * setup than the paper's initialization: neither resumes the other.
     */
    @Test
    void initialAlphaIsAppliedNamedAndPartOfTheSetup() throws IOException {
        assertEquals(0, run("--arelu-alpha", "0.25").exitCode());
        assertTrue(Files.readString(out.resolve("table.md")).contains("AReLU's alpha starting at 0.25, not the "
                + "paper's 0.9 (--arelu-alpha)"));
        String json = Files.readString(out.resolve("results.json"));
        assertTrue(json.contains("\"alpha\": {\"mean\": [0.25,"), json);
        assertFalse(json.contains("\"alpha\": {\"mean\": [0.9,"), json);
        CommandRun paperStart = run();
        assertEquals(1, paperStart.exitCode());
        assertTrue(paperStart.err().contains("--arelu-alpha '0.25' there, missing now"), paperStart.err());
        assertEquals(2, run("--arelu-alpha", "Infinity").exitCode());
    }

    /** --arelu-beta likewise: applied from the first step, named, and another setup than the paper's beta. */
    @Test
    void initialBetaIsAppliedNamedAndPartOfTheSetup() throws IOException {
        assertEquals(0, run("--arelu-beta", "-4").exitCode());
        assertTrue(Files.readString(out.resolve("table.md")).contains("AReLU's beta starting at -4.0, not the "
                + "paper's 2.0 (--arelu-beta)"));
        String json = Files.readString(out.resolve("results.json"));
        assertTrue(json.contains("\"beta\": {\"mean\": [-4.0,"), json);
        assertTrue(json.contains("\"alpha\": {\"mean\": [0.9,"), json);
        CommandRun paperStart = run();
        assertEquals(1, paperStart.exitCode());
        assertTrue(paperStart.err().contains("--arelu-beta '-4.0' there, missing now"), paperStart.err());
        assertEquals(2, run("--arelu-beta", "NaN").exitCode());
    }

    @Test
    void aDamagedRunFileIsNamedNotSkipped() throws IOException {
        assertEquals(0, run().exitCode());
        Path damaged = new RunStore(out, Map.of()).fileOf(new RunStore.RunKey(1e-2, "ReLU", 0));
        Files.writeString(damaged, Files.readString(damaged).replaceAll("(?m)^testAccuracy=.*$", ""));
        CommandRun outcome = run();
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().contains(damaged + " is not a complete run file"), outcome.err());
    }

    @Test
    void estimateTrainsNothing() {
        CommandRun outcome = run("--estimate");
        assertEquals(0, outcome.exitCode(), outcome.err());
        assertTrue(outcome.out().contains("Time for the 8 run(s) left: about"), outcome.out());
        assertFalse(Files.exists(out.resolve("table.md")));
        assertFalse(Files.exists(out.resolve("lr-0.01")));
    }

    @Test
    void presetsGiveDefaultsThatOptionsOverride() {
        CommandRun quick = CommandRun.of(new LearningRateTableCommand(ProgressBar.silent()), "--data", data.toString(),
                "--net", "LinearMNIST", "--preset", "quick", "--threads", "1", "--out", out.toString(), "--estimate");
        assertEquals(0, quick.exitCode());
        assertTrue(quick.out().contains("3 learning rate(s) x 6 activation(s) x 2 run(s) of 8 epoch(s)"), quick.out());
        CommandRun overridden = run("--preset", "quick", "--runs", "3", "--test-limit", "2", "--estimate");
        assertTrue(overridden.out().contains("2 learning rate(s) x 2 activation(s) x 3 run(s) of 2 epoch(s)"),
                overridden.out());
        assertTrue(overridden.out().contains("8 training and 2 test images"), overridden.out());
    }

    @Test
    void badLearningRatesGetUsage() {
        CommandRun notANumber = run("--learning-rates", "1e-2,fast");
        assertEquals(2, notANumber.exitCode());
        assertTrue(notANumber.err().contains("'fast' is not a number"), notANumber.err());
        CommandRun twice = run("--learning-rates", "1e-2,0.01");
        assertEquals(2, twice.exitCode());
        assertTrue(twice.err().contains("listed twice"), twice.err());
        assertEquals(2, run("--learning-rates", "-1").exitCode());
    }
}
