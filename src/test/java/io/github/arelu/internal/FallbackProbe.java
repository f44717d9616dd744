package io.github.arelu.internal;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.LibTorch;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * For {@link NativeLibraryFallbackTest}, in a JVM of its own (the library loads once per process): prints why the
 * kernels are unavailable, the path a forward takes, and the largest difference of AReLU's values and input
 * gradient from the reference formula's.
 */
public final class FallbackProbe {

    private FallbackProbe() {
    }

    public static void main(String[] args) {
        LibTorch.load();
        System.out.println("reason " + FusedAReLU.unavailableReason());
        AReLU arelu = new AReLU(0.3, -1.0);
        Tensor x = torch.randn(4, 6).requires_grad_(true);
        System.out.println("path " + arelu.pathFor(x));
        Tensor y = arelu.forward(x);
        y.mul(new Scalar(2.0)).sum().backward();
        Tensor x2 = x.detach().clone().requires_grad_(true);
        Tensor want = AReLUFunctional.areluComposed(x2, arelu.alpha().detach(), arelu.beta().detach());
        want.mul(new Scalar(2.0)).sum().backward();
        System.out.println("difference " + Math.max(y.sub(want).abs().max().item_double(),
                x.grad().sub(x2.grad()).abs().max().item_double()));
    }
}
