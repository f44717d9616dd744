package io.github.arelu.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import io.github.arelu.examples.model.MnistNetwork;
import org.junit.jupiter.api.Test;

/**
 * The premise of {@link OneDnnCheck}'s output tolerance (1e-5 of the norm): a network's forward pass is
 * well-conditioned, so libtorch's own float32 convolutions put every convolutional network's output within
 * 1e-6 of a float64 run, in a training step and in eval mode. More than 0: a float32 run, not the float64 one
 * twice.
 */
class OneDnnPrecisionTest {

    @Test
    void float32OutputsLieWhereRoundingPutsThem() {
        for (MnistNetwork.Kind network : Arrays.stream(MnistNetwork.Kind.values())
                .filter(MnistNetwork.Kind::convolutional).toList()) {
            for (boolean training : new boolean[] {true, false}) {
                OneDnnPrecision.Row row = OneDnnPrecision.measure(network, 7, 16, training);
                String line = OneDnnPrecision.format(row);
                assertTrue(row.own().output() > 0 && row.own().output() < 1e-6, line);
                assertEquals(training, !row.own().worstGradientName().isEmpty(), line);
                if (training) {
                    assertTrue(row.own().worstGradient() > 0 && row.own().worstGradient() < 1e-1, line);
                }
            }
        }
    }
}
