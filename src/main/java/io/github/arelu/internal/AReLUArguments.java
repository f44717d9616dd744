package io.github.arelu.internal;

import java.util.Arrays;

import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Every argument check of the AReLU API, in one place; messages name what was expected and what was found. */
public final class AReLUArguments {

    private AReLUArguments() {
    }

    /**
     * Validates an input and its parameters.
     *
     * @throws IllegalArgumentException for a null or undefined tensor, a non-floating-point input, parameters
     *     of another dtype or device than the input, parameters that are not strided (dense) tensors,
     *     parameters whose element counts differ or are zero, or a channel-wise parameter count that does not
     *     match {@code input.size(1)}
     * @return the input's dtype
     */
    public static ScalarType check(Tensor input, Tensor alpha, Tensor beta) {
        if (input == null || input.isNull() || !input.defined()) {
            throw new IllegalArgumentException("AReLU input is null or an undefined tensor");
        }
        if (alpha == null || beta == null || alpha.isNull() || beta.isNull() || !alpha.defined() || !beta.defined()) {
            throw new IllegalArgumentException("AReLU parameters alpha and beta must be defined tensors");
        }
        ScalarType dtype = TensorInfo.dtype(input);
        // Floating point, but not the float8 types: libtorch has none of the reference's operations for them.
        if (dtype != ScalarType.Float && dtype != ScalarType.Double && dtype != ScalarType.Half
                && dtype != ScalarType.BFloat16) {
            throw new IllegalArgumentException("AReLU expects a floating-point input (Float, Double, Half or "
                    + "BFloat16), got " + dtype);
        }
        checkParameter("alpha", alpha, input, dtype);
        checkParameter("beta", beta, input, dtype);
        long count = alpha.numel();
        if (beta.numel() != count) {
            throw new IllegalArgumentException("AReLU alpha and beta must have the same number of elements, got "
                    + count + " and " + beta.numel());
        }
        if (count == 0) {
            throw new IllegalArgumentException("AReLU parameters alpha and beta are empty");
        }
        if (input.is_nested()) {
            checkNested(input, alpha, beta, count);
        }
        if (count > 1) {
            if (input.dim() < 2) {
                throw new IllegalArgumentException("channel-wise AReLU with " + count + " channels expects an "
                        + "input with a channel dimension 1, got an input of shape " + shapeOf(input));
            }
            if (input.size(1) != count) {
                throw new IllegalArgumentException("channel-wise AReLU with " + count + " channels expects "
                        + "input.size(1) == " + count + ", got an input of shape " + shapeOf(input));
            }
            checkChannelShape("alpha", alpha, input);
            checkChannelShape("beta", beta, input);
        }
        return dtype;
    }

    /**
     * Channel-wise parameters apply along dimension 1: shape {@code [C]} (as PReLU's weight), or a shape that
     * broadcasts against the input along dimension 1 and nowhere else ({@code [C, 1, 1]} or {@code [1, C, 1, 1]}
     * for an input of four dimensions). Any other shape with C elements would be read along dimension 1 where
     * the reference formula broadcasts it elsewhere (or fails): refused by name.
     */
    private static void checkChannelShape(String name, Tensor parameter, Tensor input) {
        long[] shape = TensorInfo.shape(parameter);
        if (shape.length == 1) {
            return;
        }
        int offset = (int) input.dim() - shape.length;
        boolean alongDimension1 = offset >= 0 && offset <= 1;
        for (int j = 0; alongDimension1 && j < shape.length; j++) {
            alongDimension1 = shape[j] == (offset + j == 1 ? input.size(1) : 1);
        }
        if (!alongDimension1) {
            throw new IllegalArgumentException("channel-wise AReLU parameter " + name + " has shape "
                    + shapeOf(parameter) + ", which does not lie along dimension 1 of the input of shape "
                    + shapeOf(input) + "; give it shape [" + input.size(1) + "] (or [" + input.size(1)
                    + ", 1, ...] broadcasting along dimension 1)");
        }
    }

    /**
     * Nested inputs take libtorch's operations, which apply one-element parameters but cannot reduce a nested
     * gradient to them, and whose dimension 1 may have no single size to match channels against: refused by
     * name where either would fail later, and more obscurely.
     */
    private static void checkNested(Tensor input, Tensor alpha, Tensor beta, long count) {
        String convert = "; convert the input with to_padded_tensor(0) (AReLU maps the padding's zeros to zeros)";
        if (count > 1) {
            throw new IllegalArgumentException("channel-wise AReLU does not support nested inputs (their dimension 1 "
                    + "may have no single size to match " + count + " channels against)" + convert);
        }
        if (GradMode.is_enabled() && (alpha.requires_grad() || beta.requires_grad())) {
            throw new IllegalArgumentException("AReLU cannot train alpha and beta on a nested input (libtorch's "
                    + "backward does not reduce a nested gradient to a one-element parameter)" + convert
                    + ", or apply it under NoGradGuard for inference");
        }
    }

