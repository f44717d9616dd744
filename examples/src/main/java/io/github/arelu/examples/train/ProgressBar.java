package io.github.arelu.examples.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Training progress on stderr: on a terminal a bar redrawn in place (at most ten times a second, so drawing
 * never shows up in the throughput), elsewhere only one summary line per epoch so logs stay readable.
 */
public final class ProgressBar {

    private static final int WIDTH = 30;
    private static final long REDRAW_INTERVAL_NANOS = 100_000_000L;

    private final PrintStream out;
    private final boolean interactive;
    private String label = "";
    private int total;
    private long startNanos;
    private long lastDrawNanos;
    /** Whether the terminal's line holds a bar that no summary has ended yet. */
    private boolean drawn;

    public ProgressBar(PrintStream out, boolean interactive) {
        this.out = out;
        this.interactive = interactive;
    }

    /** A bar on stderr, redrawn in place only when stderr is a terminal. */
    public static ProgressBar onStandardError() {
        java.io.Console console = System.console();
        return new ProgressBar(System.err, console != null && console.isTerminal());
    }

    /** Nothing at all: for tests and for callers that print their own summary. */
    public static ProgressBar silent() {
        return new ProgressBar(null, false);
    }

    public void start(String label, int total) {
        this.label = label;
        this.total = total;
        this.startNanos = System.nanoTime();
        this.lastDrawNanos = 0;
        this.drawn = false;
    }

    public void update(int done, double meanLoss) {
        if (!interactive || out == null) {
            return;
        }
        long now = System.nanoTime();
        if (done < total && now - lastDrawNanos < REDRAW_INTERVAL_NANOS) {
            return;
        }
        lastDrawNanos = now;
        drawn = true;
        int filled = total == 0 ? WIDTH : (int) ((long) WIDTH * done / total);
        out.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %d/%d %6.0f img/s loss %.4f ", label, "#".repeat(filled),
                ".".repeat(WIDTH - filled), total == 0 ? 100 : 100L * done / total, done, total,
                imagesPerSecond(done, now), meanLoss);
        out.flush();
    }

    /**
     * Ends the epoch's line with the epoch's wall time (the test pass included), the training throughput the
     * caller measured without it, and {@code summary}.
     */
    public void finish(int done, double trainingImagesPerSecond, String summary) {
        if (out != null) {
            // Clear the bar first: the summary may be shorter than what it replaces.
            String prefix = interactive ? "\r\033[K" : "";
            out.printf(Locale.ROOT, "%s%s: %d images in %.1f s, %.0f img/s training, %s%n", prefix, label, done,
                    (System.nanoTime() - startNanos) / 1e9, trainingImagesPerSecond, summary);
            out.flush();
        }
        drawn = false;
    }

    /** Ends the line of a bar that training left mid-epoch, so that a message printed next starts its own. */
    public void interrupt() {
        if (drawn) {
            out.println();
            out.flush();
            drawn = false;
        }
    }

    private double imagesPerSecond(int done, long now) {
        double seconds = (now - startNanos) / 1e9;
        return seconds > 0 ? done / seconds : 0;
    }
}
