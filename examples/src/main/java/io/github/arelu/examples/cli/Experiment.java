package io.github.arelu.examples.cli;

import java.util.concurrent.Callable;

/**
 * A subcommand that trains: {@link Main} checks its options, applies the process-wide settings they ask for,
 * then calls it.
 */
interface Experiment extends Callable<Integer> {

    /** Checks the options together; a bad value throws picocli's {@code ParameterException} (usage, exit 2). */
    void validate();

    /** What libtorch must be set to for this experiment; asked after {@link #validate()}. */
    ProcessSettings processSettings();
}
