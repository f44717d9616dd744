package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.arelu.LibTorch;
import io.github.arelu.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Whether a forward-mode AD level is open is asked of libtorch through the native library (the fast path, which
 * must not silently fall back to reading every tensor); tangents are found on strided tensors and never looked
 * for on sparse ones, which the dispatcher's reading cannot alias.
 */
class TangentsTest {

    @Test
    void theLevelIsAskedOfLibtorchAndFollowsEnterAndExit() {
        LibTorch.load();
        assertFalse(Tangents.levelOpen(), "no level open: the fast path answers no");
        long level = torch.enter_dual_level();
        try {
            assertTrue(Tangents.levelOpen());
        } finally {
            torch.exit_dual_level(level);
        }
        assertFalse(Tangents.levelOpen(), "closed again");
    }

    @Test
    void tangentsAreFoundOnStridedTensorsAndSparseOnesAreSkipped() {
        LibTorch.load();
        long level = torch.enter_dual_level();
        try (PointerScope scope = new PointerScope()) {
            Tensor plain = Tensors.doubles(1, 2);
            Tensor sparse = Tensors.doubles(0, 3).to_sparse();
            Tensor csr = Tensors.doubles(0, 3).reshape(1, 2).to_sparse_csr();
            Tensor dual = Tensors.makeDual(Tensors.doubles(1, 2), Tensors.doubles(1, 1));
            assertEquals(-1, Tangents.firstWithTangent(plain, sparse, csr));
            assertEquals(3, Tangents.firstWithTangent(plain, sparse, csr, dual));
        } finally {
            torch.exit_dual_level(level);
        }
    }
}
