package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.github.arelu.examples.train.Trainer;
import org.junit.jupiter.api.Test;

/** The transfer table's columns, on hand-made runs whose statistics are known. */
class TransferResultsTest {

    private static Trainer.History history(double... accuracies) {
        return new Trainer.History(new double[accuracies.length], accuracies, 1000, 10);
    }

    // Pretraining's last epoch is not its best, fine-tuning's first epoch is not its best.
    private static final TransferResults RESULTS = new TransferResults("test setup", List.of(
            new TransferResults.Result("AReLU", List.of(
                    new TransferResults.Run(history(90, 80), 10, history(40, 60, 50)),
                    new TransferResults.Run(history(95, 84), 20, history(50, 70, 60))))));

    @Test
    void pretrainedIsTheLastPretrainingEpochAndTheCurveStartsBeforeFineTuning() {
        JsonObject arelu = JsonParser.parseString(RESULTS.toJson()).getAsJsonObject().getAsJsonObject("activations")
                .getAsJsonObject("AReLU");
        assertEquals(82, arelu.get("pretrainedMean").getAsDouble(), 0);
        assertEquals(2, arelu.get("pretrainedStd").getAsDouble(), 0);
        assertEquals(15, arelu.get("beforeFinetuningMean").getAsDouble(), 0);
        assertEquals(45, arelu.get("finetunedFirstEpochMean").getAsDouble(), 0);
        assertEquals(65, arelu.get("finetunedBestMean").getAsDouble(), 0);
        assertEquals(List.of(15.0, 45.0, 65.0, 55.0), arelu.getAsJsonArray("finetuningCurveMean").asList().stream()
                .map(element -> element.getAsDouble()).toList());
        assertEquals(List.of(5.0, 5.0, 5.0, 5.0), arelu.getAsJsonArray("finetuningCurveStd").asList().stream()
                .map(element -> element.getAsDouble()).toList());
        String markdown = RESULTS.toMarkdown();
        assertTrue(markdown.contains("| AReLU | 82.00 ± 2.00 | 15.00 ± 5.00 | 45.00 ± 5.00 |"), markdown);
    }
}
