package io.github.arelu.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code --threads}: libtorch's thread count, which {@link Main} sets once for the whole process. */
public final class ThreadOptions {

    // libtorch starts with 1 thread on some machines (2-core VMs among them), so the default is explicit.
    @Option(names = "--threads", paramLabel = "N", description = "libtorch threads (default: ${DEFAULT-VALUE}; "
            + "this machine's cores unless the command says otherwise)")
    int threads;

    /** For picocli; this machine's cores by default. */
    public ThreadOptions() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** With another default, for a command whose work gains nothing from more threads. */
    public ThreadOptions(int defaultThreads) {
        threads = defaultThreads;
    }

    /**
     * The most {@code --threads} allowed: 4 per core this JVM may use. More only contend for the cores, and
     * libtorch starts them all when the count is set, before anything else could fail (100000 started
     * thousands of threads before a missing data set was reported).
     */
    static int maximum() {
        return 4 * Runtime.getRuntime().availableProcessors();
    }

    /** Checks {@code --threads} against 1 and {@link #maximum()}; errors end in picocli's usage message. */
    void validate(CommandLine commandLine) {
        if (threads < 1 || threads > maximum()) {
            throw OptionChecks.invalid(commandLine, "--threads", threads + " (must be 1 to " + maximum() + ", 4 x "
                    + "this machine's " + Runtime.getRuntime().availableProcessors() + " core(s))");
        }
    }
}
