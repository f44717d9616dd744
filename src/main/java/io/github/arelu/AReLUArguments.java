package io.github.arelu;

import java.util.Arrays;

import io.github.arelu.autograd.TensorInfo;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Every argument check of the AReLU API, in one place; messages name what was expected and what was found. */
final class AReLUArguments {

    private AReLUArguments() {
    }

    /**
     * Validates an input and its parameters.
     *
     * @throws IllegalArgumentException for a null or undefined tensor, a non-floating-point input, parameters
     *     of another dtype or device than the input, parameters whose element counts differ or are zero, or a
     *     channel-wise parameter count that does not match {@code input.size(1)}
     */
    static void check(Tensor input, Tensor alpha, Tensor beta) {
        if (input == null || input.isNull() || !input.defined()) {
            throw new IllegalArgumentException("AReLU input is null or an undefined tensor");
        }
        if (alpha == null || beta == null || alpha.isNull() || beta.isNull() || !alpha.defined() || !beta.defined()) {
            throw new IllegalArgumentException("AReLU parameters alpha and beta must be defined tensors");
        }
        if (!input.is_floating_point()) {
            throw new IllegalArgumentException("AReLU expects a floating-point input (Float, Double, Half or "
                    + "BFloat16), got " + TensorInfo.dtype(input));
        }
        checkParameter("alpha", alpha, input);
        checkParameter("beta", beta, input);
        long count = alpha.numel();
        if (beta.numel() != count) {
            throw new IllegalArgumentException("AReLU alpha and beta must have the same number of elements, got "
                    + count + " and " + beta.numel());
        }
        if (count == 0) {
            throw new IllegalArgumentException("AReLU parameters alpha and beta are empty");
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
        }
    }

    private static void checkParameter(String name, Tensor parameter, Tensor input) {
        ScalarType dtype = TensorInfo.dtype(input);
        if (TensorInfo.dtype(parameter) != dtype) {
            throw new IllegalArgumentException("AReLU parameter " + name + " has dtype " + TensorInfo.dtype(parameter)
                    + " but the input has dtype " + dtype + "; convert the module with to(" + dtype
                    + ") or the input");
        }
        if (!TensorInfo.sameDevice(parameter, input)) {
            throw new IllegalArgumentException("AReLU parameter " + name + " is on device "
                    + TensorInfo.device(parameter) + " but the input is on device " + TensorInfo.device(input)
                    + "; move the module or the input");
        }
    }

    /** A gradient of the output must match the input it is the gradient for. */
    static void checkGradOutput(Tensor gradOutput, Tensor input) {
        if (gradOutput == null || gradOutput.isNull() || !gradOutput.defined()) {
            throw new IllegalArgumentException("AReLU backward needs a defined gradOutput");
        }
        if (TensorInfo.dtype(gradOutput) != TensorInfo.dtype(input) || !TensorInfo.sameDevice(gradOutput, input)
                || !TensorInfo.sameShape(gradOutput, input)) {
            throw new IllegalArgumentException("AReLU backward: gradOutput must match the input, got "
                    + TensorInfo.describe(gradOutput) + " for input " + TensorInfo.describe(input));
        }
    }

    /** A caller-provided output buffer: contiguous, with the input's shape, dtype and device. */
    static Tensor checkOutput(Tensor out, Tensor input, String name) {
        boolean ok = out != null && !out.isNull() && out.defined() && out.is_contiguous()
                && TensorInfo.dtype(out) == TensorInfo.dtype(input) && TensorInfo.sameDevice(out, input)
                && TensorInfo.sameShape(out, input);
        if (!ok) {
            boolean strided = out != null && !out.isNull() && out.defined() && !out.is_contiguous();
            throw new IllegalArgumentException("AReLU " + name + " must be a contiguous tensor of the input's shape, "
                    + "dtype and device: expected " + TensorInfo.describe(input) + " (contiguous), got "
                    + (out == null || out.isNull() ? "null" : TensorInfo.describe(out))
                    + (strided ? " (not contiguous)" : ""));
        }
        return out;
    }

    static String shapeOf(Tensor tensor) {
        return Arrays.toString(TensorInfo.shape(tensor));
    }
}
