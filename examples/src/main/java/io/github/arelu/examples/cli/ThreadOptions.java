package io.github.arelu.examples.cli;

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
}
