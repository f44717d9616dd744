package io.github.arelu.internal;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.LibTorch;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * For {@link SwitchRefusalTest}, in a JVM of its own (the switches are read once per process): each use that a
 * switch's value concerns, twice, printed as {@code name: ok} or {@code name: ExceptionClass: message}.
 */
public final class SwitchProbe {

    private SwitchProbe() {
    }

    public static void main(String[] args) {
        LibTorch.load();
        Tensor alpha = torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(0.9));
        Tensor beta = torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(2.0));
        for (int i = 0; i < 2; i++) {
            attempt("module", () -> new AReLU());
            attempt("functional", () -> AReLUFunctional.arelu(torch.randn(8), alpha, beta));
            attempt("no grad", () -> {
                try (NoGradGuard off = new NoGradGuard()) {
                    AReLUFunctional.arelu(torch.randn(8), alpha, beta, false);
                }
            });
            attempt("grad", () -> {
                Tensor x = torch.randn(8).requires_grad_(true);
                AReLUFunctional.arelu(x, alpha, beta, false).sum().backward();
            });
        }
    }

    private static void attempt(String name, Runnable use) {
        try {
            use.run();
            System.out.println(name + ": ok");
        } catch (Throwable e) {
            System.out.println(name + ": " + e.getClass().getName() + ": " + e.getMessage());
        }
    }
}
