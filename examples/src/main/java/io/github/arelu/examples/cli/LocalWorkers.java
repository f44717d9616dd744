package io.github.arelu.examples.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import io.github.arelu.examples.dist.DataParallel;

/**
 * {@code --local-workers N}: starts N JVMs on this machine, ranks 0 to N-1 of one data-parallel group, with
 * this JVM's options and class path and the user's arguments, then waits for them all and reports every
 * rank that failed. Rank 0's output and everyone's errors (ranks above 0 prefixed {@code [rank R]}) come out
 * of this process; the output of ranks above 0, which print nothing of their own, is discarded.
 *
 * <p>Once a rank has failed, a rank still waiting for the group to form is stopped at once: it would wait for
 * the failed one until the timeout. Each worker marks, with a file in a directory this process names in
 * {@link #WAITING_MARKS}, while it waits in the rendezvous. After the group has formed the ranks stop by
 * themselves when one fails (see {@link DataParallel}); should one still be running {@code timeout} plus
 * {@link #GRACE} after another failed, it is killed, so this never hangs either.
 */
final class LocalWorkers {

    /** Time for a rank to report a failed collective and exit, on top of the collective's own timeout. */
    static final Duration GRACE = Duration.ofSeconds(30);
    /** The environment variable that names the directory of the workers' {@link #markWaitingForGroup} files. */
    static final String WAITING_MARKS = "ARELU_LOCAL_WORKERS_WAITING";

    /** How the directory of the marks is named (then a random number). */
    private static final String MARKS_PREFIX = "arelu-local-workers";

    /** The environment variable naming the starting process to its workers, as {@code PID:START}. */
    static final String STARTER = "ARELU_LOCAL_WORKERS_STARTER";
    /** How often a worker looks for the process that started it. */
    private static final Duration STARTER_POLL = Duration.ofSeconds(1);

    /** A mark that lasts until it is closed. */
    interface Mark extends AutoCloseable {
        @Override
        void close();
    }

    private final List<String> mainClassAndCommand;
    private final List<String> userArguments;
    private final int count;
    private final DataParallel.Master master;
    private final boolean threadsGiven;
    private final Duration timeout;

    /**
     * @param mainClassAndCommand the class whose main each worker runs, then the arguments that name the
     *     command (such as {@code io.github.arelu.examples.cli.Main compare})
     * @param master where rank 0 serves the store, or null for a free port on the loopback
     * @param threadsGiven whether the user chose {@code --threads}; if not, each worker gets an equal share
     *     of this machine's cores, so that N workers do not start N times as many threads as there are cores
     */
    LocalWorkers(List<String> mainClassAndCommand, List<String> userArguments, int count, DataParallel.Master master,
            boolean threadsGiven, Duration timeout) {
        this.mainClassAndCommand = List.copyOf(mainClassAndCommand);
        this.userArguments = List.copyOf(userArguments);
        this.count = count;
        this.master = master;
        this.threadsGiven = threadsGiven;
        this.timeout = timeout;
    }

    /**
     * Marks, until the mark is closed, that this process (rank {@code rank} of a group that {@code
     * --local-workers} started) waits for the others in the rendezvous. Outside such a group, or where the
     * mark cannot be made, a mark that marks nothing: the starting process then only waits longer.
     */
    static Mark markWaitingForGroup(int rank) {
        String directory = System.getenv(WAITING_MARKS);
        if (directory == null) {
            return () -> { };
        }
        Path mark = Path.of(directory, waitingMarkName(rank));
        try {
            Files.createFile(mark);
        } catch (IOException e) {
            return () -> { };
        }
        return () -> {
            try {
                Files.deleteIfExists(mark);
            } catch (IOException e) {
                // Left behind, it can only get this rank stopped once another has failed.
            }
        };
    }

