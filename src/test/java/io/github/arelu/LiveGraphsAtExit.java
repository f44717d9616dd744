package io.github.arelu;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A program that ends while AReLU graphs are still alive, for {@link AReLULifetimeTest}: with
 * {@code exit} it calls System.exit, otherwise main returns. It must end normally either way.
 */
public final class LiveGraphsAtExit {

    private LiveGraphsAtExit() {
    }

    public static void main(String[] args) {
        LibTorch.load();
        AReLU arelu = new AReLU();
        // One backward through the node, so that a child JVM runs every path of a call (its test with JavaCPP's
        // debug logging); its scope frees its graph.
        try (PointerScope scope = new PointerScope()) {
            arelu.forward(torch.randn(1000).requires_grad_(true)).sum().backward();
        }
        Tensor[] kept = new Tensor[100];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = arelu.forward(torch.randn(1000).requires_grad_(true)).sum();
        }
        System.out.println("live graphs: " + io.github.arelu.autograd.JavaFunction.liveNodeCount());
        if (args.length > 0 && args[0].equals("exit")) {
            System.exit(0);
        }
    }
}
