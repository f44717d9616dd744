package io.github.arelu.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused kernels on CPU tensors of one element type, with libtorch's intra-op thread count. One-element
 * parameters stay in their own memory: one native call reads them, forms the scales, runs the kernel and, in
 * backward, writes the parameters' gradients straight into the new gradient tensors, without a tensor operation
 * for two numbers (each small libtorch op costs microseconds, more than the whole kernel at 64K elements) and
 * without Java-side temporaries. Each Java-to-native call counts: between the layers of a network the caches are
 * cold, and there one call costs microseconds.
 */
final class CpuKernels extends FusedKernels {

    private final MethodHandle forwardParams;
    private final MethodHandle backwardParams;
    private final MethodHandle forwardChannels;
    private final MethodHandle backwardChannels;
    private final MethodHandle scales;
    private final MethodHandle parameterGradients;
    // Read-only native objects shared by every call; retained, so no caller's PointerScope can free them.
    private final TensorOptions elementOptions;
    private final TensorOptions sumOptions;
    private final MemoryFormatOptional noMemoryFormat;

    CpuKernels(NativeLibrary library, ElementType type) {
        super(library, type);
        String t = type.suffix;
        // (x, y, n, alpha*, beta*, threads)
        forwardParams = library.bind("arelu_forward_params_" + t,
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT));
        // (grad_out, x, grad_in, n, alpha*, beta*, grad_alpha*, grad_beta*, threads)
        backwardParams = library.bind("arelu_backward_params_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        // (x, y, outer, channels, inner, neg*, pos*, threads)
        forwardChannels = library.bind("arelu_forward_channels_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT));
        // (grad_out, x, grad_in, outer, channels, inner, neg*, pos*, neg_sum, pos_sum, threads)
        backwardChannels = library.bind("arelu_backward_channels_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        scales = library.bind("arelu_scales_" + t, scales());
        parameterGradients = library.bind("arelu_parameter_gradients_" + t, parameterGradients());
        try (PointerScope scope = new PointerScope()) {
            elementOptions = Scopes.retained(new TensorOptions(type.dtype));
            sumOptions = Scopes.retained(new TensorOptions(ScalarType.Double));
            noMemoryFormat = Scopes.retained(new MemoryFormatOptional());
        }
    }

    /** Gives no {@link ScalarParameters}: backward reads the parameters' memory again, as forward did. */
    @Override
    public Forward forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = dense(input);
            // empty_like keeps a dense tensor's strides: y's elements lie in memory as x's do.
            Tensor y = out != null ? out : torch.empty_like(x);
            long n = x.numel();
            long channels = alpha.numel();
            if (channels == 1) {
                // One element is contiguous whatever the shape and strides; data_ptr includes the storage offset.
                int status;
                try {
                    status = (int) forwardParams.invokeExact(address(x), address(y), n, address(dense(alpha)),
                            address(dense(beta)), torch.get_num_threads());
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu forward", e);
                }
                check(status, "arelu forward");
            } else if (n > 0) {
                Tensor a = flat(alpha);
                Tensor b = flat(beta);
                ChannelScales perChannel = channelScales(a, b, channels);
                long inner = channelStride(x);
                long outer = n / (channels * inner);
                int status;
                try {
                    status = (int) forwardChannels.invokeExact(address(x), address(y), outer, channels, inner,
                            address(perChannel.neg()), address(perChannel.pos()), torch.get_num_threads());
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu channel-wise forward", e);
                }
                check(status, "arelu channel-wise forward");
            }
            return new Forward(out != null ? out : Scopes.escape(scope, y), null);
        }
    }

    /** {@code given} is always null here (forward gives none): the parameters are read from their memory. */
    @Override
    public Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta, Tensor gradInputOut,
            boolean inputGradient, ScalarParameters given) {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = dense(input);
            Tensor g = laidOutLike(gradOutput, x);
            Tensor gradInput = !inputGradient ? null : gradInputOut != null ? gradInputOut : torch.empty_like(x);
            MemorySegment gradIn = gradInput == null ? MemorySegment.NULL : address(gradInput);
            long n = x.numel();
            long channels = alpha.numel();
            Tensor gradAlpha;
            Tensor gradBeta;
            if (channels == 1) {
                gradAlpha = torch.empty(TensorInfo.shape(alpha), elementOptions, noMemoryFormat);
                gradBeta = torch.empty(TensorInfo.shape(beta), elementOptions, noMemoryFormat);
                int status;
                try {
                    status = (int) backwardParams.invokeExact(address(g), address(x), gradIn, n,
                            address(dense(alpha)), address(dense(beta)), address(gradAlpha), address(gradBeta),
                            torch.get_num_threads());
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu backward", e);
                }
                check(status, "arelu backward");
            } else {
                Tensor negSum = torch.zeros(new long[] {channels}, sumOptions);
                Tensor posSum = torch.zeros(new long[] {channels}, sumOptions);
                Tensor a = flat(alpha);
                Tensor b = flat(beta);
                if (n > 0) {
                    ChannelScales perChannel = channelScales(a, b, channels);
                    long inner = channelStride(x);
                    long outer = n / (channels * inner);
                    int status;
                    try {
                        status = (int) backwardChannels.invokeExact(address(g), address(x), gradIn, outer, channels,
                                inner, address(perChannel.neg()), address(perChannel.pos()), address(negSum), address(posSum),
                                torch.get_num_threads());
                    } catch (Throwable e) {
                        throw NativeLibrary.failed("arelu channel-wise backward", e);
                    }
                    check(status, "arelu channel-wise backward");
                }
                gradAlpha = torch.empty_like(a);
                gradBeta = torch.empty_like(b);
                parameterGradients(address(negSum), address(posSum), address(a), address(b), address(gradAlpha),
                        address(gradBeta), channels);
            }
            Tensor inputGrad = gradInput == null || gradInput == gradInputOut ? gradInput
                    : Scopes.escape(scope, gradInput);
            return new Gradients(inputGrad, Scopes.escape(scope, gradAlpha), Scopes.escape(scope, gradBeta));
        }
    }

    /** Per-channel scales {a, b} of contiguous host parameters, by arelu_scales. */
    private ChannelScales channelScales(Tensor alpha, Tensor beta, long channels) {
        Tensor neg = torch.empty_like(alpha);
        Tensor pos = torch.empty_like(beta);
        int status;
        try {
            status = (int) scales.invokeExact(address(alpha), address(beta), address(neg), address(pos), channels);
        } catch (Throwable e) {
            throw NativeLibrary.failed("arelu scales", e);
        }
        check(status, "arelu scales");
        return new ChannelScales(neg, pos);
    }

    /**
     * arelu_parameter_gradients: the gradients of {@code channels} raw alpha/beta pairs (host arrays of the
     * element type) from the backward sums (host doubles): the clamp-range select, sigmoid'(beta) and the NaN
     * rule, defined once in the library for every binding.
     */
    private void parameterGradients(MemorySegment negSum, MemorySegment posSum, MemorySegment alpha,
            MemorySegment beta, MemorySegment gradAlpha, MemorySegment gradBeta, long channels) {
        int status;
        try {
            status = (int) parameterGradients.invokeExact(negSum, posSum, alpha, beta, gradAlpha, gradBeta, channels);
        } catch (Throwable e) {
            throw NativeLibrary.failed("arelu parameter gradients", e);
        }
        check(status, "arelu parameter gradients");
    }
}
