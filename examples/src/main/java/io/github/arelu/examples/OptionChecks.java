package io.github.arelu.examples;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Checks of option values that picocli's types do not make; a failure ends in the usage message and exit 2. */
final class OptionChecks {

    private OptionChecks() {
    }

    static void requireAtLeast(CommandLine commandLine, String option, long value, long minimum) {
        if (value < minimum) {
            throw new ParameterException(commandLine,
                    "Invalid value for option '" + option + "': " + value + " (must be at least " + minimum + ")");
        }
    }

    static void requirePositiveFinite(CommandLine commandLine, String option, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new ParameterException(commandLine,
                    "Invalid value for option '" + option + "': " + value + " (must be a positive number)");
        }
    }
}
