package io.github.arelu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import org.bytedeco.javacpp.Loader;

/**
 * The C ABI of {@code native/include/arelu.h}, bound with java.lang.foreign: one typed method per kernel
 * family, taking raw addresses, sizes and scales. A non-zero status becomes an exception naming the call
 * and the library's own message; nothing else about method handles leaves this class.
 *
 * <p>The library ships in the jar under {@code io/github/arelu/<platform>/libarelu.so} and is extracted
 * through JavaCPP's Loader cache, the same cache bytedeco's own libraries use. libtorch is loaded first:
 * our library needs {@code libgomp.so.1}, and the dynamic linker then reuses the OpenMP runtime libtorch
 * already loaded instead of starting a second one. The system property {@code arelu.library.path} points
 * at another build of the library (for native development).
 *
 * <p>Scales are passed as doubles; for float32 kernels they must already be float values (formed by
 * {@link #scales}), so narrowing them here is exact.
 */
final class NativeKernels {

    private static final System.Logger LOG = System.getLogger("io.github.arelu");
    private static final int ABI_VERSION = 2;

    /** Why the kernels could not load, or null when they did. */
    private static final String UNAVAILABLE_REASON;
    private static final NativeKernels INSTANCE;

    static {
        NativeKernels kernels = null;
        String reason = null;
        try {
            kernels = new NativeKernels(locateLibrary());
        } catch (Throwable e) {
            reason = e.getMessage() != null ? e.getMessage() : e.toString();
        }
        INSTANCE = kernels;
        UNAVAILABLE_REASON = reason;
        if (kernels == null) {
            LOG.log(System.Logger.Level.WARNING, "AReLU fused native kernels are unavailable ({0}); "
                    + "AReLU uses the composed libtorch path instead", reason);
        }
    }

    private final MethodHandle forwardF32;
    private final MethodHandle forwardF64;
    private final MethodHandle backwardF32;
    private final MethodHandle backwardF64;
    private final MethodHandle forwardChannelsF32;
    private final MethodHandle forwardChannelsF64;
    private final MethodHandle backwardChannelsF32;
    private final MethodHandle backwardChannelsF64;
    private final MethodHandle cudaForwardF32;
    private final MethodHandle cudaForwardF64;
    private final MethodHandle cudaBackwardF32;
    private final MethodHandle cudaBackwardF64;
    private final MethodHandle cudaForwardChannelsF32;
    private final MethodHandle cudaForwardChannelsF64;
    private final MethodHandle cudaBackwardChannelsF32;
    private final MethodHandle cudaBackwardChannelsF64;
    private final MethodHandle scalesF32;
    private final MethodHandle scalesF64;
    private final MethodHandle cudaScalesF32;
    private final MethodHandle cudaScalesF64;
    private final MethodHandle parameterGradientsF32;
    private final MethodHandle parameterGradientsF64;
    private final MethodHandle cudaParameterGradientsF32;
    private final MethodHandle cudaParameterGradientsF64;
    private final MethodHandle cudaWorkspaceBytes;
    private final MethodHandle errorString;
    private final boolean cudaAvailable;

    private NativeKernels(Path library) throws Throwable {
        Linker linker = Linker.nativeLinker();
        SymbolLookup symbols = SymbolLookup.libraryLookup(library, Arena.global());
        Binder bind = (name, descriptor) -> linker.downcallHandle(symbols.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("symbol " + name + " missing from " + library)), descriptor);

        int version = (int) bind.handle("arelu_abi_version", FunctionDescriptor.of(JAVA_INT)).invokeExact();
        if (version != ABI_VERSION) {
            throw new UnsatisfiedLinkError(library + " has ABI version " + version + ", expected " + ABI_VERSION);
        }
        errorString = bind.handle("arelu_error_string", FunctionDescriptor.of(ADDRESS, JAVA_INT));

        forwardF32 = bind.handle("arelu_forward_f32", scalarForward(JAVA_FLOAT, JAVA_INT));
        forwardF64 = bind.handle("arelu_forward_f64", scalarForward(JAVA_DOUBLE, JAVA_INT));
        backwardF32 = bind.handle("arelu_backward_f32", scalarBackward(JAVA_FLOAT));
        backwardF64 = bind.handle("arelu_backward_f64", scalarBackward(JAVA_DOUBLE));
        forwardChannelsF32 = bind.handle("arelu_forward_channels_f32", channelsForward(JAVA_INT));
        forwardChannelsF64 = bind.handle("arelu_forward_channels_f64", channelsForward(JAVA_INT));
        backwardChannelsF32 = bind.handle("arelu_backward_channels_f32", channelsBackward());
        backwardChannelsF64 = bind.handle("arelu_backward_channels_f64", channelsBackward());
        scalesF32 = bind.handle("arelu_scales_f32", scales());
        scalesF64 = bind.handle("arelu_scales_f64", scales());
        parameterGradientsF32 = bind.handle("arelu_parameter_gradients_f32", parameterGradients());
        parameterGradientsF64 = bind.handle("arelu_parameter_gradients_f64", parameterGradients());

