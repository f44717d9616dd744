package io.github.arelu.autograd;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Runs in a second copy of this library (another class loader, {@link SecondClassLoaderTest}): AReLU's
 * gradients there, through that copy's nodes, against the reference formula. Only Java values cross.
 */
public final class SecondCopyWorker {

    private SecondCopyWorker() {
    }

    /**
     * @return the largest difference of the x, alpha and beta gradients from the reference's, whether this copy's
     *     nodes have the library's own table (1) or hooks (0), and this copy's live node count after the graphs died
     */
    public static double[] gradientsAgainstTheReference() {
        double worst = 0;
        for (int round = 0; round < 20; round++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor[] fused = SecondClassLoaderTest.gradients(round, false);
                Tensor[] reference = SecondClassLoaderTest.gradients(round, true);
                for (int i = 0; i < 3; i++) {
                    worst = Math.max(worst, fused[i].sub(reference[i]).abs().max().item_double());
                }
            }
        }
        return new double[] {worst, CarrierTable.available() ? 1 : 0, JavaFunction.liveNodeCount()};
    }
}
