package io.github.arelu.examples.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

/** The meta-learning table's three figures, on hand-made runs whose statistics are known. */
class MetaLearningResultsTest {

    // Training-task accuracies peak above every test evaluation, and each run's last evaluation is not its best:
    // final, best and best train are three different numbers.
    private static final MetaLearningResults RESULTS = new MetaLearningResults("test setup", List.of(
            new MetaLearningResults.Result("AReLU", List.of(
                    new MetaLearningResults.Run(new double[] {40, 90, 60}, new double[] {2, 1154.4, 3},
                            new int[] {2, 3}, new double[] {50, 30}, 4),
                    new MetaLearningResults.Run(new double[] {20, 70, 80}, new double[] {1.5, 2.25, 2},
                            new int[] {2, 3}, new double[] {70, 60}, 6)))));

    @Test
    void finalIsTheLastEvaluationBestTheBestAndBestTrainTheBestTrainingTasks() {
        MetaLearningResults.Result result = RESULTS.results().getFirst();
        assertEquals(List.of(30.0, 60.0), List.of(result.finals()[0], result.finals()[1]));
        assertEquals(List.of(50.0, 70.0), List.of(result.bests()[0], result.bests()[1]));
        assertEquals(List.of(90.0, 80.0), List.of(result.bestTrains()[0], result.bestTrains()[1]));
    }

    @Test
    void tableAndJsonReportMeanAndStdOfEachFigure() {
        String markdown = RESULTS.toMarkdown();
        assertTrue(markdown.contains("| AReLU | 45.00 ± 15.00 | 60.00 ± 10.00 | 85.00 ± 5.00 | 1154.4, 2.3 | 5 |"),
                markdown);
        JsonObject arelu = JsonParser.parseString(RESULTS.toJson()).getAsJsonObject().getAsJsonObject("activations")
                .getAsJsonObject("AReLU");
        assertEquals(45, arelu.get("finalMean").getAsDouble(), 0);
        assertEquals(15, arelu.get("finalStd").getAsDouble(), 0);
        assertEquals(60, arelu.get("bestMean").getAsDouble(), 0);
        assertEquals(10, arelu.get("bestStd").getAsDouble(), 0);
        assertEquals(85, arelu.get("bestTrainMean").getAsDouble(), 0);
        assertEquals(5, arelu.get("bestTrainStd").getAsDouble(), 0);
        assertEquals(1154.4, arelu.getAsJsonArray("runs").get(0).getAsJsonObject().getAsJsonArray("metaGradientNorm")
                .get(1).getAsDouble(), 0);
    }

    /** The CSV has each step's meta-gradient norm, and the test accuracy only where that step was evaluated. */
    @Test
    void csvHasEachStepsNormAndTheEvaluations() {
        List<String> lines = RESULTS.toCsv().lines().toList();
        assertEquals("activation,run,step,train_query_accuracy,meta_gradient_norm,test_query_accuracy", lines.get(0));
        assertEquals("AReLU,1,1,40.0000,2.00000,", lines.get(1));
        assertEquals("AReLU,1,2,90.0000,1154.40,50.0000", lines.get(2));
        assertEquals("AReLU,2,3,80.0000,2.00000,60.0000", lines.get(6));
    }
}
