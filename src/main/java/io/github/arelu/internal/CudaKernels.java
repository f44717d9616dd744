package io.github.arelu.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused kernels on CUDA tensors of one element type, enqueued on libtorch's current CUDA stream of the
 * tensor's device (looked up once per call), so that they order with libtorch's own work. One-element
 * parameters are read to the host and passed as scalars; channel-wise scales, the backward's sums, its
 * workspace and the parameter gradients stay on the device. Nothing synchronizes.
 */
final class CudaKernels extends FusedKernels {

    private final MethodHandle forward;
    private final MethodHandle backward;
    private final MethodHandle forwardChannels;
    private final MethodHandle backwardChannels;
    private final MethodHandle scales;
    private final MethodHandle parameterGradients;
    private final MethodHandle workspaceBytes;
    /** {@code arelu_scales_*}: the scales of one-element parameters, formed on the host. */
    private final MethodHandle hostScales;

    CudaKernels(NativeLibrary library, ElementType type) {
        super(library, type);
        String t = type.suffix;
        ValueLayout scale = type.layout;
        // (x, y, n, neg, pos, stream)
        forward = library.bindWidened("arelu_cuda_forward_" + t,
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, scale, scale, ADDRESS));
        // (grad_out, x, grad_in, n, neg, pos, neg_sum, pos_sum, workspace, workspace_bytes, stream)
        backward = library.bindWidened("arelu_cuda_backward_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                ADDRESS, JAVA_LONG, scale, scale, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
        // (x, y, outer, channels, inner, neg*, pos*, stream)
        forwardChannels = library.bind("arelu_cuda_forward_channels_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        // (grad_out, x, grad_in, outer, channels, inner, neg*, pos*, neg_sum, pos_sum, workspace, bytes, stream)
        backwardChannels = library.bind("arelu_cuda_backward_channels_" + t, FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_LONG, ADDRESS));
        scales = library.bind("arelu_cuda_scales_" + t, scales(ADDRESS));
        parameterGradients = library.bind("arelu_cuda_parameter_gradients_" + t, parameterGradients(ADDRESS));
        workspaceBytes = library.bind("arelu_cuda_workspace_bytes",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
        hostScales = library.bind("arelu_scales_" + t, scales());
    }

    @Override
    public Forward forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        try (PointerScope scope = new PointerScope()) {
            MemorySegment stream = Streams.current(input);
            Tensor x = dense(input);
            // empty_like keeps a dense tensor's strides: y's elements lie in memory as x's do.
            Tensor y = out != null ? out : torch.empty_like(x);
            long n = x.numel();
            long channels = alpha.numel();
            ScalarParameters scalar = null;
            if (channels == 1) {
                scalar = scalarParameters(alpha, beta);
                if (n > 0) {
                    HostScales formed = hostScales(scalar);
                    int status;
                    try {
                        status = (int) forward.invokeExact(address(x), address(y), n, formed.neg(), formed.pos(),
                                stream);
                    } catch (Throwable e) {
                        throw NativeLibrary.failed("arelu CUDA forward", e);
                    }
                    check(status, "arelu CUDA forward");
                }
            } else if (n > 0) {
                Tensor a = flat(alpha);
                Tensor b = flat(beta);
                ChannelScales perChannel = channelScales(a, b, channels, stream);
                long inner = channelStride(x);
                long outer = n / (channels * inner);
                int status;
                try {
                    status = (int) forwardChannels.invokeExact(address(x), address(y), outer, channels, inner,
                            address(perChannel.neg()), address(perChannel.pos()), stream);
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu CUDA channel-wise forward", e);
                }
                check(status, "arelu CUDA channel-wise forward");
            }
            return new Forward(out != null ? out : Scopes.escape(scope, y), scalar);
        }
    }

