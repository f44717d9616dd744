package io.github.arelu;

import java.util.Arrays;
import java.util.Iterator;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Functional AReLU: {@code arelu(x, alpha, beta)} computes {@code (1 + sigmoid(beta)) * x} for
 * {@code x > 0} and {@code clamp(alpha, 0.01, 0.99) * x} for {@code x < 0}. The {@link AReLU} module
 * calls this with its parameters, so module and function share one implementation.
 *
 * <p>{@code alpha} and {@code beta} hold one element each (the paper's form, any shape with one element) or
 * one element per channel of dimension 1 of the input (the channel-wise form). They must have the input's
 * dtype and device.
 *
 * <p>Two implementations, chosen per call:
 * <ul>
 *   <li>When no gradient is needed (grad mode off, or neither input nor parameters require grad) and the
 *       fused native kernels can handle the input (see {@link FusedAReLU#supports}), one fused pass
 *       computes the output.</li>
 *   <li>Otherwise {@link #areluComposed} builds the result from libtorch ops, so autograd works on every
 *       device and dtype libtorch supports.</li>
 * </ul>
 */
public final class AReLUFunctional {

    /** Lower clamp bound of alpha, from the paper. */
    public static final double ALPHA_MIN = 0.01;
    /** Upper clamp bound of alpha, from the paper. */
    public static final double ALPHA_MAX = 0.99;

    private AReLUFunctional() {
    }

    /**
     * AReLU of {@code input} with the given raw parameters; see the class documentation.
     *
     * @throws IllegalArgumentException for a non-floating-point input, parameters of another dtype or
     *     device than the input, parameters whose element counts differ, or a channel-wise parameter count
     *     that does not match {@code input.size(1)}
     */
    public static Tensor arelu(Tensor input, Tensor alpha, Tensor beta) {
        checkArguments(input, alpha, beta);
        boolean gradientNeeded = GradMode.is_enabled()
                && (input.requires_grad() || alpha.requires_grad() || beta.requires_grad());
        if (!gradientNeeded && FusedAReLU.supports(input)) {
            return FusedAReLU.forwardChecked(input, alpha, beta, null);
        }
        return composedChecked(input, alpha, beta);
    }

    /**
     * AReLU built from libtorch ops, differentiable on every device: {@code prelu(hardshrink(x, 0) * b, a / b)}
     * with {@code a = clamp(alpha, 0.01, 0.99)} and {@code b = 1 + sigmoid(beta)}.
     *
     * <p>Why this composition: it takes three element-wise passes forward where the reference
     * {@code relu(x) * b - relu(-x) * a} takes six, and keeps the reference's gradients. {@code hardshrink}
     * with threshold 0 returns {@code x} unchanged but has gradient 0 at exactly 0, which PReLU alone does
     * not (PReLU's gradient at 0 is its weight); the scale {@code b} is applied before PReLU so PReLU's
     * weight {@code a / b} restores {@code a} on the negative side. Values on the negative side differ from
     * the reference's by at most about one rounding ({@code (a / b) * (b * x)} against {@code a * x}).
     */
    public static Tensor areluComposed(Tensor input, Tensor alpha, Tensor beta) {
        checkArguments(input, alpha, beta);
        return composedChecked(input, alpha, beta);
    }

    private static Tensor composedChecked(Tensor input, Tensor alpha, Tensor beta) {
        try (PointerScope scope = new PointerScope()) {
            // Scalars are made per call inside the scope: a static native object would be freed by whatever
            // PointerScope happened to be open when this class was initialized.
            Tensor negativeScale = clampAlpha(alpha);
            Tensor positiveScale = torch.sigmoid(beta).add(new Scalar(1.0));
            Tensor shrunk = torch.hardshrink(input, new Scalar(0.0));
            Tensor scaled = shrunk.mul(broadcastable(positiveScale, input));
            // prelu takes a weight with one element or one per channel of dimension 1, as we store them.
            Tensor output = torch.prelu(scaled, negativeScale.div(positiveScale).reshape(-1));
            return escape(scope, output);
        }
    }

    /** clamp(alpha, 0.01, 0.99), differentiable with torch.clamp's gradient rule. */
    static Tensor clampAlpha(Tensor alpha) {
        return torch.clamp(alpha, new ScalarOptional(new Scalar(ALPHA_MIN)), new ScalarOptional(new Scalar(ALPHA_MAX)));
    }

    /** The parameter view that broadcasts against {@code input}: 0-dim for one element, else [1, C, 1...]. */
    static Tensor broadcastable(Tensor parameter, Tensor input) {
        if (parameter.numel() == 1) {
            return parameter.reshape();
        }
        long[] shape = new long[(int) input.dim()];
        Arrays.fill(shape, 1);
        shape[1] = parameter.numel();
        return parameter.reshape(shape);
    }

    /** Validates input and parameters; messages name what was expected and what was found. */
    static void checkArguments(Tensor input, Tensor alpha, Tensor beta) {
        if (input == null || input.isNull() || !input.defined()) {
            throw new IllegalArgumentException("AReLU input is null or an undefined tensor");
        }
        if (alpha == null || beta == null || !alpha.defined() || !beta.defined()) {
            throw new IllegalArgumentException("AReLU parameters alpha and beta must be defined tensors");
        }
        ScalarType dtype = dtype(input);
        if (!input.is_floating_point()) {
            throw new IllegalArgumentException("AReLU expects a floating-point input (Float, Double, Half or "
                    + "BFloat16), got " + dtype);
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
        if (dtype(parameter) != dtype(input)) {
            throw new IllegalArgumentException("AReLU parameter " + name + " has dtype " + dtype(parameter)
                    + " but the input has dtype " + dtype(input)
                    + "; convert the module with to(" + dtype(input) + ") or the input");
        }
        // Both on the CPU is the common case and needs no Device objects (each is a native allocation).
        boolean sameDevice = parameter.is_cpu() && input.is_cpu()
                || !parameter.is_cpu() && !input.is_cpu() && parameter.device().equals(input.device());
        if (!sameDevice) {
            throw new IllegalArgumentException("AReLU parameter " + name + " is on device "
                    + parameter.device().str().getString() + " but the input is on device "
                    + input.device().str().getString() + "; move the module or the input");
        }
    }

    /**
     * The tensor's dtype as the canonical enum constant: JavaCPP hands out fresh ScalarType instances for
     * values it gets from native code, so only interned constants compare with == and equals.
     */
    static ScalarType dtype(Tensor tensor) {
        // A table instead of intern(), which copies values() on every call: dtype is asked on every forward.
        return DTYPES[tensor.scalar_type().value & 0xff];
    }

    private static final ScalarType[] DTYPES = new ScalarType[256];

    static {
        for (ScalarType t : ScalarType.values()) {
            if (DTYPES[t.value & 0xff] == null) {
                DTYPES[t.value & 0xff] = t;
            }
        }
    }

    static boolean sameShape(Tensor a, Tensor b) {
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

    static String shapeOf(Tensor tensor) {
        long[] shape = new long[(int) tensor.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = tensor.size(i);
        }
        return Arrays.toString(shape);
    }

    /**
     * Hands {@code result} from {@code inner} to the scope the caller created it in (the next enclosing
     * scope that accepts tensors), as if it had been made there; with no enclosing scope the garbage
     * collector owns it, as for any tensor made outside a scope. Everything else made inside {@code inner}
     * is released when it closes, so intermediates never wait for the garbage collector.
     */
    static Tensor escape(PointerScope inner, Tensor result) {
        Iterator<PointerScope> scopes = PointerScope.getScopeIterator();
        while (scopes != null && scopes.hasNext()) {
            PointerScope scope = scopes.next();
            if (scope != inner && accepts(scope, result)) {
                scope.attach(result);
                return result;
            }
        }
        result.retainReference();
        return result;
    }

    private static boolean accepts(PointerScope scope, Tensor tensor) {
        Class<? extends org.bytedeco.javacpp.Pointer>[] classes = scope.forClasses();
        if (classes == null || classes.length == 0) {
            return true;
        }
        for (Class<? extends org.bytedeco.javacpp.Pointer> c : classes) {
            if (c.isInstance(tensor)) {
                return true;
            }
        }
        return false;
    }
}
