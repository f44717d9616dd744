package io.github.arelu;

import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Memory stays bounded over long loops; concurrent inference agrees with single-threaded inference. */
class AReLURobustnessTest {

    @Test
    void tenThousandForwardBackwardIterationsKeepResidentMemoryBounded() {
        AReLU arelu = new AReLU();
        long baseline = 0;
        for (int i = 0; i < 10_000; i++) {
            try (PointerScope step = new PointerScope()) {
                Tensor x = torch.randn(new long[] {64, 256}).requires_grad_(true);
                arelu.forward(x).sum().backward();
                try (NoGradGuard guard = new NoGradGuard()) {
                    arelu.forward(x);
                }
            }
            if (i == 1_000) {
                baseline = Tensors.residentBytes();
            }
        }
        long growth = Tensors.residentBytes() - baseline;
        // Each iteration makes about 0.5 MB of tensors: 9000 leaked iterations would add gigabytes.
        assertTrue(growth < 64L << 20, "resident memory grew by " + (growth >> 20) + " MiB over 9000 iterations");
    }

    @Test
    void concurrentNoGradForwardsEqualTheSingleThreadedResult() throws Exception {
        AReLU arelu = new AReLU(0.4, -0.3);
        Tensor x = torch.randn(new long[] {8, 1000});
        double[] expected;
        try (NoGradGuard guard = new NoGradGuard()) {
            expected = values(arelu.forward(x));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<double[]>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> {
                    double[] last = null;
                    for (int i = 0; i < 50; i++) {
                        try (PointerScope s = new PointerScope(); NoGradGuard guard = new NoGradGuard()) {
                            last = values(arelu.forward(x));
                        }
                    }
                    return last;
                }));
            }
            for (Future<double[]> result : results) {
                assertArrayEquals(expected, result.get(), 0.0);
            }
        } finally {
            pool.shutdown();
        }
    }
}
