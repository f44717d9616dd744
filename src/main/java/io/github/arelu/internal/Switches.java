package io.github.arelu.internal;

import java.util.Arrays;
import java.util.Locale;

/**
 * The library's {@code -D} switches, read strictly. {@code Boolean.getBoolean} reads every value but {@code true} as
 * false, so {@code -Darelu.cuda.fused=yes} (or a misspelt {@code ture}) left the fused CUDA kernels off without a
 * word; here a value that is none of the switch's words is refused, naming the switch, the value and the words.
 */
public final class Switches {

    private Switches() {
    }

    /**
     * A switch read once, for a static field: its word, or why its value is refused. A refusal thrown from a static
     * initializer would reach the caller as an {@code ExceptionInInitializerError} once and as a {@code
     * NoClassDefFoundError} without the reason ever after; kept here, it is thrown afresh at every use.
     *
     * @param word the word the switch names, or null where it is not set or refused
     * @param problem why its value is refused, or null
     */
    public record Setting(String word, String problem) {

        /**
         * @return the word, or null where the switch is not set
         * @throws IllegalArgumentException where its value is refused, naming it
         */
        public String get() {
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
            return word;
        }

        /**
         * @return whether a flag ({@link #read read} with the words {@code true} and {@code false}) is on
         * @throws IllegalArgumentException where its value is refused, naming it
         */
        public boolean on() {
            return "true".equals(get());
        }
    }

    /**
     * Reads a switch now and keeps what it says, a refusal included.
     *
     * @param property the system property
     * @param words the values it may take, in lower case
     * @return the word it names, or the refusal {@link #choice} would throw
     */
    public static Setting read(String property, String... words) {
        try {
            return new Setting(choice(property, words), null);
        } catch (IllegalArgumentException e) {
            return new Setting(null, e.getMessage());
        }
    }

    /**
     * A switch that is on or off.
     *
     * @param property the system property
     * @return false where it is not set, else its value, {@code true} or {@code false} in any case
     * @throws IllegalArgumentException for any other value, naming it
     */
    public static boolean flag(String property) {
        String value = choice(property, "true", "false");
        return "true".equals(value);
    }

    /**
     * A switch that takes one of a few words.
     *
     * @param property the system property
     * @param words the values it may take, in lower case
     * @return null where it is not set, else the word it names (in any case)
     * @throws IllegalArgumentException for any other value, naming it and the words
     */
    public static String choice(String property, String... words) {
        String value = System.getProperty(property);
        if (value == null) {
            return null;
        }
        String word = value.trim().toLowerCase(Locale.ROOT);
        if (Arrays.asList(words).contains(word)) {
            return word;
        }
        throw new IllegalArgumentException("-D" + property + " must be " + String.join(" or ", words) + ", got '"
                + value + "'");
    }
}
