package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;

/** The table's file formats, on hand-made runs whose statistics are known. */
class LearningRateTableTest {

    private static Trainer.History run(double... accuracies) {
        return new Trainer.History(new double[accuracies.length], accuracies, 1000, 10);
    }

    private static final LearningRateTable TABLE = new LearningRateTable("test setup", List.of(
            new LearningRateTable.Cell(1e-2, List.of(
                    new ActivationResult("AReLU", List.of(run(90, 95), run(92, 97))),
                    new ActivationResult("ReLU", List.of(run(80, 85), run(84, 89))))),
            new LearningRateTable.Cell(1e-5, List.of(
                    new ActivationResult("AReLU", List.of(run(20, 70), run(30, 80))),
                    new ActivationResult("ReLU", List.of(run(10, 12), run(10, 20)))))));

    @Test
    void markdownHasAColumnPairPerLearningRateAndMeanPlusMinusStd() {
        String markdown = TABLE.toMarkdown();
        assertTrue(markdown.contains("test setup."), markdown);
        assertTrue(markdown.contains("| activation | lr 0.01 first | lr 0.01 best | lr 0.00001 first | lr 0.00001 best |\n"
                + "| --- | ---: | ---: | ---: | ---: |\n"), markdown);
        assertTrue(markdown.contains("| AReLU | 91.00 ± 1.00 | 96.00 ± 1.00 | 25.00 ± 5.00 | 75.00 ± 5.00 |\n"), markdown);
        assertTrue(markdown.contains("| ReLU | 82.00 ± 2.00 | 87.00 ± 2.00 | 10.00 ± 0.00 | 16.00 ± 4.00 |\n"), markdown);
    }

    @Test
    void csvHasOneLinePerLearningRateActivationRunAndEpoch() {
        List<String> lines = TABLE.toCsv().lines().toList();
        assertEquals("learning_rate,activation,run,epoch,train_loss,test_accuracy", lines.getFirst());
        assertEquals(1 + 2 * 2 * 2 * 2, lines.size());
        assertTrue(lines.contains("0.00001,AReLU,2,2,0.000000,80.0000"), lines.toString());
    }

    @Test
    void jsonNestsEachLearningRatesActivations() {
        String json = TABLE.toJson();
        assertTrue(json.startsWith("{\"setup\": \"test setup\", \"learningRates\": [{\"learningRate\": 0.01, "
                + "\"activations\": {\"AReLU\": {\"firstEpochMean\": 91.0, \"firstEpochStd\": 1.0"), json);
        assertTrue(json.endsWith("}\n") && json.lines().count() == 1, "one line: " + json);
        JsonObject document = JsonParser.parseString(json).getAsJsonObject();
        assertEquals("test setup", document.get("setup").getAsString());
        JsonArray rates = document.getAsJsonArray("learningRates");
        assertEquals(2, rates.size());
        assertEquals(1e-5, rates.get(1).getAsJsonObject().get("learningRate").getAsDouble(), 0);
        JsonObject slowAReLU = rates.get(1).getAsJsonObject().getAsJsonObject("activations").getAsJsonObject("AReLU");
        assertEquals(List.of(5.0, 5.0), doubles(slowAReLU.getAsJsonArray("accuracyPerEpochStd")));
        assertEquals(List.of(25.0, 75.0), doubles(slowAReLU.getAsJsonArray("accuracyPerEpochMean")));
        assertEquals(2, slowAReLU.getAsJsonArray("runs").size());
        assertEquals(List.of(30.0, 80.0), doubles(slowAReLU.getAsJsonArray("runs").get(1).getAsJsonObject()
                .getAsJsonArray("testAccuracy")));
        assertEquals(List.of("AReLU", "ReLU"), List.copyOf(rates.get(0).getAsJsonObject().getAsJsonObject("activations")
                .keySet()));
    }

    @Test
    void jsonEscapesControlCharactersOfTheSetup() {
        LearningRateTable table = new LearningRateTable("data in /tmp/a\tb \"x\"", TABLE.cells());
        assertTrue(table.toJson().startsWith("{\"setup\": \"data in /tmp/a\\tb \\\"x\\\"\","), table.toJson());
        assertEquals("data in /tmp/a\tb \"x\"", JsonParser.parseString(table.toJson()).getAsJsonObject().get("setup")
                .getAsString());
    }

    /** JSON has no NaN: a diverged run's values are written as null. */
    @Test
    void jsonWritesNonFiniteValuesAsNull() {
        LearningRateTable table = new LearningRateTable("x", List.of(new LearningRateTable.Cell(1e-2, List.of(
                new ActivationResult("AReLU", List.of(new Trainer.History(new double[] {Double.NaN}, new double[] {10},
                        1000, 10)))))));
        JsonObject arelu = JsonParser.parseString(table.toJson()).getAsJsonObject().getAsJsonArray("learningRates")
                .get(0).getAsJsonObject().getAsJsonObject("activations").getAsJsonObject("AReLU");
        assertTrue(arelu.get("finalLossMean").isJsonNull(), arelu.toString());
        assertEquals(10, arelu.get("bestMean").getAsDouble(), 0);
    }

    private static List<Double> doubles(JsonArray array) {
        return array.asList().stream().map(JsonElement::getAsDouble).toList();
    }

    @Test
    void everyLearningRateMustHaveTheSameActivations() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LearningRateTable("x",
                List.of(new LearningRateTable.Cell(1e-2, List.of(new ActivationResult("AReLU", List.of(run(1))))),
                        new LearningRateTable.Cell(1e-4, List.of(new ActivationResult("ReLU", List.of(run(1))))))));
        assertTrue(e.getMessage().contains("[ReLU]") && e.getMessage().contains("[AReLU]"), e.getMessage());
    }
}
