package io.github.arelu.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Two copies of this library in one process, as an application server or a job cluster makes them (bytedeco
 * shared, the library in each application's class loader). They share the loaded native library, whose node
 * callbacks serve one copy: the first keeps its table, the second makes its nodes with hooks, and the nodes of
 * both keep reaching their own records.
 */
class SecondClassLoaderTest {

    /** x's, alpha's and beta's gradients of a weighted sum of AReLU (fused or the reference formula). */
    static Tensor[] gradients(long seed, boolean reference) {
        torch.manual_seed(seed);
        Tensor x = torch.randn(6, 5).requires_grad_(true);
        Tensor alpha = torch.full(new long[] {1}, new Scalar(0.4)).requires_grad_(true);
        Tensor beta = torch.full(new long[] {1}, new Scalar(1.5)).requires_grad_(true);
        Tensor w = torch.randn(6, 5);
        Tensor y = reference ? AReLUFunctional.areluComposed(x, alpha, beta) : AReLUFunctional.arelu(x, alpha, beta);
        y.mul(w).sum().backward();
        return new Tensor[] {x.grad(), alpha.grad(), beta.grad()};
    }

    @Test
    void aSecondCopyMakesItsNodesWithHooksAndTheFirstCopysNodesStillWork() throws Exception {
        try (PointerScope scope = new PointerScope()) {
            // Graphs of this copy, recorded before the second copy loads, run after it.
            List<Tensor> losses = new ArrayList<>();
            List<Tensor[]> leaves = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                Tensor x = torch.randn(4, 3).requires_grad_(true);
                Tensor alpha = torch.full(new long[] {1}, new Scalar(0.6)).requires_grad_(true);
                Tensor beta = torch.full(new long[] {1}, new Scalar(0.5)).requires_grad_(true);
                losses.add(AReLUFunctional.arelu(x, alpha, beta).sum());
                leaves.add(new Tensor[] {x, alpha, beta});
            }
            boolean ownTable = CarrierTable.available();

            double[] second;
            try (URLClassLoader loader = new URLClassLoader("second copy", new URL[] {codeSource(AReLU.class),
                    codeSource(SecondClassLoaderTest.class)}, new WithoutThisLibrary(getClass().getClassLoader()))) {
                Class<?> worker = loader.loadClass(SecondCopyWorker.class.getName());
                assertTrue(worker.getClassLoader() == loader, "the worker is not the second copy's");
                second = (double[]) worker.getMethod("gradientsAgainstTheReference").invoke(null);
            }
            assertEquals(0.0, second[0], 1e-6, "the second copy's gradients differ from the reference's");
            if (ownTable) {
                assertEquals(0.0, second[1], "the second copy took over the node callbacks");
            }
            assertEquals(0.0, second[2], "the second copy's nodes did not all die");

            for (int k = 0; k < 3; k++) {
                losses.get(k).backward();
                Tensor[] l = leaves.get(k);
                Tensor[] want = referenceOfSum(l[0], l[1], l[2]);
                for (int i = 0; i < 3; i++) {
                    assertEquals(0.0, l[i].grad().sub(want[i]).abs().max().item_double(), 1e-6,
                            "gradient " + i + " of graph " + k + " of the first copy");
                }
            }
            try (PointerScope step = new PointerScope()) {
                Tensor[] fused = gradients(99, false);
                Tensor[] reference = gradients(99, true);
                for (int i = 0; i < 3; i++) {
                    assertEquals(0.0, fused[i].sub(reference[i]).abs().max().item_double(), 1e-6,
                            "gradient " + i + " of a new graph of the first copy");
                }
            }
        }
    }

    /** The reference's gradients of {@code arelu(x, alpha, beta).sum()}, on detached copies of the leaves. */
    private static Tensor[] referenceOfSum(Tensor x, Tensor alpha, Tensor beta) {
        Tensor[] copies = {x.detach().clone().requires_grad_(true), alpha.detach().clone().requires_grad_(true),
            beta.detach().clone().requires_grad_(true)};
        AReLUFunctional.areluComposed(copies[0], copies[1], copies[2]).sum().backward();
        return new Tensor[] {copies[0].grad(), copies[1].grad(), copies[2].grad()};
    }

    private static URL codeSource(Class<?> type) {
        return type.getProtectionDomain().getCodeSource().getLocation();
    }

    /** Everything of the test's class loader (bytedeco, JUnit) but this library, which the child loads itself. */
    private static final class WithoutThisLibrary extends ClassLoader {
        WithoutThisLibrary(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("io.github.arelu.")) {
                throw new ClassNotFoundException(name);
            }
            return super.loadClass(name, resolve);
        }
    }
}
