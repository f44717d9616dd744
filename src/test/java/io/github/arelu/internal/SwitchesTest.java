package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The library's -D switches take their words in any case and refuse every other value by name, where
 * Boolean.getBoolean read "yes" and misspellings as false.
 */
class SwitchesTest {

    private static final String PROPERTY = "io.github.arelu.test.switch";

    @AfterEach
    void clear() {
        System.clearProperty(PROPERTY);
    }

    @Test
    void aFlagIsOffUnlessSetAndTakesTrueOrFalseInAnyCase() {
        assertFalse(Switches.flag(PROPERTY));
        System.setProperty(PROPERTY, "TRUE");
        assertTrue(Switches.flag(PROPERTY));
        System.setProperty(PROPERTY, " false ");
        assertFalse(Switches.flag(PROPERTY));
    }

    @Test
    void anyOtherValueIsRefusedNamingTheSwitchTheValueAndTheWords() {
        for (String value : new String[] {"yes", "ture", "1", ""}) {
            System.setProperty(PROPERTY, value);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Switches.flag(PROPERTY));
            assertEquals("-D" + PROPERTY + " must be true or false, got '" + value + "'", e.getMessage());
        }
        System.setProperty(PROPERTY, "hook");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Switches.choice(PROPERTY, "hooks", "table"));
        assertEquals("-D" + PROPERTY + " must be hooks or table, got 'hook'", e.getMessage());
    }

    @Test
    void aChoiceIsNullUnlessSetAndItsWordOtherwise() {
        assertNull(Switches.choice(PROPERTY, "hooks", "table"));
        System.setProperty(PROPERTY, "Hooks");
        assertEquals("hooks", Switches.choice(PROPERTY, "hooks", "table"));
    }
}
