package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The bar on a terminal, where it is redrawn in place on one line. */
class ProgressBarTest {

    /**
     * Training stopped mid-epoch leaves the bar's line open: interrupt ends it, so that the message printed next
     * starts a line of its own; with no bar on the line it prints nothing.
     */
    @Test
    void anInterruptedBarEndsItsLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
        bar.start("ReLU epoch 1/1", 8);
        bar.interrupt();
        assertEquals("", bytes.toString(StandardCharsets.UTF_8), "nothing drawn yet");
        bar.update(8, 2.5);
        bar.interrupt();
        String drawn = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(drawn.startsWith("\rReLU epoch 1/1 [") && drawn.endsWith("loss 2.5000 " + System.lineSeparator()),
                drawn);
        bar.interrupt();
        assertEquals(drawn, bytes.toString(StandardCharsets.UTF_8), "a line is ended once");
        bar.update(8, 2.5);
        bar.finish(8, 100, "done");
        int length = bytes.size();
        bar.interrupt();
        assertEquals(length, bytes.size(), "the summary ended the line already");
    }
}
