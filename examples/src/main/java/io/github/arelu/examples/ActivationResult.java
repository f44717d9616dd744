package io.github.arelu.examples;

import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * All runs of one activation, summarized as the paper reports them: mean and standard deviation over runs.
 * Standard deviations are the population form (divide by the number of runs), NumPy's default, which the
 * paper's code uses; one run has a standard deviation of 0.
 */
public record ActivationResult(String activation, List<Trainer.History> runs) {

    public double firstEpochMean() {
        return mean(Trainer.History::firstEpochAccuracy);
    }

    public double firstEpochStd() {
        return std(Trainer.History::firstEpochAccuracy);
    }

    public double bestMean() {
        return mean(Trainer.History::bestAccuracy);
    }

    public double bestStd() {
        return std(Trainer.History::bestAccuracy);
    }

    public double finalLossMean() {
        return mean(Trainer.History::finalLoss);
    }

    public double imagesPerSecondMean() {
        return mean(Trainer.History::imagesPerSecond);
    }

    public double secondsTotal() {
        return runs.stream().mapToDouble(Trainer.History::seconds).sum();
    }

    /** Test accuracy after each epoch, averaged over runs. */
    public double[] accuracyPerEpochMean() {
        int epochs = runs.getFirst().testAccuracy().length;
        double[] means = new double[epochs];
        for (int epoch = 0; epoch < epochs; epoch++) {
            int e = epoch;
            means[epoch] = mean(history -> history.testAccuracy()[e]);
        }
        return means;
    }

    private double mean(ToDoubleFunction<Trainer.History> metric) {
        return runs.stream().mapToDouble(metric).average().orElse(Double.NaN);
    }

    private double std(ToDoubleFunction<Trainer.History> metric) {
        double mean = mean(metric);
        double squares = runs.stream().mapToDouble(metric).map(value -> (value - mean) * (value - mean)).sum();
        return Math.sqrt(squares / runs.size());
    }
}
