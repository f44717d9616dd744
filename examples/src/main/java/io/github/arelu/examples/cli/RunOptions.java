package io.github.arelu.examples.cli;

import picocli.CommandLine.Option;

/** {@code --runs} and {@code --seed}: how many seeded runs each activation gets. */
public final class RunOptions {

    @Option(names = "--runs", paramLabel = "N", description = "runs per activation, seeds SEED, SEED+1, ... "
            + "(default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--seed", paramLabel = "SEED", description = "seed of the first run (default: ${DEFAULT-VALUE})")
    long seed = 42;

    /** For picocli; one run by default. */
    public RunOptions() {
        this(1);
    }

    /** With another default number of runs, for a command whose experiment needs more. */
    public RunOptions(int defaultRuns) {
        runs = defaultRuns;
    }
}
