package io.github.arelu.examples.cli;

import java.util.List;

import io.github.arelu.examples.model.ActivationSpec;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Checks of option values that picocli's types do not make; a failure ends in the usage message and exit 2. */
final class OptionChecks {

    private OptionChecks() {
    }

    static void requireAtLeast(CommandLine commandLine, String option, long value, long minimum) {
        if (value < minimum) {
            throw invalid(commandLine, option, value + " (must be at least " + minimum + ")");
        }
    }

    static void requirePositiveFinite(CommandLine commandLine, String option, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw invalid(commandLine, option, value + " (must be a positive number)");
        }
    }

    /** The activations named by {@code option}'s comma-separated list. */
    static List<ActivationSpec<?>> activations(CommandLine commandLine, String option, String list) {
        try {
            return ActivationSpec.parseList(list);
        } catch (IllegalArgumentException e) {
            throw invalid(commandLine, option, e.getMessage());
        }
    }

    /** picocli's wording for a bad option value, followed by {@code detail}. */
    static ParameterException invalid(CommandLine commandLine, String option, String detail) {
        return new ParameterException(commandLine, "Invalid value for option '" + option + "': " + detail);
    }
}
