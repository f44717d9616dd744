package io.github.arelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

import io.github.arelu.internal.ComposedAReLU;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Test helpers: the reference formula in bytedeco ops, exact element access, and a backward with or without
 * {@code retain_graph}. Public for the tests of {@code io.github.arelu.autograd}.
 */
public final class Tensors {

    private Tensors() {
    }

    /**
     * The paper's reference implementation, relu(x) * b - relu(-x) * a, from raw alpha and beta, so clamp's
     * and sigmoid's gradients come from libtorch's autograd.
     */
    static Tensor reference(Tensor x, Tensor alpha, Tensor beta) {
        Tensor a = torch.clamp(alpha, new ScalarOptional(new Scalar(0.01)), new ScalarOptional(new Scalar(0.99)));
        Tensor b = torch.sigmoid(beta).add(new Scalar(1.0));
        a = ComposedAReLU.broadcastable(a, x);
        b = ComposedAReLU.broadcastable(b, x);
        return torch.relu(x).mul(b).sub(torch.relu(x.neg()).mul(a));
    }

    public static Tensor doubles(double... values) {
        return Tensor.create(values).clone();
    }

    static Tensor parameter(double value, ScalarType dtype) {
        return Tensor.create(new double[] {value}, 1).to(dtype).clone().requires_grad_(true);
    }

    public static double[] values(Tensor t) {
        Tensor c = t.detach().to(ScalarType.Double).contiguous().clone();
        int n = (int) c.numel();
        double[] out = new double[n];
        if (n == 0) {
            return out;
        }
        DoublePointer p = c.data_ptr_double();
        p.capacity(n);
        p.get(out);
        return out;
    }

    /**
     * {@code _make_dual(primal, tangent, 0)}: a dual tensor of forward-mode AD, inside a level opened with {@code
     * enter_dual_level()}. bytedeco maps neither it nor {@code _fw_grad}; both are reached through the dispatcher.
     */
    public static Tensor makeDual(Tensor primal, Tensor tangent) {
        return callOperator("aten::_make_dual", primal, tangent)[0];
    }

    /** The forward-AD tangent of {@code t} at level 0 ({@code _unpack_dual(t, 0).tangent}), undefined for none. */
    public static Tensor tangentOf(Tensor t) {
        return callOperator("aten::_unpack_dual", t)[1];
    }

    private static Tensor[] callOperator(String name, Tensor... tensors) {
        IValueVector stack = new IValueVector();
        for (Tensor t : tensors) {
            stack.push_back(new IValue(t));
        }
        stack.push_back(new IValue(0L)); // the level
        Dispatcher.singleton().findSchemaOrThrow(name, "").callBoxed(stack);
        Tensor[] results = new Tensor[(int) stack.size()];
        for (int i = 0; i < results.length; i++) {
            results[i] = stack.get(i).toTensor();
        }
        return results;
    }

    /** {@code loss.backward()} with the given {@code retain_graph}. */
    public static void backward(Tensor loss, boolean retainGraph) {
        loss.backward(new Tensor(), new BoolOptional(retainGraph), false, new TensorArrayRefOptional());
    }

    /** {@code y.backward(gradient)}: backward from a non-scalar {@code y} with the given output gradient. */
    public static void backward(Tensor y, Tensor gradient) {
        y.backward(gradient, new BoolOptional(), false, new TensorArrayRefOptional());
    }

    static double value(Tensor t) {
        return t.detach().to(ScalarType.Double).item_double();
    }

    /** Elementwise closeness with relative tolerance; NaN matches NaN, infinities must match exactly. */
    static void assertClose(double[] expected, double[] actual, double relTol, double absTol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e) || Double.isNaN(a) || Double.isInfinite(e) || Double.isInfinite(a)) {
                if (!(Double.compare(e, a) == 0 || (Double.isNaN(e) && Double.isNaN(a)))) {
                    fail(what + "[" + i + "]: expected " + e + " got " + a);
                }
                continue;
            }
            double tol = Math.max(absTol, relTol * Math.abs(e));
            if (Math.abs(e - a) > tol) {
                fail(what + "[" + i + "]: expected " + e + " got " + a + " (diff " + Math.abs(e - a)
                        + " > tol " + tol + ")\nexpected " + abbreviated(expected) + "\nactual   "
                        + abbreviated(actual));
            }
        }
    }

    private static String abbreviated(double[] v) {
        return v.length <= 16 ? Arrays.toString(v) : Arrays.toString(Arrays.copyOf(v, 16)) + "...";
    }

    /** Resident memory after a full GC, so garbage Java objects waiting for collection do not count. */
    static long residentBytesAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return residentBytes();
    }

    static long residentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
