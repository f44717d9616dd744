package io.github.arelu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused AReLU kernels of {@code native/} on tensors: one pass forward, one pass backward (input
 * gradient and both parameter gradients together). These calls are not recorded by autograd; {@link AReLU}
 * and {@link AReLUFunctional#arelu} use the fused forward by themselves whenever no gradient is needed.
 *
 * <p>Supported: float32 and float64 tensors of any shape (non-contiguous inputs are made contiguous first),
 * on the CPU always when the native library loaded, and on CUDA when {@link #setCudaEnabled(boolean)
 * enabled} (or {@code -Darelu.cuda.fused=true}): the CUDA kernels run on libtorch's current CUDA stream of
 * the current device, and stay opt-in until they have been run from Java on a GPU. Parameters as in
 * {@link AReLUFunctional#arelu}: one element each, or one per channel of dimension 1.
 */
public final class FusedAReLU {

    /** Gradients of a loss with respect to the input, alpha and beta (shaped like each). */
    public record Gradients(Tensor input, Tensor alpha, Tensor beta) {
    }

    private static volatile boolean cudaEnabled = Boolean.getBoolean("arelu.cuda.fused");


    private FusedAReLU() {
    }

    /** Whether the native library loaded (for the CPU kernels). */
    public static boolean isAvailable() {
        return NativeKernels.instance() != null;
    }

    /** Turns the fused path on CUDA tensors on or off (default off, or {@code -Darelu.cuda.fused=true}). */
    public static void setCudaEnabled(boolean enabled) {
        cudaEnabled = enabled;
    }

    /** Whether the fused path is used for CUDA tensors. */
    public static boolean isCudaEnabled() {
        return cudaEnabled;
    }

    /** Whether the fused kernels handle this input's device and dtype under the current settings. */
    public static boolean supports(Tensor input) {
        NativeKernels kernels = NativeKernels.instance();
        if (kernels == null) {
            return false;
        }
        ScalarType dtype = AReLUFunctional.dtype(input);
        if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
            return false;
        }
        if (input.is_cpu()) {
            return true;
        }
        return input.is_cuda() && cudaEnabled && kernels.cudaAvailable();
    }

    /** Fused forward into a new tensor shaped like {@code input}. */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta) {
        return forward(input, alpha, beta, null);
    }

    /**
     * Fused forward into {@code out} (a contiguous tensor of the input's shape, dtype and device; it may be
     * {@code input} itself for in-place use), or into a new tensor when {@code out} is null.
     */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        AReLUFunctional.checkArguments(input, alpha, beta);
        return forwardChecked(input, alpha, beta, out);
    }

    /** {@link #forward(Tensor, Tensor, Tensor, Tensor)} for arguments already checked by checkArguments. */
    static Tensor forwardChecked(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        NativeKernels kernels = requireKernels(input);
        try (PointerScope scope = new PointerScope()) {
            Tensor x = input.contiguous();
            Tensor y = out != null ? checkOutput(out, input, "out") : torch.empty_like(x);
            if (x.numel() > 0) {
                if (alpha.numel() == 1) {
                    forwardScalar(kernels, x, y, alpha, beta);
                } else {
                    forwardChannels(kernels, x, y, alpha, beta);
                }
            }
            return out != null ? out : AReLUFunctional.escape(scope, y);
        }
    }

    /** Fused backward: gradients for a given {@code gradOutput} of {@code arelu(input, alpha, beta)}. */
    public static Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta) {
        return backward(gradOutput, input, alpha, beta, null);
    }

    /**
     * Fused backward writing the input gradient into {@code gradInputOut} (contiguous, shaped like the input;
     * it may be {@code gradOutput} itself) or into a new tensor when it is null.
     */
    public static Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta,
            Tensor gradInputOut) {
        AReLUFunctional.checkArguments(input, alpha, beta);
        NativeKernels kernels = requireKernels(input);
        if (gradOutput == null || !gradOutput.defined()) {
            throw new IllegalArgumentException("AReLU backward needs a defined gradOutput");
        }
        boolean sameDevice = gradOutput.is_cpu() && input.is_cpu()
                || !gradOutput.is_cpu() && !input.is_cpu() && gradOutput.device().equals(input.device());
        if (AReLUFunctional.dtype(gradOutput) != AReLUFunctional.dtype(input) || !sameDevice
                || !AReLUFunctional.sameShape(gradOutput, input)) {
            throw new IllegalArgumentException("AReLU backward: gradOutput must match the input, got "
                    + describe(gradOutput) + " for input " + describe(input));
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor x = input.contiguous();
            Tensor g = gradOutput.contiguous();
            Tensor gradInput = gradInputOut != null ? checkOutput(gradInputOut, input, "gradInputOut")
                    : torch.empty_like(x);
            Tensor gradIn = gradInputOut != null ? gradInputOut : AReLUFunctional.escape(scope, gradInput);
            long channels = alpha.numel();
            if (channels == 1 && x.is_cpu()) {
                // The common case without tensor ops for two numbers: each small libtorch op costs
                // microseconds, more than the whole kernel on a 64K-element tensor.
                double rawAlpha = scalarValue(alpha);
                double rawBeta = scalarValue(beta);
                double[] sums = new double[2];
                if (x.numel() > 0) {
                    backwardScalarCpu(kernels, g, x, gradInput, rawAlpha, rawBeta, sums);
                }
                // torch.clamp passes the gradient inside [0.01, 0.99], bounds included, compared in alpha's
                // own dtype; selected, not multiplied, so a clamped alpha gets 0 even for a NaN sum.
                boolean inRange = AReLUFunctional.dtype(alpha) == ScalarType.Float
                        ? (float) rawAlpha >= (float) AReLUFunctional.ALPHA_MIN
                                && (float) rawAlpha <= (float) AReLUFunctional.ALPHA_MAX
                        : rawAlpha >= AReLUFunctional.ALPHA_MIN && rawAlpha <= AReLUFunctional.ALPHA_MAX;
                double sigmoid = 1.0 / (1.0 + Math.exp(-rawBeta));
                Tensor gradAlpha = filledLike(alpha, inRange ? sums[0] : 0.0);
                Tensor gradBeta = filledLike(beta, sums[1] * sigmoid * (1.0 - sigmoid));
                return new Gradients(gradIn, AReLUFunctional.escape(scope, gradAlpha),
                        AReLUFunctional.escape(scope, gradBeta));
            }
            TensorOptions sumOptions = new TensorOptions(ScalarType.Double)
                    .device(new org.bytedeco.pytorch.DeviceOptional(input.device()));
            Tensor negSum = torch.zeros(new long[] {channels}, sumOptions);
            Tensor posSum = torch.zeros(new long[] {channels}, sumOptions);
            if (x.numel() > 0) {
                if (channels == 1) {
                    backwardScalarCuda(kernels, g, x, gradInput, alpha, beta, negSum, posSum);
                } else {
                    backwardChannels(kernels, g, x, gradInput, alpha, beta, negSum, posSum);
                }
            }
            // The same rules as above, with tensor ops on the parameters' device.
            Tensor inRange = alpha.ge(new Scalar(AReLUFunctional.ALPHA_MIN))
                    .logical_and(alpha.le(new Scalar(AReLUFunctional.ALPHA_MAX)));
            Tensor gradAlpha = torch.where(inRange.reshape(-1), negSum, new Scalar(0.0)).reshape(alpha.sizes())
                    .to(AReLUFunctional.dtype(alpha));
            Tensor sigmoid = torch.sigmoid(beta.to(ScalarType.Double));
            Tensor gradBeta = posSum.reshape(beta.sizes()).mul(sigmoid).mul(sigmoid.neg().add(new Scalar(1.0)))
                    .to(AReLUFunctional.dtype(beta));
            return new Gradients(gradIn, AReLUFunctional.escape(scope, gradAlpha),
                    AReLUFunctional.escape(scope, gradBeta));
        }
    }

    private static void forwardScalar(NativeKernels k, Tensor x, Tensor y, Tensor alpha, Tensor beta) {
        double rawAlpha = scalarValue(alpha);
        double rawBeta = scalarValue(beta);
        boolean f32 = AReLUFunctional.dtype(x) == ScalarType.Float;
        MemorySegment in = address(x);
        MemorySegment out = address(y);
        long n = x.numel();
        if (x.is_cuda()) {
            MemorySegment stream = CudaStreams.current(x);
            call(k, "arelu CUDA forward", () -> f32
                    ? (int) k.cudaForwardF32.invokeExact(in, out, n, negScaleF32(rawAlpha), posScaleF32(rawBeta), stream)
                    : (int) k.cudaForwardF64.invokeExact(in, out, n, negScale(rawAlpha), posScale(rawBeta), stream));
        } else {
            int threads = torch.get_num_threads();
            call(k, "arelu forward", () -> f32
                    ? (int) k.forwardF32.invokeExact(in, out, n, negScaleF32(rawAlpha), posScaleF32(rawBeta), threads)
                    : (int) k.forwardF64.invokeExact(in, out, n, negScale(rawAlpha), posScale(rawBeta), threads));
        }
    }

    private static void forwardChannels(NativeKernels k, Tensor x, Tensor y, Tensor alpha, Tensor beta) {
        Tensor neg = channelNegScales(alpha);
        Tensor pos = channelPosScales(beta);
        long outer = x.size(0);
        long channels = x.size(1);
        long inner = x.numel() / (outer * channels);
        boolean f32 = AReLUFunctional.dtype(x) == ScalarType.Float;
        if (x.is_cuda()) {
            MethodHandle h = f32 ? k.cudaForwardChannelsF32 : k.cudaForwardChannelsF64;
            MemorySegment stream = CudaStreams.current(x);
            call(k, "arelu CUDA channel-wise forward", () -> (int) h.invokeExact(address(x), address(y), outer,
                    channels, inner, address(neg), address(pos), stream));
        } else {
            MethodHandle h = f32 ? k.forwardChannelsF32 : k.forwardChannelsF64;
            int threads = torch.get_num_threads();
            call(k, "arelu channel-wise forward", () -> (int) h.invokeExact(address(x), address(y), outer,
                    channels, inner, address(neg), address(pos), threads));
        }
    }

    private static void backwardScalarCpu(NativeKernels k, Tensor g, Tensor x, Tensor gradInput, double rawAlpha,
            double rawBeta, double[] sums) {
        boolean f32 = AReLUFunctional.dtype(x) == ScalarType.Float;
        long n = x.numel();
        int threads = torch.get_num_threads();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment negSum = arena.allocate(ValueLayout.JAVA_DOUBLE);
            MemorySegment posSum = arena.allocate(ValueLayout.JAVA_DOUBLE);
            call(k, "arelu backward", () -> f32
                    ? (int) k.backwardF32.invokeExact(address(g), address(x), address(gradInput), n,
                            negScaleF32(rawAlpha), posScaleF32(rawBeta), negSum, posSum, threads)
                    : (int) k.backwardF64.invokeExact(address(g), address(x), address(gradInput), n,
                            negScale(rawAlpha), posScale(rawBeta), negSum, posSum, threads));
            sums[0] = negSum.get(ValueLayout.JAVA_DOUBLE, 0);
            sums[1] = posSum.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }

    private static void backwardScalarCuda(NativeKernels k, Tensor g, Tensor x, Tensor gradInput, Tensor alpha,
            Tensor beta, Tensor negSum, Tensor posSum) {
        double rawAlpha = scalarValue(alpha);
        double rawBeta = scalarValue(beta);
        boolean f32 = AReLUFunctional.dtype(x) == ScalarType.Float;
        long n = x.numel();
        Tensor workspace = cudaWorkspace(k, x, n, 1);
        MemorySegment stream = CudaStreams.current(x);
        call(k, "arelu CUDA backward", () -> f32
                ? (int) k.cudaBackwardF32.invokeExact(address(g), address(x), address(gradInput), n,
                        negScaleF32(rawAlpha), posScaleF32(rawBeta), address(negSum), address(posSum),
                        address(workspace), workspace.numel(), stream)
                : (int) k.cudaBackwardF64.invokeExact(address(g), address(x), address(gradInput), n,
                        negScale(rawAlpha), posScale(rawBeta), address(negSum), address(posSum),
                        address(workspace), workspace.numel(), stream));
    }

    private static void backwardChannels(NativeKernels k, Tensor g, Tensor x, Tensor gradInput, Tensor alpha,
            Tensor beta, Tensor negSum, Tensor posSum) {
        Tensor neg = channelNegScales(alpha);
        Tensor pos = channelPosScales(beta);
        long outer = x.size(0);
        long channels = x.size(1);
        long inner = x.numel() / (outer * channels);
        boolean f32 = AReLUFunctional.dtype(x) == ScalarType.Float;
        if (x.is_cuda()) {
            Tensor workspace = cudaWorkspace(k, x, x.numel(), channels);
            MethodHandle h = f32 ? k.cudaBackwardChannelsF32 : k.cudaBackwardChannelsF64;
            MemorySegment stream = CudaStreams.current(x);
            call(k, "arelu CUDA channel-wise backward", () -> (int) h.invokeExact(address(g), address(x),
                    address(gradInput), outer, channels, inner, address(neg), address(pos), address(negSum),
                    address(posSum), address(workspace), workspace.numel(), stream));
        } else {
            MethodHandle h = f32 ? k.backwardChannelsF32 : k.backwardChannelsF64;
            int threads = torch.get_num_threads();
            call(k, "arelu channel-wise backward", () -> (int) h.invokeExact(address(g), address(x),
                    address(gradInput), outer, channels, inner, address(neg), address(pos), address(negSum),
                    address(posSum), threads));
        }
    }

    /** One kernel launch: returns the C ABI's status. */
    @FunctionalInterface
    private interface NativeCall {
        int run() throws Throwable;
    }

    /** Runs a kernel launch; a non-zero status or a failure of the downcall becomes an exception naming it. */
    private static void call(NativeKernels k, String name, NativeCall launch) {
        int status;
        try {
            status = launch.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(name + " failed", e);
        }
        k.check(status, name);
    }

    // The scales in the kernel's element type, rounded as libtorch rounds them: clamp is exact in any type;
    // 1 + sigmoid(beta) is formed in the parameter's type.
    private static double negScale(double alpha) {
        return Math.min(Math.max(alpha, AReLUFunctional.ALPHA_MIN), AReLUFunctional.ALPHA_MAX);
    }

    private static double posScale(double beta) {
        return 1.0 + 1.0 / (1.0 + Math.exp(-beta));
    }

    private static float negScaleF32(double alpha) {
        return Math.min(Math.max((float) alpha, (float) AReLUFunctional.ALPHA_MIN), (float) AReLUFunctional.ALPHA_MAX);
    }

    private static float posScaleF32(double beta) {
        return 1.0f + (float) (1.0 / (1.0 + Math.exp(-beta)));
    }

    private static Tensor channelNegScales(Tensor alpha) {
        return AReLUFunctional.clampAlpha(alpha).reshape(-1).contiguous();
    }

    private static Tensor channelPosScales(Tensor beta) {
        return torch.sigmoid(beta).add(new Scalar(1.0)).reshape(-1).contiguous();
    }

    private static Tensor cudaWorkspace(NativeKernels k, Tensor x, long n, long channels) {
        long bytes;
        try {
            bytes = (long) k.cudaWorkspaceBytes.invokeExact(n, channels);
        } catch (Throwable e) {
            throw new IllegalStateException("arelu_cuda_workspace_bytes failed", e);
        }
        TensorOptions options = new TensorOptions(ScalarType.Byte).device(new org.bytedeco.pytorch.DeviceOptional(x.device()));
        return torch.empty(new long[] {Math.max(bytes, 1)}, options, new MemoryFormatOptional());
    }

    /**
     * The value of a one-element parameter. On the CPU it is read straight from its memory: item() goes
     * through libtorch's dispatcher, which costs more than the fused kernel on small tensors.
     */
    private static double scalarValue(Tensor parameter) {
        if (parameter.is_cpu() && parameter.is_contiguous()) {
            MemorySegment value = address(parameter).reinterpret(Double.BYTES);
            return AReLUFunctional.dtype(parameter) == ScalarType.Float
                    ? value.get(ValueLayout.JAVA_FLOAT, 0)
                    : value.get(ValueLayout.JAVA_DOUBLE, 0);
        }
        return parameter.item_double();
    }

    private static Tensor filledLike(Tensor parameter, double value) {
        long[] shape = new long[(int) parameter.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = parameter.size(i);
        }
        return torch.full(shape, new Scalar(value), new org.bytedeco.pytorch.DimnameListOptional(),
                new TensorOptions(AReLUFunctional.dtype(parameter)));
    }

    private static MemorySegment address(Tensor t) {
        return MemorySegment.ofAddress(t.data_ptr().address());
    }

    private static NativeKernels requireKernels(Tensor input) {
        NativeKernels kernels = NativeKernels.instance();
        if (kernels == null) {
            throw new UnsupportedOperationException("AReLU fused kernels are unavailable: "
                    + NativeKernels.unavailableReason());
        }
        ScalarType dtype = AReLUFunctional.dtype(input);
        if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
            throw new IllegalArgumentException("AReLU fused kernels support Float and Double inputs, got " + dtype);
        }
        if (input.is_cuda()) {
            if (!kernels.cudaAvailable()) {
                throw new UnsupportedOperationException("AReLU fused CUDA kernels are unavailable: the native "
                        + "library was built without CUDA or no CUDA device is visible to it");
            }
        } else if (!input.is_cpu()) {
            throw new IllegalArgumentException("AReLU fused kernels run on CPU and CUDA tensors, got device "
                    + input.device().str().getString());
        }
        return kernels;
    }

    private static Tensor checkOutput(Tensor out, Tensor input, String name) {
        boolean sameDevice = out.defined() && (out.is_cpu() && input.is_cpu()
                || !out.is_cpu() && !input.is_cpu() && out.device().equals(input.device()));
        if (!out.defined() || !out.is_contiguous() || AReLUFunctional.dtype(out) != AReLUFunctional.dtype(input)
                || !sameDevice || !AReLUFunctional.sameShape(out, input)) {
            throw new IllegalArgumentException("AReLU " + name + " must be a contiguous tensor of the input's shape, "
                    + "dtype and device: expected " + describe(input) + " (contiguous), got " + describe(out)
                    + (out.defined() && !out.is_contiguous() ? " (not contiguous)" : ""));
        }
        return out;
    }

    private static String describe(Tensor t) {
        return AReLUFunctional.dtype(t) + AReLUFunctional.shapeOf(t) + " on " + t.device().str().getString();
    }

    /** libtorch's current CUDA stream, reached by reflection: the CPU build of bytedeco lacks torch_cuda. */
    private static final class CudaStreams {
        private static final Method CURRENT_STREAM;
        private static final Method CURRENT_DEVICE;
        private static final Method AS_CUSTREAM;

        static {
            try {
                Class<?> torchCuda = Class.forName("org.bytedeco.pytorch.global.torch_cuda");
                CURRENT_STREAM = torchCuda.getMethod("getCurrentCUDAStream", byte.class);
                CURRENT_DEVICE = torchCuda.getMethod("current_device");
                AS_CUSTREAM = Class.forName("org.bytedeco.pytorch.cuda.CUDAStream").getMethod("asCUstream_st");
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        static MemorySegment current(Tensor x) {
            byte device = x.device().index();
            try {
                byte current = (byte) CURRENT_DEVICE.invoke(null);
                if (device != current) {
                    throw new IllegalArgumentException("AReLU fused CUDA kernels run on the current device cuda:"
                            + current + ", got a tensor on cuda:" + device + "; call torch_cuda.set_device first");
                }
                Object stream = CURRENT_STREAM.invoke(null, device);
                Pointer handle = (Pointer) AS_CUSTREAM.invoke(stream);
                return MemorySegment.ofAddress(handle == null ? 0 : handle.address());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot reach libtorch's current CUDA stream", e);
            }
        }
    }
}
