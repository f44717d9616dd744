package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

/** How the results files write numbers and text. */
class JsonTest {

    @Test
    void numbersKeepSixSignificantDigitsWithoutBinaryNoise() {
        assertEquals("73.8", Json.number(73.80000000000001).toString());
        assertEquals("87.6543", Json.number(87.654321).toString());
        assertEquals("0.00123457", Json.number(0.0012345678).toString());
        assertEquals("null", Json.number(Double.NaN).toString());
    }

    @Test
    void textIsWrittenAsIsWhereJsonAllowsIt() {
        JsonObject activations = new JsonObject();
        assertEquals("{\"setup\": \"lr < 1e-3 & batch = 8 'x'\", \"activations\": {}}\n",
                Json.document("lr < 1e-3 & batch = 8 'x'", activations));
    }
}
