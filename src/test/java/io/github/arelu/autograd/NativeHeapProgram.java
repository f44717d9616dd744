package io.github.arelu.autograd;

import static io.github.arelu.Tensors.backward;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.LibTorch;
import io.github.arelu.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Counts the native heap a call of each kind leaves behind, in a JVM started with tcmalloc preloaded (see {@link
 * PerCallNativeHeapTest}): tcmalloc's {@code generic.current_allocated_bytes} counts every byte malloc'd and not
 * freed, by libtorch, JavaCPP, this library's native code and the JVM alike. Each kind runs warm-up calls (classes,
 * libtorch's lazily made objects, the JIT), then windows of calls with the count read around each; prints one line
 * {@code kind: median <bytes per call> windows <bytes per call of each window>}. The JVM's own mallocs and frees
 * (compiler arenas, for one) move one window now and then by thousands of bytes a call either way, and leave the
 * others at exactly 0; a leak moves every window by its size, so the median shows it.
 */
public final class NativeHeapProgram {

    private static final int WARM_UP = 4000;
    private static final int WINDOWS = 7;
    private static final int CALLS = 2000;

    private NativeHeapProgram() {
    }

    public static void main(String[] args) throws Throwable {
        LibTorch.load();
        torch.set_num_threads(1);
        MethodHandle property = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup("libtcmalloc_minimal.so.4", Arena.global())
                        .find("MallocExtension_GetNumericProperty")
                        .orElseThrow(() -> new IllegalStateException("tcmalloc has no MallocExtension_GetNumericProperty")),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        MemorySegment name = Arena.global().allocateFrom("generic.current_allocated_bytes");
        MemorySegment value = Arena.global().allocate(ValueLayout.JAVA_LONG);

        System.out.println("nodes with " + (CarrierTable.available() ? "our virtual table" : "hooks"));
        try (PointerScope scope = new PointerScope()) {
            for (Map.Entry<String, Runnable> kind : kinds().entrySet()) {
                for (int i = 0; i < WARM_UP; i++) {
                    step(kind.getValue());
                }
                double[] perCall = new double[WINDOWS];
                for (int w = 0; w < WINDOWS; w++) {
                    long before = allocated(property, name, value);
                    for (int i = 0; i < CALLS; i++) {
                        step(kind.getValue());
                    }
                    perCall[w] = (allocated(property, name, value) - before) / (double) CALLS;
                }
                double[] sorted = perCall.clone();
                Arrays.sort(sorted);
                System.out.printf(Locale.ROOT, "%s: median %.3f windows %s%n", kind.getKey(), sorted[WINDOWS / 2],
                        Arrays.toString(perCall));
            }
        }
    }

    private static void step(Runnable call) {
        try (PointerScope step = new PointerScope()) {
            call.run();
        }
    }

    private static long allocated(MethodHandle property, MemorySegment name, MemorySegment value) throws Throwable {
        if ((int) property.invokeExact(name, value) == 0) {
            throw new IllegalStateException("tcmalloc does not know generic.current_allocated_bytes");
        }
        return value.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * The kinds of call a training run makes many millions of, each over inputs and parameters of the shapes that
     * take different branches of the node: leaves and activations, scalar and channel-wise parameters (shaped
     * {@code [C, 1, 1]}, as a convolution's output takes them), grad mode off, second derivatives, and a forward-AD
     * level open; and a function of a user's own with several outputs. Gradients accumulate into the leaves in place after the first call.
     */
    private static Map<String, Runnable> kinds() {
        torch.manual_seed(0);
        AReLU scalar = new AReLU();
        AReLU channelwise = AReLU.channelwise(4);
        Tensor channelAlpha = torch.full(new long[] {4, 1, 1}, new Scalar(AReLU.DEFAULT_ALPHA)).requires_grad_(true);
        Tensor channelBeta = torch.full(new long[] {4, 1, 1}, new Scalar(AReLU.DEFAULT_BETA)).requires_grad_(true);
        Tensor leaf = torch.randn(2, 4, 3, 3).requires_grad_(true);
        Tensor weight = torch.randn(2, 4, 3, 3);
        Map<String, Runnable> kinds = new LinkedHashMap<>();
        kinds.put("module on a 4-D leaf", () -> backward(scalar.forward(leaf).mul(weight).sum(), false));
        kinds.put("module on an activation", () -> backward(scalar.forward(leaf.mul(new Scalar(2.0))).sum(), false));
        kinds.put("channel-wise module", () -> backward(channelwise.forward(leaf.mul(new Scalar(2.0))).sum(), false));
        kinds.put("parameters shaped [C, 1, 1]",
                () -> backward(AReLUFunctional.arelu(leaf.mul(new Scalar(2.0)), channelAlpha, channelBeta).sum(), false));
        kinds.put("grad mode off", () -> {
            try (NoGradGuard noGrad = new NoGradGuard()) {
                scalar.forward(leaf);
            }
        });
        kinds.put("second derivatives (create_graph)", () -> {
            Tensor y = scalar.forward(leaf.mul(new Scalar(2.0))).mul(weight).sum();
            TensorVector g = torch.grad(new TensorVector(y), new TensorVector(scalar.alpha(), scalar.beta()),
                    new TensorVector(), new org.bytedeco.pytorch.BoolOptional(true), true, false);
            backward(g.get(0).add(g.get(1)), false);
        });
        Tensor w = torch.randn(1).requires_grad_(true);
        Tensor c = torch.randn(1).requires_grad_(true);
        kinds.put("a JavaFunction of two outputs, its graph retained once", () -> {
            Tensor[] out = new JavaFunctionTest.AffineAndSquare().apply(leaf, w, c);
            Tensor loss = out[0].add(out[1]).sum();
            backward(loss, true);
            backward(loss, false);
        });
        kinds.put("forward-AD level open", () -> {
            long level = torch.enter_dual_level();
            try {
                Tensor dual = Tensors.makeDual(leaf.detach(), weight);
                backward(scalar.forward(leaf).sum().add(scalar.forward(dual).sum()), false);
            } finally {
                torch.exit_dual_level(level);
            }
        });
        return kinds;
    }
}