        // CUDA entry points exist in every build; a build without nvcc answers ARELU_ERR_NO_CUDA.
        cudaForwardF32 = bind.handle("arelu_cuda_forward_f32", scalarForward(JAVA_FLOAT, ADDRESS));
        cudaForwardF64 = bind.handle("arelu_cuda_forward_f64", scalarForward(JAVA_DOUBLE, ADDRESS));
        cudaBackwardF32 = bind.handle("arelu_cuda_backward_f32", cudaScalarBackward(JAVA_FLOAT));
        cudaBackwardF64 = bind.handle("arelu_cuda_backward_f64", cudaScalarBackward(JAVA_DOUBLE));
        cudaForwardChannelsF32 = bind.handle("arelu_cuda_forward_channels_f32", channelsForward(ADDRESS));
        cudaForwardChannelsF64 = bind.handle("arelu_cuda_forward_channels_f64", channelsForward(ADDRESS));
        cudaBackwardChannelsF32 = bind.handle("arelu_cuda_backward_channels_f32", cudaChannelsBackward());
        cudaBackwardChannelsF64 = bind.handle("arelu_cuda_backward_channels_f64", cudaChannelsBackward());
        cudaScalesF32 = bind.handle("arelu_cuda_scales_f32", scales(ADDRESS));
        cudaScalesF64 = bind.handle("arelu_cuda_scales_f64", scales(ADDRESS));
        cudaParameterGradientsF32 = bind.handle("arelu_cuda_parameter_gradients_f32", parameterGradients(ADDRESS));
        cudaParameterGradientsF64 = bind.handle("arelu_cuda_parameter_gradients_f64", parameterGradients(ADDRESS));
        cudaWorkspaceBytes = bind.handle("arelu_cuda_workspace_bytes",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
        cudaAvailable = (int) bind.handle("arelu_cuda_available", FunctionDescriptor.of(JAVA_INT))
                .invokeExact() == 1;
    }

    @FunctionalInterface
    private interface Binder {
        MethodHandle handle(String name, FunctionDescriptor descriptor);
    }

