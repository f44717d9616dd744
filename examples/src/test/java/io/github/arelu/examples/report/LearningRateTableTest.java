package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

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
        assertTrue(json.startsWith("{\"setup\": \"test setup\",\n\"learningRates\": [\n{\"learningRate\": 0.0100000, "
                + "\"activations\": {\n  \"AReLU\": {\"firstEpochMean\": 91.0000, \"firstEpochStd\": 1.00000"), json);
        assertTrue(json.contains("{\"learningRate\": 1.00000e-05"), json);
        assertTrue(json.contains("\"accuracyPerEpochStd\": [5.00000, 5.00000]"), json);
        assertEquals(json.chars().filter(c -> c == '{').count(), json.chars().filter(c -> c == '}').count());
        assertEquals(json.chars().filter(c -> c == '[').count(), json.chars().filter(c -> c == ']').count());
    }

    @Test
    void jsonEscapesControlCharactersOfTheSetup() {
        LearningRateTable table = new LearningRateTable("data in /tmp/a\tb \"x\"", TABLE.cells());
        assertTrue(table.toJson().startsWith("{\"setup\": \"data in /tmp/a\\u0009b \\\"x\\\"\","), table.toJson());
    }

    @Test
    void everyLearningRateMustHaveTheSameActivations() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LearningRateTable("x",
                List.of(new LearningRateTable.Cell(1e-2, List.of(new ActivationResult("AReLU", List.of(run(1))))),
                        new LearningRateTable.Cell(1e-4, List.of(new ActivationResult("ReLU", List.of(run(1))))))));
        assertTrue(e.getMessage().contains("[ReLU]") && e.getMessage().contains("[AReLU]"), e.getMessage());
    }
}
