package io.github.arelu.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
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
 * {@code aten::_unpack_dual}, and only while the level is open. Whether it is open is asked on every call, of
 * libtorch's {@code ForwardADLevel::try_get_by_idx} through the native library's {@code arelu_shared_ptr_is_set}
 * (about as cheap as a JNI call): bytedeco's own binding of it leaks 16 bytes of native memory for every empty
 * result, that is, on every call of a process without forward-mode AD. Where that path is unavailable (no native
 * library, or a libtorch without the symbol; logged once) every question reads the tensors' tangents, which is
 * slower but as right, for strided tensors (see {@link #firstWithTangent}).
 */
public final class Tangents {

    private static final System.Logger LOG = System.getLogger("io.github.arelu");
    /** The forward-AD level libtorch's operations read and write (it supports no nesting). */
    private static final long LEVEL = 0;
    private static final String TRY_GET_BY_IDX = "_ZN5torch8autograd14ForwardADLevel14try_get_by_idxEm";
    /** {@code arelu_shared_ptr_is_set}, or null where the level cannot be asked about. */
    private static final MethodHandle IS_SET;
    private static final MemorySegment LEVEL_GETTER;

    static {
        LibTorch.load();
        MethodHandle isSet = null;
        MemorySegment getter = null;
        try {
            // The file JavaCPP loaded, by path: no other libtorch that a name could match.
            String library = Loader.getLoadedLibraries().getOrDefault("torch_cpu", "libtorch_cpu.so");
            getter = MemorySegment.ofAddress(LoadedLibraries.address(library, TRY_GET_BY_IDX));
            isSet = Linker.nativeLinker().downcallHandle(NativeLibrary.symbol("arelu_shared_ptr_is_set"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot ask libtorch whether a forward-mode AD level is open ({0}); "
                    + "every JavaFunction call reads the tangents of its inputs instead, which is slower",
                    e.getMessage());
        }
        IS_SET = isSet;
        LEVEL_GETTER = getter;
    }

    private Tangents() {
    }

    /**
     * Whether a forward-AD level may be open, so that some tensor may carry a tangent.
     *
     * @return true between {@code enter_dual_level()} and {@code exit_dual_level(0)}, and always where libtorch
     *     cannot be asked
     */
    public static boolean levelOpen() {
        if (IS_SET == null) {
            return true;
        }
        int set;
        try {
            set = (int) IS_SET.invokeExact(LEVEL_GETTER, LEVEL);
        } catch (Throwable e) {
            throw new IllegalStateException("arelu_shared_ptr_is_set failed", e);
        }
        return set != 0; // -1, libtorch threw: as if open, so that the tensors are read
    }

    /**
     * The index of the first tensor that carries a tangent, or -1 when none does. Strided tensors only: reading a
     * tangent through the dispatcher makes an alias of the tensor, which sparse and MKL-DNN tensors cannot have
     * (nor can they be made dual; a tangent reaches one only through an operation with a forward-mode formula).
     *
     * @param tensors defined tensors
     * @return the index of the first strided one with a forward-AD tangent at level 0, or -1
     */
    public static int firstWithTangent(Tensor... tensors) {
        if (!levelOpen()) {
            return -1;
        }
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < tensors.length; i++) {
                if (!TensorInfo.isStrided(tensors[i])) {
                    continue;
                }
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
