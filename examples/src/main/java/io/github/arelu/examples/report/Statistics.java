package io.github.arelu.examples.report;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Mean and standard deviation over runs, as the paper reports its results. The standard deviation is the
 * population form (divide by the number of values), NumPy's default, which the paper's code uses; one value
 * has a standard deviation of 0.
 */
public final class Statistics {

    private Statistics() {
    }

    /** The mean of {@code values}; NaN when there are none. */
    public static double mean(double... values) {
        return Arrays.stream(values).average().orElse(Double.NaN);
    }

    /** The population standard deviation of {@code values}; NaN when there are none. */
    public static double std(double... values) {
        double mean = mean(values);
        double squares = Arrays.stream(values).map(value -> (value - mean) * (value - mean)).sum();
        return Math.sqrt(squares / values.length);
    }

    /**
     * {@code statistic} over runs at each position of a series every run has (an epoch, a meta step):
     * {@code series.get(run)[position]} for each run.
     */
    public static double[] overRuns(List<double[]> series, ToDoubleFunction<double[]> statistic) {
        double[] values = new double[series.getFirst().length];
        for (int i = 0; i < values.length; i++) {
            int position = i;
            values[i] = statistic.applyAsDouble(series.stream().mapToDouble(run -> run[position]).toArray());
        }
        return values;
    }

    /** {@code "mean +- std"} with two decimals, padded to line up in a console table. */
    public static String meanStd(double... values) {
        return String.format(Locale.ROOT, "%7.2f +- %-7.2f", mean(values), std(values));
    }
}
