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
