package io.github.arelu.examples.report;

import java.util.Locale;

import com.google.gson.FormattingStyle;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

/**
 * How the reports write JSON (with Gson): one line per document, a space after each separator, so that a
 * field and its value read like {@code "trainLoss": [2.1, 1.7]} also to grep; numbers to six significant
 * digits, as the tables print them.
 */
final class Json {

    private static final Gson GSON = new GsonBuilder()
            .setFormattingStyle(FormattingStyle.COMPACT.withSpaceAfterSeparators(true))
            .disableHtmlEscaping()
            .serializeNulls()
            .create();

    private Json() {
    }

    /** The document and a final line break. */
    static String write(JsonElement document) {
        return GSON.toJson(document) + "\n";
    }

    /** JSON has no NaN or infinity (a diverged loss): those become null. */
    static JsonElement number(double value) {
        return Double.isFinite(value)
                ? new JsonPrimitive(Double.parseDouble(String.format(Locale.ROOT, "%.6g", value)))
                : JsonNull.INSTANCE;
    }

    static JsonArray array(double[] values) {
        JsonArray array = new JsonArray();
        for (double value : values) {
            array.add(number(value));
        }
        return array;
    }

    /** {@code NAMEMean} and {@code NAMEStd} of {@code values} (over runs), added to {@code summary}. */
    static void addMeanStd(JsonObject summary, String name, double[] values) {
        summary.add(name + "Mean", number(Statistics.mean(values)));
        summary.add(name + "Std", number(Statistics.std(values)));
    }

    /** A results document: {@code {"setup": SETUP, "activations": {...}}}, written. */
    static String document(String setup, JsonObject activations) {
        JsonObject document = new JsonObject();
        document.addProperty("setup", setup);
        document.add("activations", activations);
        return write(document);
    }

    static JsonArray array(int[] values) {
        JsonArray array = new JsonArray();
        for (int value : values) {
            array.add(value);
        }
        return array;
    }
}
