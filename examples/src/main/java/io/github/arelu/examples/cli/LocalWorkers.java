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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.github.arelu.examples.dist.DataParallel;

/**
 * {@code --local-workers N}: starts N JVMs on this machine, ranks 0 to N-1 of one data-parallel group, with
 * this JVM's options and class path and the user's arguments, then waits for them all and reports every
 * rank that failed. Rank 0's output and everyone's errors (ranks above 0 prefixed {@code [rank R]}) come out
 * of this process.
 *
 * <p>The ranks stop by themselves when one fails (see {@link DataParallel}); should one still be running
 * {@code timeout} plus {@link #GRACE} after another failed, it is killed, so this never hangs either.
 */
final class LocalWorkers {

    /** Time for a rank to report a failed collective and exit, on top of the collective's own timeout. */
    static final Duration GRACE = Duration.ofSeconds(30);

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

    int run(PrintWriter out, PrintWriter err) {
        DataParallel.Master rendezvous = master != null ? master : new DataParallel.Master("127.0.0.1", freePort());
        List<Process> processes = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        Thread killer = new Thread(() -> processes.forEach(Process::destroyForcibly));
        Runtime.getRuntime().addShutdownHook(killer);
        try {
            for (int rank = 0; rank < count; rank++) {
                Process process = start(rank, rendezvous);
                processes.add(process);
                String prefix = rank == 0 ? "" : "[rank " + rank + "] ";
                pumps.add(pump(process.getErrorStream(), err, prefix));
                if (rank == 0) {
                    pumps.add(pump(process.getInputStream(), out, ""));
                }
            }
            int[] exitCodes = awaitAll(processes, err);
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
        }
    }

    /** Waits for every process; once one has failed, the others get {@code timeout + GRACE} before a kill. */
    private int[] awaitAll(List<Process> processes, PrintWriter err) throws InterruptedException {
        long killDeadline = Long.MAX_VALUE;
        while (processes.stream().anyMatch(Process::isAlive)) {
            boolean failed = processes.stream().anyMatch(p -> !p.isAlive() && p.exitValue() != 0);
            if (failed && killDeadline == Long.MAX_VALUE) {
                killDeadline = System.nanoTime() + timeout.plus(GRACE).toNanos();
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

    private Process start(int rank, DataParallel.Master rendezvous) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(mainClassAndCommand);
        command.addAll(workerArguments(userArguments, rank, count, rendezvous, threadsGiven));
        try {
            return new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start worker rank " + rank + ": " + e.getMessage(), e);
        }
    }

    /**
     * The user's arguments without {@code --local-workers} and {@code --master}, plus this rank's
     * {@code --world-size}, {@code --rank} and {@code --master}, and a share of the cores as {@code --threads}
     * unless the user gave it.
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
        arguments.addAll(List.of("--world-size", Integer.toString(count), "--rank", Integer.toString(rank),
                "--master", rendezvous.toString()));
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