    // (x, y, n, neg, pos, threads-or-stream)
    private static FunctionDescriptor scalarForward(ValueLayout scale, ValueLayout last) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, scale, scale, last);
    }

    // (grad_out, x, grad_in, n, neg, pos, neg_sum, pos_sum, threads)
    private static FunctionDescriptor scalarBackward(ValueLayout scale) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, scale, scale,
                ADDRESS, ADDRESS, JAVA_INT);
    }

    // (grad_out, x, grad_in, n, neg, pos, neg_sum, pos_sum, workspace, workspace_bytes, stream)
    private static FunctionDescriptor cudaScalarBackward(ValueLayout scale) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, scale, scale,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
    }

    // (x, y, outer, channels, inner, neg*, pos*, threads-or-stream)
    private static FunctionDescriptor channelsForward(ValueLayout last) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                ADDRESS, ADDRESS, last);
    }

    // (grad_out, x, grad_in, outer, channels, inner, neg*, pos*, neg_sum, pos_sum, threads)
    private static FunctionDescriptor channelsBackward() {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT);
    }

    // (grad_out, x, grad_in, outer, channels, inner, neg*, pos*, neg_sum, pos_sum, workspace, bytes, stream)
    private static FunctionDescriptor cudaChannelsBackward() {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
    }

    // (alpha, beta, neg, pos, channels[, stream])
    private static FunctionDescriptor scales(ValueLayout... stream) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG)
                .appendArgumentLayouts(stream);
    }

    // (neg_sum, pos_sum, alpha, beta, grad_alpha, grad_beta, channels[, stream])
    private static FunctionDescriptor parameterGradients(ValueLayout... stream) {
        return FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG)
                .appendArgumentLayouts(stream);
    }

    private static Path locateLibrary() throws Exception {
        String override = System.getProperty("arelu.library.path");
        // libtorch first, so that its libgomp.so.1 is the one our library binds to.
        LibTorch.load();
        if (override != null && !override.isBlank()) {
            File file = new File(override);
            if (!file.isFile()) {
                throw new IllegalStateException("arelu.library.path=" + override + " is not a file");
            }
            return file.toPath().toAbsolutePath();
        }
        String platform = Loader.getPlatform();
        String resource = platform + "/" + System.mapLibraryName("arelu");
        if (NativeKernels.class.getResource(resource) == null) {
            throw new IllegalStateException("no native library for platform " + platform + " in the jar (looked for "
                    + "io/github/arelu/" + resource + ")");
        }
        File file = Loader.cacheResource(NativeKernels.class, resource);
        if (file == null) {
            throw new IllegalStateException("JavaCPP could not extract io/github/arelu/" + resource);
        }
        return file.toPath();
    }

    /** The loaded kernels, or null when they are unavailable (the reason is logged once). */
    static NativeKernels instance() {
        return INSTANCE;
    }

    /** Why the kernels are unavailable, or null. */
    static String unavailableReason() {
        return UNAVAILABLE_REASON;
    }

    /** Whether the library has CUDA kernels and sees a CUDA device. */
    boolean cudaAvailable() {
        return cudaAvailable;
    }

    /** {@code arelu_forward_f32/f64}: y = AReLU(x) with scales neg (a) and pos (b). */
    void forward(boolean f32, MemorySegment x, MemorySegment y, long n, double neg, double pos, int threads) {
        launch("arelu forward", () -> f32
                ? (int) forwardF32.invokeExact(x, y, n, (float) neg, (float) pos, threads)
                : (int) forwardF64.invokeExact(x, y, n, neg, pos, threads));
    }

    /**
     * {@code arelu_backward_f32/f64}: grad_in (may be {@link MemorySegment#NULL} for the sums only) and the
     * sums of g * x over the negative and positive side, each one double written to {@code negSum} and
     * {@code posSum}.
     */
    void backward(boolean f32, MemorySegment g, MemorySegment x, MemorySegment gradIn, long n, double neg,
            double pos, MemorySegment negSum, MemorySegment posSum, int threads) {
        launch("arelu backward", () -> f32
                ? (int) backwardF32.invokeExact(g, x, gradIn, n, (float) neg, (float) pos, negSum, posSum, threads)
                : (int) backwardF64.invokeExact(g, x, gradIn, n, neg, pos, negSum, posSum, threads));
    }

    /** {@code arelu_forward_channels_*}: one scale pair per channel of an (outer, channels, inner) view. */
    void forwardChannels(boolean f32, MemorySegment x, MemorySegment y, long outer, long channels, long inner,
            MemorySegment neg, MemorySegment pos, int threads) {
        MethodHandle h = f32 ? forwardChannelsF32 : forwardChannelsF64;
        launch("arelu channel-wise forward",
                () -> (int) h.invokeExact(x, y, outer, channels, inner, neg, pos, threads));
    }

    /** {@code arelu_backward_channels_*}: grad_in (or NULL) and per-channel double sums. */
    void backwardChannels(boolean f32, MemorySegment g, MemorySegment x, MemorySegment gradIn, long outer,
            long channels, long inner, MemorySegment neg, MemorySegment pos, MemorySegment negSum,
            MemorySegment posSum, int threads) {
        MethodHandle h = f32 ? backwardChannelsF32 : backwardChannelsF64;
        launch("arelu channel-wise backward",
                () -> (int) h.invokeExact(g, x, gradIn, outer, channels, inner, neg, pos, negSum, posSum, threads));
    }

    /**
     * {@code arelu_scales_*}: the effective scales a = clamp(alpha, 0.01, 0.99) and b = 1 + sigmoid(beta) of
     * {@code channels} raw pairs (host arrays of the element type), formed in the element type as libtorch forms
     * them; the definition every binding uses.
     */
    void scales(boolean f32, MemorySegment alpha, MemorySegment beta, MemorySegment neg, MemorySegment pos,
            long channels) {
        MethodHandle h = f32 ? scalesF32 : scalesF64;
        launch("arelu scales", () -> (int) h.invokeExact(alpha, beta, neg, pos, channels));
    }

    /** {@code arelu_cuda_scales_*} on {@code stream}: {@link #scales} on device arrays. */
    void cudaScales(boolean f32, MemorySegment alpha, MemorySegment beta, MemorySegment neg, MemorySegment pos,
            long channels, MemorySegment stream) {
        MethodHandle h = f32 ? cudaScalesF32 : cudaScalesF64;
        launch("arelu CUDA scales", () -> (int) h.invokeExact(alpha, beta, neg, pos, channels, stream));
    }

    /**
     * {@code arelu_parameter_gradients_*}: the gradients of {@code channels} raw alpha/beta pairs (host arrays of
     * the element type) from the backward sums (host doubles): the clamp-range select, sigmoid'(beta) and the
     * NaN rule, defined once in the library for every binding.
     */
    void parameterGradients(boolean f32, MemorySegment negSum, MemorySegment posSum, MemorySegment alpha,
            MemorySegment beta, MemorySegment gradAlpha, MemorySegment gradBeta, long channels) {
        MethodHandle h = f32 ? parameterGradientsF32 : parameterGradientsF64;
        launch("arelu parameter gradients",
                () -> (int) h.invokeExact(negSum, posSum, alpha, beta, gradAlpha, gradBeta, channels));
    }

    /** {@code arelu_cuda_parameter_gradients_*} on {@code stream}: {@link #parameterGradients} on device arrays. */
    void cudaParameterGradients(boolean f32, MemorySegment negSum, MemorySegment posSum, MemorySegment alpha,
            MemorySegment beta, MemorySegment gradAlpha, MemorySegment gradBeta, long channels,
            MemorySegment stream) {
        MethodHandle h = f32 ? cudaParameterGradientsF32 : cudaParameterGradientsF64;
        launch("arelu CUDA parameter gradients",
                () -> (int) h.invokeExact(negSum, posSum, alpha, beta, gradAlpha, gradBeta, channels, stream));
    }

    /** {@code arelu_cuda_forward_*} on {@code stream}. */
    void cudaForward(boolean f32, MemorySegment x, MemorySegment y, long n, double neg, double pos,
            MemorySegment stream) {
        launch("arelu CUDA forward", () -> f32
                ? (int) cudaForwardF32.invokeExact(x, y, n, (float) neg, (float) pos, stream)
                : (int) cudaForwardF64.invokeExact(x, y, n, neg, pos, stream));
    }

    /** {@code arelu_cuda_backward_*} on {@code stream}; the sums land in device doubles. */
    void cudaBackward(boolean f32, MemorySegment g, MemorySegment x, MemorySegment gradIn, long n, double neg,
            double pos, MemorySegment negSum, MemorySegment posSum, MemorySegment workspace, long workspaceBytes,
            MemorySegment stream) {
        launch("arelu CUDA backward", () -> f32
                ? (int) cudaBackwardF32.invokeExact(g, x, gradIn, n, (float) neg, (float) pos, negSum, posSum,
                        workspace, workspaceBytes, stream)
                : (int) cudaBackwardF64.invokeExact(g, x, gradIn, n, neg, pos, negSum, posSum, workspace,
                        workspaceBytes, stream));
    }

    /** {@code arelu_cuda_forward_channels_*} on {@code stream}; scales are device arrays. */
    void cudaForwardChannels(boolean f32, MemorySegment x, MemorySegment y, long outer, long channels, long inner,
            MemorySegment neg, MemorySegment pos, MemorySegment stream) {
        MethodHandle h = f32 ? cudaForwardChannelsF32 : cudaForwardChannelsF64;
        launch("arelu CUDA channel-wise forward",
                () -> (int) h.invokeExact(x, y, outer, channels, inner, neg, pos, stream));
    }

    /** {@code arelu_cuda_backward_channels_*} on {@code stream}. */
    void cudaBackwardChannels(boolean f32, MemorySegment g, MemorySegment x, MemorySegment gradIn, long outer,
            long channels, long inner, MemorySegment neg, MemorySegment pos, MemorySegment negSum,
            MemorySegment posSum, MemorySegment workspace, long workspaceBytes, MemorySegment stream) {
        MethodHandle h = f32 ? cudaBackwardChannelsF32 : cudaBackwardChannelsF64;
        launch("arelu CUDA channel-wise backward", () -> (int) h.invokeExact(g, x, gradIn, outer, channels, inner,
                neg, pos, negSum, posSum, workspace, workspaceBytes, stream));
    }

    /** Bytes of device workspace the CUDA backward needs for n elements in {@code channels} channels. */
    long cudaWorkspaceBytes(long n, long channels) {
        try {
            return (long) cudaWorkspaceBytes.invokeExact(n, channels);
        } catch (Throwable e) {
            throw failed("arelu_cuda_workspace_bytes", e);
        }
    }

    /** One downcall, returning the C ABI's status. */
    @FunctionalInterface
    private interface Downcall {
        int invoke() throws Throwable;
    }

    /** Runs a downcall; a failure of the call itself or a non-zero status becomes an exception naming it. */
    private void launch(String call, Downcall downcall) {
        int status;
        try {
            status = downcall.invoke();
        } catch (Throwable e) {
            throw failed(call, e);
        }
        check(status, call);
    }

    private static RuntimeException failed(String call, Throwable e) {
        return e instanceof RuntimeException r ? r : new IllegalStateException(call + " failed", e);
    }

    /** Throws an exception naming the failed call and the library's own message for a non-zero status. */
    private void check(int status, String call) {
        if (status != 0) {
            String message;
            try {
                MemorySegment text = (MemorySegment) errorString.invokeExact(status);
                message = text.reinterpret(4096).getString(0);
            } catch (Throwable e) {
                message = "status " + status;
            }
            throw new IllegalStateException(call + " failed: " + message + " (status " + status + ")");
        }
    }
}
