package io.github.arelu.examples.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.github.arelu.examples.dist.DataParallel;
import io.github.arelu.examples.dist.DataParallelException;
import io.github.arelu.examples.train.GradientSync;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * Data-parallel training options, named like torchrun's: {@code --world-size N --rank R --master HOST:PORT}
 * for one process each (on one or several machines), or {@code --local-workers N} to start N such processes
 * on this machine. Checked by {@link #validate()}.
 */
public final class DistributedOptions {

    /** torchrun's default port. */
    static final String DEFAULT_MASTER = "127.0.0.1:29500";
    /** The shortest {@code --dist-timeout}: c10d counts in milliseconds, and less would round to none. */
    static final double MIN_TIMEOUT_SECONDS = 0.001;
    /** The longest, about 11.6 days: far more would overflow the nanoseconds that the waits count in. */
    static final double MAX_TIMEOUT_SECONDS = 1e6;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--world-size", paramLabel = "N", description = "data parallel: the number of processes "
            + "that train together, each on its shard of every batch (default: ${DEFAULT-VALUE}, alone)")
    int worldSize = 1;

    @Option(names = "--rank", paramLabel = "R", description = "data parallel: this process's rank, 0 to N-1; "
            + "rank 0 serves the rendezvous store and alone prints and writes files (default: ${DEFAULT-VALUE})")
    int rank = 0;

    @Option(names = "--master", paramLabel = "HOST:PORT", description = "data parallel: where rank 0 serves the "
            + "rendezvous store (default: ${DEFAULT-VALUE}; with --local-workers a free loopback port)")
    String master = DEFAULT_MASTER;

    @Option(names = "--local-workers", paramLabel = "N", description = "start N data-parallel processes on this "
            + "machine (ranks 0 to N-1, --threads split between them unless given) and wait for them all")
    int localWorkers = 0;

    @Option(names = "--dist-timeout", paramLabel = "SECONDS", description = "data parallel: how long the "
            + "rendezvous and each collective wait for the other processes before failing (default: "
            + "${DEFAULT-VALUE})")
    double timeoutSeconds = 60;

    @Option(names = "--gloo-interface", paramLabel = "NAME", description = "data parallel: the network interface "
            + "gloo uses between machines, such as eth0 (default: loopback when --master is, else the address "
            + "of this machine's host name)")
    String glooInterface;

    /** Checks the options together; errors end in picocli's usage message. */
    void validate() {
        CommandLine commandLine = command.commandLine();
        OptionChecks.requireAtLeast(commandLine, "--world-size", worldSize, 1);
        if (rank < 0 || rank >= worldSize) {
            throw OptionChecks.invalid(commandLine, "--rank", rank + " (must be 0 to --world-size - 1 = "
                    + (worldSize - 1) + ")");
        }
        OptionChecks.requireAtLeast(commandLine, "--local-workers", localWorkers, 0);
        // Given at all, even as 1 and 0: every worker gets its own, and picocli refuses an option given twice.
        ParseResult parsed = commandLine.getParseResult();
        if (localWorkers > 0 && (parsed.hasMatchedOption("--world-size") || parsed.hasMatchedOption("--rank"))) {
            throw new ParameterException(commandLine, "--local-workers starts its own ranks: give it "
                    + "without --world-size and --rank");
        }
        if (!(timeoutSeconds >= MIN_TIMEOUT_SECONDS && timeoutSeconds <= MAX_TIMEOUT_SECONDS)) {
            throw OptionChecks.invalid(commandLine, "--dist-timeout", timeoutSeconds + " (must be "
                    + MIN_TIMEOUT_SECONDS + " to " + (long) MAX_TIMEOUT_SECONDS + " seconds)");
        }
        try {
            DataParallel.Master.parse(master);
        } catch (IllegalArgumentException e) {
            throw OptionChecks.invalid(commandLine, "--master", master + " (" + e.getMessage() + ")");
        }
        if (worldSize == 1 && localWorkers <= 1) {
            // One process trains and connects to nothing: the option would be ignored without a word.
            for (String option : List.of("--master", "--gloo-interface", "--dist-timeout")) {
                if (parsed.hasMatchedOption(option)) {
                    throw new ParameterException(commandLine, option + " is for data-parallel training: give it "
                            + "with --world-size or --local-workers of 2 or more");
                }
            }
        }
    }

    boolean startsLocalWorkers() {
        return localWorkers > 0;
    }

    /**
     * Starts {@code --local-workers} processes running this command through {@link Main} with this command
     * line and waits for them all; returns 0 when all succeeded, else 1.
     */
    int runLocalWorkers() {
        boolean masterGiven = command.commandLine().getParseResult().hasMatchedOption("--master");
        boolean threadsGiven = command.commandLine().getParseResult().hasMatchedOption("--threads");
        LocalWorkers workers = new LocalWorkers(List.of(Main.class.getName(), command.name()), ownArguments(),
                localWorkers, masterGiven ? DataParallel.Master.parse(master) : null, threadsGiven, timeout());
        return workers.run(command.commandLine().getOut(), command.commandLine().getErr());
    }

    /**
     * This command's arguments with @-files expanded: a worker must find {@code --local-workers} and
     * {@code --master} among them to leave them out, as it would not inside a file. Under the root command the
     * arguments begin with this command's name, which the workers get anyway.
     */
    List<String> ownArguments() {
        List<String> arguments = command.commandLine().getParseResult().expandedArgs();
        return command.parent() == null ? arguments
                : arguments.subList(arguments.indexOf(command.name()) + 1, arguments.size());
    }

    /**
     * This process's group, or training alone at world size 1; {@code setup} is what every rank must agree on
     * (see {@link DataParallel#connect}).
     */
    GradientSync join(Map<String, String> setup) {
        if (worldSize == 1) {
            return GradientSync.singleProcess();
        }
        LocalWorkers.exitWithStarter(rank);
        try (LocalWorkers.Mark waiting = LocalWorkers.markWaitingForGroup(rank)) {
            return DataParallel.connect(DataParallel.Master.parse(master), rank, worldSize, timeout(),
                    glooInterface, setup);
        }
    }

    Duration timeout() {
        return Duration.ofMillis(Math.round(timeoutSeconds * 1000));
    }

    /** Prints a failure of the group (no usage message: the options were fine); returns exit code 1. */
    int reportFailure(DataParallelException e) {
        PrintWriter err = command.commandLine().getErr();
        err.println(command.name() + ": data-parallel training failed: " + describe(e));
        err.flush();
        return 1;
    }

    /** The failure's message and which options to change, in this command line's terms. */
    static String describe(DataParallelException e) {
        String advice = switch (e.reason()) {
            case MASTER_PORT_IN_USE -> "choose a free port with --master HOST:PORT";
            case MASTER_UNAVAILABLE -> "check --master HOST:PORT, or allow more time with --dist-timeout";
            case RANK_TAKEN -> "give each process its own --rank";
            case WORLD_SIZE_MISMATCH -> "start every process with the same --world-size";
            case SETUP_MISMATCH -> "start every process with the same training options and data set";
            case RANKS_MISSING -> "start every --rank from 0 to --world-size - 1, or allow more time with "
                    + "--dist-timeout";
            case NETWORK_INTERFACE -> "name the network interface gloo should use with --gloo-interface";
            case TIMED_OUT -> "the timeout is --dist-timeout";
        };
        return e.getMessage() + " (" + advice + ")";
    }
}