    /**
     * In a worker that {@code --local-workers} started: ends this process, with a line saying why, once the
     * process that started it is gone. That process stops its workers on SIGTERM and ^C, but a SIGKILL runs no
     * shutdown hook, and the workers would train on unattended, rank 0 writing its files. The starter is known by
     * its pid and start time ({@link #STARTER}), so a starter gone before this call, or a pid reused since, counts
     * as gone. Elsewhere, nothing.
     */
    static void exitWithStarter(int rank) {
        String starter = System.getenv(STARTER);
        if (starter == null) {
            return;
        }
        Thread.ofPlatform().daemon().name("arelu-local-workers-starter").start(() -> {
            try {
                while (isRunning(starter)) {
                    Thread.sleep(STARTER_POLL.toMillis());
                }
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("rank " + rank + ": the --local-workers process that started this worker is gone: "
                    + "stopping");
            deleteMarksDirectoryOfGoneStarter(rank);
            System.exit(1);
        });
    }

    /**
     * The starter deletes the marks' directory when it ends; killed, it leaves it in the temporary directory, so
     * the workers it leaves delete it: each its own mark (System.exit closes no mark of a rank still waiting for
     * the group), then the directory if it is empty, so the last rank to leave deletes it. Only a directory named
     * as the starter names its own, never a link or a file that the variable happens to name.
     */
    private static void deleteMarksDirectoryOfGoneStarter(int rank) {
        String name = System.getenv(WAITING_MARKS);
        if (name == null) {
            return;
        }
        Path directory = Path.of(name);
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS) || directory.getFileName() == null
                || !directory.getFileName().toString().startsWith(MARKS_PREFIX)) {
            return;
        }
        try {
            Files.deleteIfExists(directory.resolve(waitingMarkName(rank)));
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // Not empty (another rank still waits in it): that rank deletes it.
        }
    }

    /** {@code PID:START} of this process, as {@link #STARTER} gives it to the workers. */
    private static String thisProcess() {
        ProcessHandle self = ProcessHandle.current();
        return self.pid() + ":" + self.info().startInstant().map(Instant::toEpochMilli).orElse(-1L);
    }

    /** Whether the process {@code PID:START} ({@link #thisProcess}) is still running. */
    static boolean isRunning(String process) {
        int colon = process.indexOf(':');
        long pid;
        long start;
        try {
            pid = Long.parseLong(process.substring(0, colon));
            start = Long.parseLong(process.substring(colon + 1));
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            return true; // not ours to judge: watch nothing rather than stop a worker
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(handle -> start < 0 || handle.info().startInstant().map(Instant::toEpochMilli)
                        .orElse(start) == start)
                .isPresent();
    }

    private static String waitingMarkName(int rank) {
        return "rank-" + rank + ".waiting";
    }

    int run(PrintWriter out, PrintWriter err) {
        DataParallel.Master rendezvous = master != null ? master : new DataParallel.Master("127.0.0.1", freePort());
        Path marks;
        try {
            marks = Files.createTempDirectory(MARKS_PREFIX);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a temporary directory for the workers: " + e.getMessage(), e);
        }
        List<Process> processes = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        Thread killer = new Thread(() -> processes.forEach(Process::destroyForcibly));
        Runtime.getRuntime().addShutdownHook(killer);
        try {
            for (int rank = 0; rank < count; rank++) {
                Process process = start(rank, rendezvous, marks);
                processes.add(process);
                String prefix = rank == 0 ? "" : "[rank " + rank + "] ";
                pumps.add(pump(process.getErrorStream(), err, prefix));
                if (rank == 0) {
                    pumps.add(pump(process.getInputStream(), out, ""));
                }
            }
            int[] exitCodes = awaitAll(processes, marks, err);
            for (Thread pump : pumps) {
                pump.join();
            }
            int failures = 0;
            for (int rank = 0; rank < count; rank++) {
                if (exitCodes[rank] != 0) {
                    err.println("worker rank " + rank + " of " + count + " exited with code " + exitCodes[rank]);
                    failures++;
                }
            }
            err.flush();
            return failures == 0 ? 0 : 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            processes.forEach(Process::destroyForcibly);
            return 1;
        } finally {
            Runtime.getRuntime().removeShutdownHook(killer);
            deleteMarks(marks);
        }
    }

    /**
     * Waits for every process. Once one has failed, those waiting for the group to form are stopped at once,
     * and the others get {@code timeout + GRACE} before a kill.
     */
    private int[] awaitAll(List<Process> processes, Path marks, PrintWriter err) throws InterruptedException {
        long killDeadline = Long.MAX_VALUE;
        boolean[] stopped = new boolean[processes.size()];
        while (processes.stream().anyMatch(Process::isAlive)) {
            int failed = lowestFailedRank(processes);
            if (failed >= 0) {
                stopWaitingForGroup(processes, failed, marks, stopped, err);
                if (killDeadline == Long.MAX_VALUE) {
                    killDeadline = System.nanoTime() + timeout.plus(GRACE).toNanos();
                }
            }
            if (System.nanoTime() > killDeadline) {
                for (int rank = 0; rank < processes.size(); rank++) {
                    if (processes.get(rank).isAlive()) {
                        err.println("worker rank " + rank + " was still running " + timeout.plus(GRACE).toSeconds()
                                + " s after another failed: killed");
                        processes.get(rank).destroyForcibly();
                    }
                }
                break;
            }
            Thread.sleep(100);
        }
        int[] exitCodes = new int[processes.size()];
        for (int rank = 0; rank < exitCodes.length; rank++) {
            exitCodes[rank] = processes.get(rank).waitFor();
        }
        return exitCodes;
    }

    /** The lowest rank that has exited with an error, or -1. */
    private static int lowestFailedRank(List<Process> processes) {
        for (int rank = 0; rank < processes.size(); rank++) {
            if (!processes.get(rank).isAlive() && processes.get(rank).exitValue() != 0) {
                return rank;
            }
        }
        return -1;
    }

    /** Kills every rank that waits in the rendezvous, where it would wait for {@code failed} until the timeout. */
    private static void stopWaitingForGroup(List<Process> processes, int failed, Path marks, boolean[] stopped,
            PrintWriter err) {
        for (int rank = 0; rank < processes.size(); rank++) {
            if (!stopped[rank] && processes.get(rank).isAlive() && Files.exists(marks.resolve(waitingMarkName(rank)))) {
                stopped[rank] = true;
                synchronized (err) {
                    err.println("worker rank " + rank + " was waiting for the group to form when rank " + failed
                            + " failed: stopped");
                    err.flush();
                }
                processes.get(rank).destroyForcibly();
            }
        }
    }

    private static void deleteMarks(Path marks) {
        try (Stream<Path> left = Files.list(marks)) {
            for (Path mark : left.toList()) {
                Files.deleteIfExists(mark);
            }
            Files.deleteIfExists(marks);
        } catch (IOException e) {
            // An empty directory or a few empty files left in the temporary directory.
        }
    }

    private Process start(int rank, DataParallel.Master rendezvous, Path marks) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(mainClassAndCommand);
        command.addAll(workerArguments(userArguments, rank, count, rendezvous, threadsGiven));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put(WAITING_MARKS, marks.toString());
        builder.environment().put(STARTER, thisProcess());
        if (rank > 0) {
            // Never read: left in a pipe, a rank that printed more than the pipe holds would block on it.
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        try {
            return builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start worker rank " + rank + ": " + e.getMessage(), e);
        }
    }

    /**
     * The user's arguments without {@code --local-workers} and {@code --master}, plus this rank's
     * {@code --world-size}, {@code --rank} and, in a group of two or more, {@code --master}, and a share of the
     * cores as {@code --threads} unless the user gave it.
     */
    static List<String> workerArguments(List<String> userArguments, int rank, int count,
            DataParallel.Master rendezvous, boolean threadsGiven) {
        List<String> arguments = new ArrayList<>();
        for (int i = 0; i < userArguments.size(); i++) {
            String argument = userArguments.get(i);
            if (argument.equals("--local-workers") || argument.equals("--master")) {
                i++; // and its value
            } else if (!argument.startsWith("--local-workers=") && !argument.startsWith("--master=")) {
                arguments.add(argument);
            }
        }
        arguments.addAll(List.of("--world-size", Integer.toString(count), "--rank", Integer.toString(rank)));
        if (count > 1) {
            // A lone worker connects to nobody, and refuses --master as any process alone does.
            arguments.addAll(List.of("--master", rendezvous.toString()));
        }
        if (!threadsGiven) {
            int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / count);
            arguments.addAll(List.of("--threads", Integer.toString(threads)));
        }
        return arguments;
    }

    /** A port free on the loopback now; another program could take it before rank 0 does, which then says so. */
    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port on the loopback: " + e.getMessage(), e);
        }
    }

    /** Copies {@code input} line by line to {@code output}, each line after {@code prefix}, on its own thread. */
    private static Thread pump(InputStream input, PrintWriter output, String prefix) {
        Thread thread = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8))) {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    synchronized (output) {
                        output.println(prefix + line);
                        output.flush();
                    }
                }
            } catch (IOException e) {
                // The worker's end closed early: it is gone, and its exit code tells the rest.
            }
        });
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
