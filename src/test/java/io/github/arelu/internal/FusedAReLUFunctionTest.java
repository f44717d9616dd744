package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Which inputs the fused node copies for its backward: those whose memory an optimizer may step without a version
 * bump, and not the activations between layers, which a copy would only slow down. (That a copy keeps the
 * gradients right is AReLUAutogradTest's.)
 */
class FusedAReLUFunctionTest {

    @Test
    void anInputIsCopiedWhereItsMemoryMayBeAParametersAndNowhereElse() {
        LibTorch.load();
        try (PointerScope scope = new PointerScope()) {
            Tensor p = torch.randn(4, 6).requires_grad_(true);
            assertTrue(FusedAReLUFunction.mayBeSteppedUnversioned(p), "a leaf that requires grad");
            assertTrue(FusedAReLUFunction.mayBeSteppedUnversioned(p.narrow(1, 1, 3)), "a view of one");
            assertTrue(FusedAReLUFunction.mayBeSteppedUnversioned(p.detach()), "a detached alias of one");

            Tensor activation = p.mul(new Scalar(2.0));
            assertFalse(FusedAReLUFunction.mayBeSteppedUnversioned(activation), "the result of an operation");
            assertFalse(FusedAReLUFunction.mayBeSteppedUnversioned(activation.narrow(1, 1, 3)),
                    "a view of such a result");
            Tensor frozen;
            try (NoGradGuard noGrad = new NoGradGuard()) {
                frozen = p.mul(new Scalar(2.0));
            }
            assertFalse(FusedAReLUFunction.mayBeSteppedUnversioned(frozen),
                    "the activation of a frozen layer, its memory its own");
            assertFalse(FusedAReLUFunction.mayBeSteppedUnversioned(torch.randn(4, 6)), "data");
        }
    }
}
