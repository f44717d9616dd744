package io.github.arelu.internal;

import java.util.Arrays;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.Layout;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Facts about a tensor that library code asks often and cheaply: its dtype as a comparable enum constant,
 * its shape, layout and strides, and a description for error messages.
 */
public final class TensorInfo {

    private static final ScalarType[] DTYPES = new ScalarType[256];

    static {
        for (ScalarType t : ScalarType.values()) {
            if (DTYPES[t.value & 0xff] == null) {
                DTYPES[t.value & 0xff] = t;
            }
        }
    }

    private TensorInfo() {
    }

    /**
     * The tensor's dtype as the canonical enum constant. JavaCPP hands out fresh ScalarType instances for
     * values it gets from native code, so only canonical constants compare with {@code ==} and
     * {@code equals}; a table instead of {@code intern()}, which copies {@code values()} on every call.
     *
     * @param tensor a defined tensor
     * @return its dtype, a constant of {@link ScalarType}
     */
    public static ScalarType dtype(Tensor tensor) {
        return DTYPES[tensor.scalar_type().value & 0xff];
    }

    /**
     * The tensor's sizes.
     *
     * @param tensor a defined tensor
     * @return its size in each dimension, empty for a 0-dim tensor
     */
    public static long[] shape(Tensor tensor) {
        long[] shape = new long[(int) tensor.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = tensor.size(i);
        }
        return shape;
    }

    /**
     * The tensor's strides.
     *
     * @param tensor a defined strided tensor
     * @return its stride in each dimension, in elements, empty for a 0-dim tensor
     */
    public static long[] strides(Tensor tensor) {
        long[] strides = new long[(int) tensor.dim()];
        for (int i = 0; i < strides.length; i++) {
            strides[i] = tensor.stride(i);
        }
        return strides;
    }

    /**
     * Whether both tensors have the same sizes.
     *
     * @param a a defined tensor
     * @param b another defined tensor
     * @return true when the dimensions and every size agree
     */
    public static boolean sameShape(Tensor a, Tensor b) {
        long dims = a.dim();
        if (b.dim() != dims) {
            return false;
        }
        for (int i = 0; i < dims; i++) {
            if (a.size(i) != b.size(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether both tensors live on the same device; CPU against CPU needs no native Device objects.
     *
     * @param a a defined tensor
     * @param b another defined tensor
     * @return true when both are on the CPU, or on the same other device
     */
    public static boolean sameDevice(Tensor a, Tensor b) {
        return a.is_cpu() && b.is_cpu() || !a.is_cpu() && !b.is_cpu() && a.device().equals(b.device());
    }

    /**
     * The tensor's device as libtorch writes it ({@code cpu}, {@code cuda:0}).
     *
     * @param tensor a defined tensor
     * @return the device's name
     */
    public static String device(Tensor tensor) {
        return tensor.is_cpu() ? "cpu" : tensor.device().str().getString();
    }

    /**
     * Dtype, shape and device, e.g. {@code Float[2, 3] on cpu}, for error messages.
     *
     * @param tensor any tensor, null or undefined included
     * @return the description
     */
    public static String describe(Tensor tensor) {
        if (tensor == null || !tensor.defined()) {
            return "an undefined tensor";
        }
        return dtype(tensor) + Arrays.toString(shape(tensor)) + " on " + device(tensor);
    }

    /**
     * Whether the tensor is an ordinary strided one: not sparse, MKL-DNN or nested.
     *
     * @param tensor a defined tensor
     * @return true for a strided tensor that is not nested
     */
    public static boolean isStrided(Tensor tensor) {
        return tensor.layout().value == Layout.Strided.value && !tensor.is_nested();
    }

    /**
     * The tensor's layout as libtorch names it, nested tensors included.
     *
     * @param tensor a defined tensor
     * @return the layout's name, such as {@code Strided} or {@code nested Strided}
     */
    public static String layoutName(Tensor tensor) {
        return (tensor.is_nested() ? "nested " : "") + tensor.layout().intern();
    }

    /**
     * Whether two tensors of one shape place every element at the same offset: equal strides in every
     * dimension of more than one element (the stride of a dimension of size 1 is never used).
     *
     * @param a a defined tensor
     * @param b a defined tensor of the same shape
     * @return true when every element lies at the same offset in both
     */
    public static boolean sameStrides(Tensor a, Tensor b) {
        long dims = a.dim();
        for (int i = 0; i < dims; i++) {
            if (a.size(i) > 1 && a.stride(i) != b.stride(i)) {
                return false;
            }
        }
        return true;
    }
}