    private static void checkParameter(String name, Tensor parameter, Tensor input, ScalarType dtype) {
        if (!TensorInfo.isStrided(parameter)) {
            throw new IllegalArgumentException("AReLU parameter " + name + " has layout "
                    + TensorInfo.layoutName(parameter) + "; parameters must be strided (dense) tensors, convert it "
                    + "with to_dense()");
        }
        if (TensorInfo.dtype(parameter) != dtype) {
            throw new IllegalArgumentException("AReLU parameter " + name + " has dtype " + TensorInfo.dtype(parameter)
                    + " but the input has dtype " + dtype + "; cast the input to " + TensorInfo.dtype(parameter)
                    + " (under autocast too: AReLU is not on autocast's lists), or the module with to(" + dtype
                    + ") where its parameters are meant to be " + dtype);
        }
        if (!TensorInfo.sameDevice(parameter, input)) {
            throw new IllegalArgumentException("AReLU parameter " + name + " is on device "
                    + TensorInfo.device(parameter) + " but the input is on device " + TensorInfo.device(input)
                    + "; move the module or the input");
        }
    }

    /**
     * A gradient of the output must match the input it is the gradient for.
     *
     * @param gradOutput the gradient of AReLU's output
     * @param input the input it is the gradient for
     * @throws IllegalArgumentException when it is undefined or its shape, dtype or device differ
     */
    public static void checkGradOutput(Tensor gradOutput, Tensor input) {
        if (gradOutput == null || gradOutput.isNull() || !gradOutput.defined()) {
            throw new IllegalArgumentException("AReLU backward needs a defined gradOutput");
        }
        checkStridedGradOutput(gradOutput);
        if (TensorInfo.dtype(gradOutput) != TensorInfo.dtype(input) || !TensorInfo.sameDevice(gradOutput, input)
                || !TensorInfo.sameShape(gradOutput, input)) {
            throw new IllegalArgumentException("AReLU backward: gradOutput must match the input, got "
                    + TensorInfo.describe(gradOutput) + " for input " + TensorInfo.describe(input));
        }
    }

    /**
     * The fused backward reads the output's gradient as memory: a sparse or nested one is refused by name.
     *
     * @param gradOutput the gradient of AReLU's output, defined
     * @throws IllegalArgumentException naming its layout when it is not strided
     */
    public static void checkStridedGradOutput(Tensor gradOutput) {
        if (!TensorInfo.isStrided(gradOutput)) {
            throw new IllegalArgumentException("AReLU backward takes a strided (dense) gradient of its output, got "
                    + "layout " + TensorInfo.layoutName(gradOutput) + "; convert it with to_dense()");
        }
    }

    /**
     * A buffer that partly overlaps a tensor the kernels read would be read after being written: refused. The
     * same memory as a whole is in place, which the kernels allow.
     *
     * @param out the buffer written
     * @param read a tensor read in the same call
     * @param outName the buffer's name in messages
     * @param readName the other tensor's name in messages
     * @throws IllegalArgumentException when the two share some but not all of their memory
     */
    public static void checkNoPartialOverlap(Tensor out, Tensor read, String outName, String readName) {
        if (torch.get_overlap_status(out, read).value == torch.MemOverlapStatus.Partial.value) {
            throw new IllegalArgumentException("AReLU " + outName + " partly overlaps " + readName + " in memory; "
                    + "pass the same tensor (in place) or a separate buffer");
        }
    }

    /**
     * A caller-provided output buffer the kernels write as one flat array: the input's shape, dtype and device,
     * and the memory layout the kernels give the input (its own strides when it is dense in memory, else
     * contiguous strides); plain memory, not a lazily negated view or an efficient zero tensor.
     *
     * @param out the buffer
     * @param input the input the buffer is for
     * @param name the buffer's name in messages
     * @return {@code out}
     * @throws IllegalArgumentException naming what is wrong with {@code out}
     */
    public static Tensor checkOutput(Tensor out, Tensor input, String name) {
        if (out == null || out.isNull() || !out.defined()) {
            throw new IllegalArgumentException("AReLU " + name + " must be a defined tensor, got "
                    + (out == null || out.isNull() ? "null" : "an undefined tensor"));
        }
        if (TensorInfo.dtype(out) != TensorInfo.dtype(input) || !TensorInfo.sameDevice(out, input)
                || !TensorInfo.sameShape(out, input)) {
            throw new IllegalArgumentException("AReLU " + name + " must have the input's shape, dtype and device: "
                    + "expected " + TensorInfo.describe(input) + ", got " + TensorInfo.describe(out));
        }
        if (!TensorInfo.isStrided(out) || out.is_neg() || out._is_zerotensor()) {
            throw new IllegalArgumentException("AReLU " + name + " must be a plain strided tensor, got "
                    + (out.is_neg() ? "a lazily negated view (is_neg())" : out._is_zerotensor()
                            ? "an efficient zero tensor" : "layout " + TensorInfo.layoutName(out)));
        }
        checkNoPartialOverlap(out, input, name, "the input");
        boolean inputDense = FusedKernels.isDense(input);
        boolean laidOut = inputDense ? TensorInfo.sameStrides(out, input) : out.is_contiguous();
        if (!laidOut) {
            throw new IllegalArgumentException("AReLU " + name + " must be laid out in memory as the kernels lay out "
                    + "the input: " + (inputDense ? "with the input's strides " + strides(input)
                    : "contiguous (the input is not dense in memory, so it is copied to a contiguous tensor)")
                    + ", got strides " + strides(out));
        }
        return out;
    }

    private static String strides(Tensor tensor) {
        return Arrays.toString(TensorInfo.strides(tensor));
    }

    /**
     * The tensor's shape for messages, such as {@code [2, 3]}.
     *
     * @param tensor a defined tensor
     * @return its sizes as text
     */
    public static String shapeOf(Tensor tensor) {
        return Arrays.toString(TensorInfo.shape(tensor));
    }
}