    @Override
    public Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta, Tensor gradInputOut,
            boolean inputGradient, ScalarParameters given) {
        try (PointerScope scope = new PointerScope()) {
            MemorySegment stream = Streams.current(input);
            Tensor x = dense(input);
            Tensor g = laidOutLike(gradOutput, x);
            Tensor gradInput = !inputGradient ? null : gradInputOut != null ? gradInputOut : torch.empty_like(x);
            MemorySegment gradIn = gradInput == null ? MemorySegment.NULL : address(gradInput);
            long n = x.numel();
            long channels = alpha.numel();
            DeviceOptional device = new DeviceOptional(x.device());
            TensorOptions sumOptions = new TensorOptions(ScalarType.Double).device(device);
            Tensor negSum = torch.zeros(new long[] {channels}, sumOptions);
            Tensor posSum = torch.zeros(new long[] {channels}, sumOptions);
            Tensor a = flat(alpha);
            Tensor b = flat(beta);
            if (n > 0) {
                Tensor workspace = workspace(n, channels, device);
                int status;
                if (channels == 1) {
                    // Host scales, device sums.
                    HostScales p = hostScales(given != null ? given : scalarParameters(alpha, beta));
                    try {
                        status = (int) backward.invokeExact(address(g), address(x), gradIn, n, p.neg(), p.pos(),
                                address(negSum), address(posSum), address(workspace), workspace.numel(), stream);
                    } catch (Throwable e) {
                        throw NativeLibrary.failed("arelu CUDA backward", e);
                    }
                    check(status, "arelu CUDA backward");
                } else {
                    ChannelScales perChannel = channelScales(a, b, channels, stream);
                    long inner = channelStride(x);
                    long outer = n / (channels * inner);
                    try {
                        status = (int) backwardChannels.invokeExact(address(g), address(x), gradIn, outer, channels,
                                inner, address(perChannel.neg()), address(perChannel.pos()), address(negSum),
                                address(posSum), address(workspace), workspace.numel(), stream);
                    } catch (Throwable e) {
                        throw NativeLibrary.failed("arelu CUDA channel-wise backward", e);
                    }
                    check(status, "arelu CUDA channel-wise backward");
                }
            }
            Tensor gradAlpha = torch.empty_like(a);
            Tensor gradBeta = torch.empty_like(b);
            int status;
            try {
                status = (int) parameterGradients.invokeExact(address(negSum), address(posSum), address(a), address(b),
                        address(gradAlpha), address(gradBeta), channels, stream);
            } catch (Throwable e) {
                throw NativeLibrary.failed("arelu CUDA parameter gradients", e);
            }
            check(status, "arelu CUDA parameter gradients");
            Tensor inputGrad = gradInput == null || gradInput == gradInputOut ? gradInput
                    : Scopes.escape(scope, gradInput);
            return new Gradients(inputGrad, Scopes.escape(scope, gradAlpha), Scopes.escape(scope, gradBeta));
        }
    }

    /**
     * The parameter gradients are formed on the device from alpha and beta there, and channel-wise scales too:
     * backward always takes the parameters as tensors.
     */
    @Override
    public boolean backwardReadsParameters(Tensor alpha) {
        return true;
    }

    /** The scales {a, b} of one-element parameters, values of the element type formed on the host. */
    private record HostScales(double neg, double pos) {
    }

    /** Per-channel scales {a, b} of channel-wise parameters, new tensors of the parameters' element type. */
    private record ChannelScales(Tensor neg, Tensor pos) {
    }

    /** Per-channel scales {a, b} of contiguous device parameters, by arelu_cuda_scales on {@code stream}. */
    private ChannelScales channelScales(Tensor alpha, Tensor beta, long channels, MemorySegment stream) {
        Tensor neg = torch.empty_like(alpha);
        Tensor pos = torch.empty_like(beta);
        int status;
        try {
            status = (int) scales.invokeExact(address(alpha), address(beta), address(neg), address(pos), channels,
                    stream);
        } catch (Throwable e) {
            throw NativeLibrary.failed("arelu CUDA scales", e);
        }
        check(status, "arelu CUDA scales");
        return new ChannelScales(neg, pos);
    }

    /** The device workspace of the backward's deterministic two-stage reduction. */
    private Tensor workspace(long n, long channels, DeviceOptional device) {
        long bytes;
        try {
            bytes = (long) workspaceBytes.invokeExact(n, channels);
        } catch (Throwable e) {
            throw NativeLibrary.failed("arelu_cuda_workspace_bytes", e);
        }
        TensorOptions options = new TensorOptions(ScalarType.Byte).device(device);
        return torch.empty(new long[] {Math.max(bytes, 1)}, options, new MemoryFormatOptional());
    }

    /** The one-element parameters' values, read to the host (which waits for the device). */
    private ScalarParameters scalarParameters(Tensor alpha, Tensor beta) {
        return new ScalarParameters(rawValue(alpha), rawValue(beta));
    }

    /**
     * The scales of one-element parameters, formed in the element type by the library's arelu_scales, the
     * definition the C++ op uses too. The host slots live for this call only.
     */
    private HostScales hostScales(ScalarParameters parameters) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slots = arena.allocate(ValueLayout.JAVA_DOUBLE, 4);
            MemorySegment a = slots.asSlice(0, Double.BYTES);
            MemorySegment b = slots.asSlice(Double.BYTES, Double.BYTES);
            MemorySegment neg = slots.asSlice(2 * Double.BYTES, Double.BYTES);
            MemorySegment pos = slots.asSlice(3 * Double.BYTES, Double.BYTES);
            type.store(a, parameters.alpha());
            type.store(b, parameters.beta());
            int status;
            try {
                status = (int) hostScales.invokeExact(a, b, neg, pos, 1L);
            } catch (Throwable e) {
                throw NativeLibrary.failed("arelu scales", e);
            }
            check(status, "arelu scales");
            return new HostScales(type.load(neg), type.load(pos));
        }
    }

    /** Read to the host with item(); an efficient zero tensor has no memory and is zero. */
    private static double rawValue(Tensor parameter) {
        return parameter._is_zerotensor() ? 0.0 : dense(parameter).item_double();
    }

    /**
     * libtorch's current CUDA stream. Reached by reflection: bytedeco's CPU build has no {@code torch_cuda}
     * classes, and this class is only initialized when a CUDA tensor reaches the fused kernels.
     */
    private static final class Streams {

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

        private Streams() {
        }

        /**
         * The current stream of the tensor's device, as a {@code cudaStream_t}.
         *
         * @throws IllegalArgumentException when the tensor is not on the current CUDA device
         */
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
}
