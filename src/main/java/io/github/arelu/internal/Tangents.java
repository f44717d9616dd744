package io.github.arelu.internal;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.ForwardADLevel;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.Tensor;

/**
 * Forward-mode AD (dual tensors) as libtorch keeps it: a tangent lives on a tensor at a level, level 0 being the
 * only one libtorch's operations look at, and exists only while that level is open ({@code enter_dual_level()}
 * to {@code exit_dual_level(0)}; closing the level clears every tangent on it).
 *
 * <p>Why: a fused kernel or a Java autograd function computes its output without libtorch's operations, so a
 * tangent on an input would not reach the output, which would then carry none: a silently wrong
 * Jacobian-vector product. bytedeco has no {@code _fw_grad}; a tangent is read through the dispatcher's
 * {@code aten::_unpack_dual}, and only while the level is open, so that a process without forward-mode AD pays
 * one native call per question.
 */
public final class Tangents {

    /** The forward-AD level libtorch's operations read and write (it supports no nesting). */
    private static final long LEVEL = 0;

    private Tangents() {
    }

    /**
     * Whether a forward-AD level is open, so that some tensor may carry a tangent.
     *
     * @return true between {@code enter_dual_level()} and {@code exit_dual_level(0)}
     */
    public static boolean levelOpen() {
        ForwardADLevel level = ForwardADLevel.try_get_by_idx(LEVEL);
        if (level == null) {
            return false;
        }
        // The handle holds a reference to the level, which would keep its tangents alive: give it back now.
        level.deallocate();
        return true;
    }

    /**
     * The index of the first tensor that carries a tangent, or -1 when none does.
     *
     * @param tensors defined tensors
     * @return the index of the first one with a forward-AD tangent at level 0, or -1
     */
    public static int firstWithTangent(Tensor... tensors) {
        if (!levelOpen()) {
            return -1;
        }
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < tensors.length; i++) {
                IValueVector stack = new IValueVector();
                stack.push_back(new IValue(tensors[i]));
                stack.push_back(new IValue(LEVEL));
                Dispatcher.singleton().findSchemaOrThrow("aten::_unpack_dual", "").callBoxed(stack);
                // (primal, tangent); the tangent is undefined where the tensor carries none.
                if (stack.get(1).toTensor().defined()) {
                    return i;
                }
            }
        }
        return -1;
    }
}
