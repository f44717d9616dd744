package io.github.arelu.examples.report;

import java.util.List;
import java.util.function.ToDoubleFunction;

import io.github.arelu.examples.train.Trainer;

/**
 * All runs of one activation, summarized as the paper reports them: mean and (population) standard deviation
 * over runs, see {@link Statistics}.
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
        return perEpoch(Statistics::mean);
    }

    /** The standard deviation over runs of the test accuracy after each epoch. */
    public double[] accuracyPerEpochStd() {
        return perEpoch(Statistics::std);
    }

    private double[] perEpoch(ToDoubleFunction<double[]> statistic) {
        return Statistics.overRuns(runs.stream().map(Trainer.History::testAccuracy).toList(), statistic);
    }

    private double mean(ToDoubleFunction<Trainer.History> metric) {
        return Statistics.mean(values(metric));
    }

    private double std(ToDoubleFunction<Trainer.History> metric) {
        return Statistics.std(values(metric));
    }

    private double[] values(ToDoubleFunction<Trainer.History> metric) {
        return runs.stream().mapToDouble(metric).toArray();
    }
}
