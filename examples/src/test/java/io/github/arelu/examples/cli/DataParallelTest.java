package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.github.arelu.examples.data.MnistData;
import io.github.arelu.examples.data.TinyDataSet;
import io.github.arelu.examples.dist.DataParallel;
import io.github.arelu.examples.dist.DataParallelException;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.GradientSync;
import io.github.arelu.examples.train.ProgressBar;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Data-parallel training on c10d's gloo, on the loopback only: N processes reach one process's parameters,
 * and every fault (a worker that dies, hangs or never arrives, a port in use, a wrong world size or rank,
 * an unreachable master) ends in a clear error instead of a hang.
 *
 * <p>Processes that should fail are given a few seconds of {@code --dist-timeout}; {@link #HANG_GUARD} only
 * keeps a broken build from hanging the test run, it measures nothing.
 */
class DataParallelTest {

    /**
     * Largest difference allowed between a parameter trained by two processes and by one. The two compute
     * every image's gradient the same way (a shard's mean loss times its share gives each image the same
     * factor 1/128 as the global mean, exactly so for the even shards); only the order of summation over
     * the batch differs (two halves, then the all-reduce's sum), which changes a float32 gradient by a few
     * units in its last place, about 1e-7 of its size. Ten SGD steps (momentum 0.9, lr 0.05) carry that
     * into the parameters: we measured a largest difference of 1.2e-6 (with one libtorch thread per process,
     * as here), while training moved them by up to 0.35. 1e-5 leaves room for other CPUs' vector widths
     * and is still 1e-4 of how far training must move them (asserted below).
     */
    private static final double TOLERANCE = 1e-5;
    private static final Duration HANG_GUARD = Duration.ofMinutes(3);

    @TempDir
    Path directory;

    private static void assumeDataSet() {
        assumeTrue(Files.isDirectory(MnistData.DEFAULT_DIRECTORY), "Fashion-MNIST is not installed in "
                + MnistData.DEFAULT_DIRECTORY + " (apt-get install " + MnistData.DEBIAN_PACKAGE + "); skipping");
    }

    @Test
    void twoProcessesReachTheParametersOfOne() throws Exception {
        assumeDataSet();
        Path alone = directory.resolve("alone.bin");
        Path together = directory.resolve("together.bin");
        String master = "127.0.0.1:" + freePort();
        Worker single = Worker.start(directory, "train", 0, 1, master, 60, alone);
        assertEquals(0, single.finish(), single.log());
        Worker rank0 = Worker.start(directory, "train", 0, 2, master, 60, together);
        Worker rank1 = Worker.start(directory, "train", 1, 2, master, 60, together);
        assertEquals(0, rank0.finish(), rank0.log());
        assertEquals(0, rank1.finish(), rank1.log());

        List<float[]> one = readParameters(alone);
        List<float[]> two = readParameters(together);
        // Three convolutions and the classifier (weight and bias each), three AReLUs (alpha and beta each).
        assertEquals(14, one.size());
        double difference = maxDifference(one, two);
        assertTrue(difference <= TOLERANCE, "two processes differ from one by " + difference);
        List<float[]> initial = initialParameters();
        double moved = maxDifference(one, initial);
        assertTrue(moved > 1e4 * TOLERANCE, "training moved the parameters by only " + moved);
    }

    /**
     * BatchNorm normalizes each rank's part of a batch and updates its running statistics from it, so the ranks'
     * statistics drift apart; the test pass, split over the ranks, must score one model. Every rank takes rank
     * 0's before it: after the epoch (whose test pass ends it) both ranks hold the same statistics, moved by
     * training from where they started.
     */
    @Test
    void theTestPassUsesRank0sBatchNormStatisticsOnEveryRank() throws Exception {
        assumeDataSet();
        List<List<float[]>> ranks = twoRanks("batchnorm", directory.resolve("buffers.bin"));
        List<float[]> first = ranks.get(0);
        List<float[]> second = ranks.get(1);
        // Running mean, running variance and batch count of each of the ResNet's BatchNorm layers.
        assertTrue(first.size() >= 3 && first.size() % 3 == 0, first.size() + " buffers");
        assertEquals(0.0, maxDifference(first, second), "the ranks' BatchNorm statistics differ");
        double moved = 0;
        for (float value : first.get(0)) {
            moved = Math.max(moved, Math.abs(value));
        }
        assertTrue(moved > 1e-3, "training moved the first running mean from 0 by only " + moved);
    }

    /**
     * Every rank seeds libtorch's generator with the run's seed to build the network: unless a rank reseeds its
     * own, all draw rank 0's RReLU slopes for their different shards. Rank 0 draws what one process does, rank 1
     * what {@link DataParallel#rankSeed} gives it, the same on every start.
     */
    @Test
    void eachRankDrawsRReLUSlopesOfItsOwn() throws Exception {
        List<List<float[]>> ranks = twoRanks("rrelu", directory.resolve("rrelu.bin"));
        List<float[]> first = ranks.get(0);
        List<float[]> second = ranks.get(1);
        // The same weights and input: the outputs differ by RReLU's slopes alone, which range over [1/8, 1/3].
        assertTrue(maxDifference(first, second) > 1e-2, "rank 1 drew rank 0's slopes: " + maxDifference(first, second));
        assertTrue(maxDifference(first, List.of(rreluOutput(OptionalLong.empty()))) < 1e-5,
                "rank 0 is not one process");
        assertTrue(maxDifference(second, List.of(rreluOutput(OptionalLong.of(DataParallel.rankSeed(
                DataParallelWorker.SEED, 1))))) < 1e-5, "rank 1 did not draw from its own seed");
    }

    /** ConvMNIST with RReLU from the workers' seed on their input, in training mode, reseeded first if given. */
    private static float[] rreluOutput(OptionalLong reseed) {
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ConvMNIST, ActivationSpec.byName("RReLU"),
                MnistData.CLASSES, DataParallelWorker.SEED);
        reseed.ifPresent(torch::manual_seed);
        network.train(true);
        return DataParallelWorker.floats(network.forward(DataParallelWorker.rreluInput()));
    }

    @Test
    void localWorkersReportOnceAndMatchOneProcess() throws Exception {
        assumeDataSet();
        int threadsBefore = torch.get_num_threads();
        try {
            // lr 0.01 trains (the loss falls from 2.37 to 1.73), where 0.05 diverged (2.55 to 5.82) and amplified the
            // order of the sums into the fourth digit: which of OpenBLAS's kernels ran decided the test (without
            // OPENBLAS_CORETYPE on an AVX-512 host, one process gave 5.81976 and two 5.81894).
            String[] common = {"--activations", "AReLU", "--train-limit", "601", "--test-limit", "100", "--epochs",
                "2", "--lr", "0.01", "--threads", "1"};
            Path aloneJson = directory.resolve("alone.json");
            CommandRun alone = run(concat(common, "--json-out", aloneJson.toString()));
            assertEquals(0, alone.exitCode(), alone.err());
            Path togetherJson = directory.resolve("together.json");
            CommandRun together = run(concat(common, "--local-workers", "2", "--dist-timeout", "60", "--json-out",
                    togetherJson.toString()));
            assertEquals(0, together.exitCode(), together.err());
            assertEquals(1, count(together.out(), "Wall time:"), together.out());
            assertEquals(1, count(together.out(), "Data parallel: 2 processes (gloo)"), together.out());
            assertEquals(0, count(alone.out(), "Data parallel:"), alone.out());
            double[] aloneLoss = trainLoss(Files.readString(aloneJson));
            double[] togetherLoss = trainLoss(Files.readString(togetherJson));
            assertEquals(2, togetherLoss.length);
            for (int epoch = 0; epoch < 2; epoch++) {
                assertEquals(aloneLoss[epoch], togetherLoss[epoch], 1e-4, "epoch " + (epoch + 1) + " loss");
            }
        } finally {
            torch.set_num_threads(threadsBefore);
        }
    }

    /**
     * Options in a picocli @-file reach the workers as on the command line: built from the arguments before the
     * file was expanded, the workers' got --local-workers back and failed, blaming --world-size and --rank.
     */
    @Test
    void localWorkersGivenInAnArgumentFileTrainLikeOneProcess() throws Exception {
        Path data = Files.createDirectory(directory.resolve("tiny"));
        TinyDataSet.write(data, 16, 8, 10);
        int threadsBefore = torch.get_num_threads();
        try {
            String[] common = {"--data", data.toString(), "--net", "LinearMNIST", "--activations", "AReLU",
                "--epochs", "1", "--batch-size", "4", "--lr", "0.05", "--threads", "1"};
            Path aloneJson = directory.resolve("alone.json");
            CommandRun alone = run(concat(common, "--json-out", aloneJson.toString()));
            assertEquals(0, alone.exitCode(), alone.err());
            Path argumentFile = directory.resolve("arguments.txt");
            Files.write(argumentFile, List.of(concat(common, "--local-workers", "2", "--dist-timeout", "60")));
            Path togetherJson = directory.resolve("together.json");
            CommandRun together = run("@" + argumentFile, "--json-out", togetherJson.toString());
            assertEquals(0, together.exitCode(), together.err());
            assertEquals(1, count(together.out(), "Data parallel: 2 processes (gloo)"), together.out());
            assertEquals(trainLoss(Files.readString(aloneJson))[0], trainLoss(Files.readString(togetherJson))[0],
                    1e-4);
        } finally {
            torch.set_num_threads(threadsBefore);
        }
    }

    /** Under the root command as alone, the workers' arguments are the command's own, its @-files expanded. */
    @Test
    void workersGetTheArgumentsOfAnArgumentFile() throws IOException {
        Path argumentFile = directory.resolve("arguments.txt");
        Files.write(argumentFile, List.of("--local-workers", "2", "--master", "127.0.0.1:4000", "--epochs", "3"));
        List<String> expanded = List.of("--net", "LinearMNIST", "--local-workers", "2", "--master", "127.0.0.1:4000",
                "--epochs", "3");
        CommandLine root = Main.commandLine(new Main());
        root.parseArgs("compare", "--net", "LinearMNIST", "@" + argumentFile);
        CompareCommand underRoot = root.getSubcommands().get("compare").getCommand();
        assertEquals(expanded, underRoot.distributed.ownArguments());
        CompareCommand alone = new CompareCommand(ProgressBar.silent());
        Main.commandLine(alone).parseArgs("--net", "LinearMNIST", "@" + argumentFile);
        assertEquals(expanded, alone.distributed.ownArguments());
        assertEquals(List.of("--net", "LinearMNIST", "--epochs", "3", "--world-size", "2", "--rank", "1", "--master",
                "127.0.0.1:4000"), LocalWorkers.workerArguments(expanded, 1, 2, loopback(4000), true));
    }

    @Test
    void localWorkersReportEveryRankThatFailed() {
        CommandRun outcome = run("--local-workers", "2", "--dist-timeout", "60", "--data",
                directory.resolve("missing").toString());
        assertEquals(1, outcome.exitCode(), outcome.err());
        assertTrue(outcome.err().contains("[rank 1] compare: cannot read the data set"), outcome.err());
        assertTrue(outcome.err().contains("worker rank 0 of 2 exited with code 1"), outcome.err());
        assertTrue(outcome.err().contains("worker rank 1 of 2 exited with code 1"), outcome.err());
    }

    @Test
    void aWorkerThatDiesStopsTheOthers() throws Exception {
        assumeDataSet();
        String master = "127.0.0.1:" + freePort();
        Worker rank0 = Worker.start(directory, "train", 0, 2, master, 60, directory.resolve("unused.bin"));
        Worker rank1 = Worker.start(directory, "die", 1, 2, master, 60, directory.resolve("unused.bin"));
        assertEquals(3, rank1.finish(), rank1.log());
        assertEquals(1, rank0.finish(), rank0.log());
        assertTrue(rank0.log().contains("worker rank 0: rank 0: the broadcast of rank 0's parameters with the other "
                + "1 rank(s) failed: another process has stopped"), rank0.log());
    }

    @Test
    void aWorkerThatHangsStopsTheOthersAfterTheTimeout() throws Exception {
        assumeDataSet();
        String master = "127.0.0.1:" + freePort();
        Worker rank0 = Worker.start(directory, "train", 0, 2, master, 3, directory.resolve("unused.bin"));
        Worker rank1 = Worker.start(directory, "hang", 1, 2, master, 3, directory.resolve("unused.bin"));
        try {
            assertEquals(1, rank0.finish(), rank0.log());
            assertTrue(rank0.log().contains("has not answered within the timeout of 3 s"), rank0.log());
            assertTrue(rank0.log().contains("(the timeout is --dist-timeout)"), rank0.log());
        } finally {
            rank1.process.destroyForcibly().waitFor();
        }
    }

    @Test
    void aWorkerThatNeverArrivesIsNamed() {
        DataParallelException e = assertThrows(DataParallelException.class, () -> DataParallel.connect(
                loopback(freePort()), 0, 2, Duration.ofSeconds(2), null, Map.of()));
        assertTrue(e.getMessage().contains("rank(s) [1] of world size 2 did not arrive at 127.0.0.1:"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("within 2 s"), e.getMessage());
        assertEquals(DataParallelException.Reason.RANKS_MISSING, e.reason());
        assertTrue(DistributedOptions.describe(e).endsWith("within 2 s (start every --rank from 0 to --world-size - 1, "
                + "or allow more time with --dist-timeout)"), DistributedOptions.describe(e));
    }

    @Test
    void aPortInUseIsNamed() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            DataParallelException e = assertThrows(DataParallelException.class, () -> DataParallel.connect(
                    loopback(taken.getLocalPort()), 0, 2, Duration.ofSeconds(2), null, Map.of()));
            assertTrue(e.getMessage().contains("port " + taken.getLocalPort() + " is already in use"), e.getMessage());
            assertEquals(DataParallelException.Reason.MASTER_PORT_IN_USE, e.reason());
            assertTrue(DistributedOptions.describe(e).endsWith("(choose a free port with --master HOST:PORT)"),
                    DistributedOptions.describe(e));
        }
    }

    @Test
    void aMissingGlooInterfaceIsNamedWithTheInterfacesThatExist() {
        int port = freePort();
        DataParallelException e = assertThrows(DataParallelException.class, () -> DataParallel.connect(
                loopback(port), 0, 2, Duration.ofSeconds(2), "nosuch0", Map.of()));
        assertTrue(e.getMessage().startsWith("gloo cannot use network interface 'nosuch0': "), e.getMessage());
        assertTrue(e.getMessage().contains("(this machine's interfaces with an address: ")
                && e.getMessage().contains("lo ") && e.getMessage().contains("127.0.0.1"), e.getMessage());
        // Checked before rank 0 serves the store: the port is still free.
        try (ServerSocket again = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            assertEquals(port, again.getLocalPort());
        } catch (IOException notFree) {
            fail("rank 0 opened the store before checking its interface: " + notFree);
        }
    }

    @Test
    void anUnreachableMasterIsNamed() {
        int port = freePort();
        DataParallelException e = assertThrows(DataParallelException.class, () -> DataParallel.connect(
                loopback(port), 1, 2, Duration.ofSeconds(2), null, Map.of()));
        assertTrue(e.getMessage().startsWith("rank 1 cannot reach the master at 127.0.0.1:" + port + " within 2 s"),
                e.getMessage());
    }

    @Test
    void disagreeingWorldSizesStopBothRanks() throws Exception {
        DataParallel.Master master = loopback(freePort());
        List<String> messages = connectAll(master, new int[][] {{0, 2}, {1, 3}});
        String expected = "rank 1 was started with world size 3, rank 0 with 2; all processes need the same "
                + "world size (start every process with the same --world-size)";
        assertEquals(expected, messages.get(0));
        // Rank 1 sees rank 0's world size itself, before the verdict.
        assertEquals(expected, messages.get(1));
    }

    /** Rank 0 checks the ranks below its world size only: a rank beyond it checks rank 0's world size itself. */
    @Test
    void aRankBeyondRank0sWorldSizeIsStoppedInsteadOfWaitingInGloo() throws Exception {
        DataParallel.Master master = loopback(freePort());
        List<String> messages = connectAll(master, new int[][] {{0, 2}, {2, 3}});
        assertTrue(messages.get(0).startsWith("rank(s) [1] of world size 2 did not arrive"), messages.get(0));
        assertEquals("rank 2 was started with world size 3, rank 0 with 2; all processes need the same world size "
                + "(start every process with the same --world-size)", messages.get(1));
    }

    /*
     * Ranks whose setups agree form the group in localWorkersReportOnceAndMatchOneProcess, in processes of
     * their own: two gloo groups formed inside one JVM corrupted its heap when they were torn down
     * ("corrupted double-linked list"), so no test connects a whole group in-process.
     */
    @Test
    void disagreeingSetupsStopBothRanksAndNameEveryDifference() throws Exception {
        DataParallel.Master master = loopback(freePort());
        Map<String, String> ours = new LinkedHashMap<>();
        ours.put("--lr", "1.0E-4");
        ours.put("--seed", "42");
        ours.put("--project-alpha", "true");
        Map<String, String> theirs = new LinkedHashMap<>();
        theirs.put("--lr", "0.01");
        theirs.put("--seed", "42");
        theirs.put("data CRC-32", "0badf00d");
        List<String> messages = connectAll(master, new int[][] {{0, 2}, {1, 2}}, List.of(ours, theirs));
        assertEquals("rank 1 was started with another setup than rank 0: --lr 0.01 (rank 0: 1.0E-4), --project-alpha "
                + "not given (rank 0: true), data CRC-32 0badf00d (rank 0: not given); all processes need the same "
                + "training options and data (start every process with the same training options and data set)",
                messages.get(0));
        assertEquals("rank 0 refused the group: " + messages.get(0), messages.get(1));
    }

    @Test
    void aSetupEntryThatCannotBeSentIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataParallel.connect(
                loopback(freePort()), 0, 2, Duration.ofSeconds(2), null, Map.of("--data", "a\nb")));
        assertTrue(e.getMessage().contains("line break"), e.getMessage());
    }

    @Test
    void ranksStartedWithOtherTrainingOptionsStopWithTheOptionNamed() throws Exception {
        Path data = Files.createDirectory(directory.resolve("tiny"));
        TinyDataSet.write(data, 16, 8, 10);
        String master = "127.0.0.1:" + freePort();
        String[] common = {"--data", data.toString(), "--net", "LinearMNIST", "--activations", "AReLU", "--threads",
            "1", "--world-size", "2", "--master", master, "--dist-timeout", "10"};
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            Future<CommandRun> rank0 = threads.submit(() -> run(concat(common, "--rank", "0", "--lr", "0.05")));
            Future<CommandRun> rank1 = threads.submit(() -> run(concat(common, "--rank", "1", "--lr", "0.01",
                    "--project-alpha")));
            CommandRun first = rank0.get(HANG_GUARD.toSeconds(), TimeUnit.SECONDS);
            CommandRun second = rank1.get(HANG_GUARD.toSeconds(), TimeUnit.SECONDS);
            assertEquals(1, first.exitCode(), first.err());
            assertEquals(1, second.exitCode(), second.err());
            String expected = "rank 1 was started with another setup than rank 0: --project-alpha true (rank 0: "
                    + "false), --lr 0.01 (rank 0: 0.05)";
            assertTrue(first.err().contains("compare: data-parallel training failed: " + expected), first.err());
            assertTrue(second.err().contains("rank 0 refused the group: " + expected), second.err());
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aRankTakenTwiceIsNamed() throws Exception {
        DataParallel.Master master = loopback(freePort());
        List<String> messages = connectAll(master, new int[][] {{0, 3}, {1, 3}, {1, 3}});
        assertTrue(messages.get(0).startsWith("rank(s) [2] of world size 3 did not arrive"), messages.get(0));
        List<String> ranksOne = List.of(messages.get(1), messages.get(2));
        assertTrue(ranksOne.contains("rank 1 is already taken by another process at " + master
                + "; every process needs its own rank (give each process its own --rank)"), ranksOne.toString());
        assertTrue(ranksOne.contains("rank 0 refused the group: " + messages.get(0)), ranksOne.toString());
    }

    @Test
    void badOptionsGetUsage() {
        String[][] badArguments = {
            {"--rank", "2", "--world-size", "2"}, {"--rank", "-1"}, {"--world-size", "0"},
            {"--master", "localhost"}, {"--master", "localhost:70000"}, {"--master", "localhost:port"},
            {"--local-workers", "-1"}, {"--dist-timeout", "0"}, {"--world-size", "2", "--local-workers", "2"}};
        for (String[] arguments : badArguments) {
            CommandRun outcome = run(arguments);
            assertEquals(2, outcome.exitCode(), String.join(" ", arguments));
            assertTrue(outcome.err().contains("Usage: compare"), outcome.err());
        }
        assertTrue(run("--rank", "2", "--world-size", "2").err().contains(
                "Invalid value for option '--rank': 2 (must be 0 to --world-size - 1 = 1)"));
    }

    /** In one process nothing connects: the group's options would be ignored without a word. */
    @Test
    void optionsOfAGroupAreRefusedInOneProcess() {
        String missing = directory.resolve("missing").toString();
        String[][] alone = {{}, {"--world-size", "1"}, {"--local-workers", "1"}};
        for (String[] option : new String[][] {{"--master", "127.0.0.1:29501"}, {"--gloo-interface", "lo"},
            {"--dist-timeout", "5"}}) {
            for (String[] processes : alone) {
                CommandRun outcome = run(concat(concat(option, processes), "--data", missing));
                assertEquals(2, outcome.exitCode(), outcome.err());
                assertTrue(outcome.err().startsWith(option[0] + " is for data-parallel training: give it with "
                        + "--world-size or --local-workers of 2 or more"), outcome.err());
            }
        }
    }

    /** 1e10 s overflowed Duration's nanoseconds (ArithmeticException); under 0.0005 s it rounded to 0 ms. */
    @Test
    void theTimeoutHasBoundsNamedInTheMessage() {
        for (String timeout : new String[] {"1.0E10", "4.0E-4"}) {
            CommandRun outcome = run("--data", directory.resolve("missing").toString(), "--dist-timeout", timeout);
            assertEquals(2, outcome.exitCode(), outcome.err());
            assertTrue(outcome.err().contains("Invalid value for option '--dist-timeout': " + timeout + " (must be "
                    + "0.001 to 1000000 seconds)"), outcome.err());
        }
    }

    /** Each worker gets --world-size and --rank of its own: given as well, even 1 and 0, picocli refused them twice. */
    @Test
    void localWorkersRefuseWorldSizeAndRankOfTheUser() {
        for (String[] given : new String[][] {{"--world-size", "1"}, {"--rank", "0"}}) {
            CommandRun outcome = run(concat(given, "--local-workers", "2", "--data",
                    directory.resolve("missing").toString()));
            assertEquals(2, outcome.exitCode(), outcome.err());
            assertTrue(outcome.err().startsWith("--local-workers starts its own ranks: give it without --world-size "
                    + "and --rank"), outcome.err());
        }
    }

    /**
     * When rank 0 cannot serve the store, rank 1 waits in the rendezvous for it until --dist-timeout: stopped
     * at once instead. (Here rank 1 reaches the program that holds the port, which never answers.)
     */
    @Test
    void localWorkersStopARankWaitingForTheGroupOnceAnotherFailed() throws Exception {
        Path data = Files.createDirectory(directory.resolve("tiny"));
        TinyDataSet.write(data, 16, 8, 10);
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CommandRun outcome = run("--data", data.toString(), "--net", "LinearMNIST", "--activations", "ReLU",
                    "--threads", "1", "--local-workers", "2", "--master", "127.0.0.1:" + taken.getLocalPort(),
                    "--dist-timeout", "30");
            assertEquals(1, outcome.exitCode(), outcome.err());
            assertTrue(outcome.err().contains("port " + taken.getLocalPort() + " is already in use"), outcome.err());
            assertTrue(outcome.err().contains("worker rank 1 was waiting for the group to form when rank 0 failed: "
                    + "stopped"), outcome.err());
            assertFalse(outcome.err().contains("[rank 1] compare: data-parallel training failed"),
                    "rank 1 did not wait for its own timeout: " + outcome.err());
        }
    }

    /**
     * A SIGKILL of the --local-workers process runs none of its hooks: the workers notice and stop by themselves,
     * and delete the directory of their marks, which the starter would have deleted.
     */
    @Test
    void workersStopWhenTheProcessThatStartedThemIsKilled() throws Exception {
        Path data = Files.createDirectory(directory.resolve("tiny"));
        TinyDataSet.write(data, 16, 8, 10);
        Path temporary = Files.createDirectory(directory.resolve("tmp"));
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-Djava.io.tmpdir=" + temporary);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "compare",
                "--data", data.toString(), "--net", "LinearMNIST", "--activations", "ReLU", "--threads", "1",
                "--epochs", "100000", "--local-workers", "2"));
        Path log = directory.resolve("starter.log");
        Process starter = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        List<ProcessHandle> workers = List.of();
        try {
            long deadline = System.nanoTime() + HANG_GUARD.toNanos();
            // Training: both workers up and rank 0 past its first epoch.
            while (System.nanoTime() < deadline && (workers.size() < 2 || !Files.readString(log).contains("epoch 2/"))) {
                assertTrue(starter.isAlive(), Files.readString(log));
                workers = starter.children().toList();
                Thread.sleep(200);
            }
            assertEquals(2, workers.size(), Files.readString(log));
            starter.destroyForcibly().waitFor();
            for (ProcessHandle worker : workers) {
                worker.onExit().get(30, TimeUnit.SECONDS);
            }
            try (Stream<Path> left = Files.list(temporary)) {
                assertEquals(List.of(), left.toList(), "left in the temporary directory");
            }
        } finally {
            starter.destroyForcibly();
            workers.forEach(ProcessHandle::destroyForcibly);
        }
    }

    /**
     * A worker whose starter is gone while it waits for the group to form deletes its own mark and the marks'
     * directory (System.exit closes no mark); a variable that names a file, or a directory not named as the starter
     * names its own, is left alone.
     */
    @Test
    void aWorkerOrphanedWhileWaitingForTheGroupDeletesItsMarkAndOnlyTheStartersDirectory() throws Exception {
        Path marks = Files.createTempDirectory(directory, "arelu-local-workers");
        Path file = Files.writeString(directory.resolve("arelu-local-workers-not-a-directory"), "kept");
        Path other = Files.createDirectory(directory.resolve("someone-elses"));
        for (Path named : List.of(marks, file, other)) {
            ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-cp", System.getProperty("java.class.path"), OrphanedWorker.class.getName())
                    .redirectErrorStream(true);
            builder.environment().put(LocalWorkers.WAITING_MARKS, named.toString());
            builder.environment().put(LocalWorkers.STARTER, "999999999:0"); // no such process
            Process worker = builder.start();
            String output = new String(worker.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(worker.waitFor(60, TimeUnit.SECONDS), output);
            assertEquals(1, worker.exitValue(), output);
            assertTrue(output.contains("the --local-workers process that started this worker is gone"), output);
        }
        assertFalse(Files.exists(marks), "the starter's directory, with the waiting rank's mark, is left");
        assertEquals("kept", Files.readString(file));
        try (Stream<Path> left = Files.list(other)) {
            // The worker's mark (made by markWaitingForGroup, which trusts the variable) stays with the directory.
            assertEquals(List.of(other.resolve("rank-0.waiting")), left.toList());
        }
    }

    /** A worker knows its starter by pid and start time: a pid reused by another process is no starter. */
    @Test
    void theStarterIsKnownByItsPidAndStartTime() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        long start = self.info().startInstant().orElseThrow().toEpochMilli();
        assertTrue(LocalWorkers.isRunning(self.pid() + ":" + start));
        assertFalse(LocalWorkers.isRunning(self.pid() + ":" + (start - 1000)), "another process under a reused pid");
        Process ended = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-version").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        ended.waitFor();
        assertFalse(LocalWorkers.isRunning(ended.pid() + ":-1"));
    }

    /**
     * Ranks above 0 print nothing of their own, but what they print must not fill a pipe nobody reads (they
     * would block on it forever). {@link ChattyWorker} prints a megabyte on rank 1, a line on rank 0.
     */
    @Test
    void theOutputOfRanksAbove0IsDiscardedNotLeftToBlockThem() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        LocalWorkers workers = new LocalWorkers(List.of(ChattyWorker.class.getName()), List.of(), 2, null, true,
                Duration.ofSeconds(5));
        int exitCode = assertTimeoutPreemptively(HANG_GUARD, () -> workers.run(new PrintWriter(out, true),
                new PrintWriter(err, true)), "a rank blocked on its output");
        assertEquals(0, exitCode, err.toString());
        assertEquals(ChattyWorker.RANK_0_LINE + System.lineSeparator(), out.toString());
    }

    @Test
    void shardsCoverABatchInOrderWithSizesDifferingByAtMostOne() {
        for (int worldSize = 1; worldSize <= 5; worldSize++) {
            for (int size : new int[] {1, 3, 88, 89, 128}) {
                int next = 0;
                for (int rank = 0; rank < worldSize; rank++) {
                    GradientSync.Shard shard = GradientSync.Shard.of(rank, worldSize, size);
                    assertEquals(next, shard.offset());
                    assertTrue(Math.abs(shard.length() - (double) size / worldSize) < 1, shard.toString());
                    next += shard.length();
                }
                assertEquals(size, next);
            }
        }
    }

    @Test
    void workersGetTheirRankTheMasterAndAShareOfTheCores() {
        List<String> user = List.of("--net", "LinearMNIST", "--local-workers", "2", "--master", "h:1", "--epochs", "3");
        List<String> arguments = LocalWorkers.workerArguments(user, 1, 2, loopback(4000), false);
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
        assertEquals(List.of("--net", "LinearMNIST", "--epochs", "3", "--world-size", "2", "--rank", "1", "--master",
                "127.0.0.1:4000", "--threads", Integer.toString(threads)), arguments);
        assertEquals(List.of("--threads", "1", "--world-size", "2", "--rank", "0", "--master", "127.0.0.1:4000"),
                LocalWorkers.workerArguments(List.of("--threads", "1", "--local-workers=2"), 0, 2, loopback(4000), true));
        // Alone, a worker refuses --master as any process alone does.
        assertEquals(List.of("--threads", "1", "--world-size", "1", "--rank", "0"),
                LocalWorkers.workerArguments(List.of("--threads", "1", "--local-workers", "1"), 0, 1, loopback(4000),
                        true));
    }

    private static CommandRun run(String... args) {
        return CommandRun.of(new CompareCommand(ProgressBar.silent()), args);
    }

    /**
     * Connects every {rank, world size} on its own thread; returns each one's failure as the commands print
     * it, in order.
     */
    private static List<String> connectAll(DataParallel.Master master, int[][] ranks) throws Exception {
        List<Map<String, String>> setups = new ArrayList<>();
        for (int i = 0; i < ranks.length; i++) {
            setups.add(Map.of());
        }
        return connectAll(master, ranks, setups);
    }

    /** As above, each rank with its setup. */
    private static List<String> connectAll(DataParallel.Master master, int[][] ranks, List<Map<String, String>> setups)
            throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(ranks.length);
        try {
            List<Future<String>> outcomes = new ArrayList<>();
            for (int i = 0; i < ranks.length; i++) {
                int[] rank = ranks[i];
                Map<String, String> setup = setups.get(i);
                outcomes.add(threads.submit(() -> {
                    try {
                        DataParallel.connect(master, rank[0], rank[1], Duration.ofSeconds(3), null, setup);
                        return "connected";
                    } catch (DataParallelException e) {
                        return DistributedOptions.describe(e);
                    }
                }));
            }
            List<String> messages = new ArrayList<>();
            for (Future<String> outcome : outcomes) {
                messages.add(outcome.get(HANG_GUARD.toSeconds(), TimeUnit.SECONDS));
            }
            return messages;
        } finally {
            threads.shutdownNow();
        }
    }

    /** Runs {@code mode} on two ranks, each writing {@code output}.rankR, and reads what rank 0 and rank 1 wrote. */
    private List<List<float[]>> twoRanks(String mode, Path output) throws Exception {
        String master = "127.0.0.1:" + freePort();
        Worker rank0 = Worker.start(directory, mode, 0, 2, master, 60, output);
        Worker rank1 = Worker.start(directory, mode, 1, 2, master, 60, output);
        assertEquals(0, rank0.finish(), rank0.log());
        assertEquals(0, rank1.finish(), rank1.log());
        return List.of(readParameters(Path.of(output + ".rank0")), readParameters(Path.of(output + ".rank1")));
    }

    /** A JVM running {@link DataParallelWorker}, its output in a file. */
    private record Worker(Process process, Path logFile) {

        static Worker start(Path directory, String mode, int rank, int worldSize, String master, double timeoutSeconds,
                Path parameters) throws IOException {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), DataParallelWorker.class.getName(),
                    mode, Integer.toString(rank), Integer.toString(worldSize), master, Double.toString(timeoutSeconds),
                    parameters.toString()));
            Path log = Files.createTempFile(directory, mode + "-rank" + rank + "-", ".log");
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new Worker(process, log);
        }

        int finish() throws InterruptedException {
            if (!process.waitFor(HANG_GUARD.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                fail("worker still running after " + HANG_GUARD + ": " + log());
            }
            return process.exitValue();
        }

        String log() {
            try {
                return Files.readString(logFile);
            } catch (IOException e) {
                return "(log unreadable: " + e + ")";
            }
        }
    }

    private static List<float[]> readParameters(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            List<float[]> parameters = new ArrayList<>();
            int count = in.readInt();
            for (int i = 0; i < count; i++) {
                float[] values = new float[in.readInt()];
                for (int j = 0; j < values.length; j++) {
                    values[j] = in.readFloat();
                }
                parameters.add(values);
            }
            return parameters;
        }
    }

    /** The parameters rank 0 and the single process start from, before any step. */
    private static List<float[]> initialParameters() {
        MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ConvMNIST, ActivationSpec.byName("AReLU"),
                MnistData.CLASSES, DataParallelWorker.SEED);
        TensorVector parameters = network.parameters();
        List<float[]> values = new ArrayList<>();
        for (long i = 0; i < parameters.size(); i++) {
            values.add(DataParallelWorker.floats(parameters.get(i)));
        }
        return values;
    }

    private static double maxDifference(List<float[]> a, List<float[]> b) {
        assertEquals(a.size(), b.size());
        double max = 0;
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).length, b.get(i).length);
            for (int j = 0; j < a.get(i).length; j++) {
                max = Math.max(max, Math.abs(a.get(i)[j] - b.get(i)[j]));
            }
        }
        return max;
    }

    private static double[] trainLoss(String json) {
        Matcher matcher = Pattern.compile("\"trainLoss\": \\[([^]]*)]").matcher(json);
        assertTrue(matcher.find(), json);
        String[] values = matcher.group(1).split(",");
        double[] losses = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            losses[i] = Double.parseDouble(values[i].trim());
        }
        return losses;
    }

    private static int count(String text, String part) {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
            count++;
        }
        return count;
    }

    private static String[] concat(String[] first, String... second) {
        String[] all = new String[first.length + second.length];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(second, 0, all, first.length, second.length);
        return all;
    }

    private static DataParallel.Master loopback(int port) {
        return new DataParallel.Master("127.0.0.1", port);
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
