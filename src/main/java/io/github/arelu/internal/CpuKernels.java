package io.github.arelu.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * The fused kernels on CPU tensors of one element type, with libtorch's intra-op thread count. The parameters
 * stay in their own memory, one element each or one per channel: one native call per direction reads them,
 * forms the scales, runs the kernel and, in backward, writes the parameters' gradients straight into the new
 * gradient tensors, without tensor operations for the scales and sums (each small libtorch op costs
 * microseconds, more than the whole kernel at 64K elements) and without Java-side temporaries. Each
 * Java-to-native call counts: between the layers of a network the caches are cold, and there one call costs
 * microseconds.
 */
final class CpuKernels extends FusedKernels {

    private final MethodHandle forwardParams;
    private final MethodHandle backwardParams;
    private final MethodHandle backwardValues;
    private final MethodHandle forwardChannelsParams;
    private final MethodHandle backwardChannelsParams;
    // Read-only native objects shared by every call; retained, so no caller's PointerScope can free them.
    private final TensorOptions elementOptions;
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
        // (grad_out, x, grad_in, n, alpha, beta, grad_alpha*, grad_beta*, threads)
        // The values as doubles whatever the element type (a float's cast is exact: they were read as floats).
        MethodHandle values = library.bind("arelu_backward_values_" + t, FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, JAVA_LONG, type.layout, type.layout, ADDRESS, ADDRESS, JAVA_INT));
        backwardValues = MethodHandles.explicitCastArguments(values,
                values.type().changeParameterType(4, double.class).changeParameterType(5, double.class));
        // (x, y, outer, channels, inner, alpha*, beta*, threads)
        forwardChannelsParams = library.bind("arelu_forward_channels_params_" + t, FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT));
        // (grad_out, x, grad_in, outer, channels, inner, alpha*, beta*, grad_alpha*, grad_beta*, threads)
        backwardChannelsParams = library.bind("arelu_backward_channels_params_" + t, FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT));
        try (PointerScope scope = new PointerScope()) {
            elementOptions = Scopes.retained(new TensorOptions(type.dtype));
            noMemoryFormat = Scopes.retained(new MemoryFormatOptional());
        }
    }

    /** Gives the one-element parameters' values as read here, before the kernel, which reads the same memory. */
    @Override
    public Forward forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = dense(input);
            // empty_like keeps a dense tensor's strides: y's elements lie in memory as x's do.
            Tensor y = out != null ? out : torch.empty_like(x);
            long n = x.numel();
            long channels = alpha.numel();
            ScalarParameters scalar = null;
            if (channels == 1) {
                // One element is contiguous whatever the shape and strides; data_ptr includes the storage offset.
                MemorySegment a = address(dense(alpha));
                MemorySegment b = address(dense(beta));
                scalar = new ScalarParameters(type.loadAt(a.address()), type.loadAt(b.address()));
                int status;
                try {
                    status = (int) forwardParams.invokeExact(address(x), address(y), n, a, b,
                            torch.get_num_threads());
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu forward", e);
                }
                check(status, "arelu forward");
            } else if (n > 0) {
                long inner = channelStride(x);
                long outer = n / (channels * inner);
                int status;
                try {
                    status = (int) forwardChannelsParams.invokeExact(address(x), address(y), outer, channels, inner,
                            address(flat(alpha)), address(flat(beta)), torch.get_num_threads());
                } catch (Throwable e) {
                    throw NativeLibrary.failed("arelu channel-wise forward", e);
                }
                check(status, "arelu channel-wise forward");
            }
            return new Forward(out != null ? out : Scopes.escape(scope, y), scalar);
        }
    }

    /** Channel-wise parameters are read from their memory; one-element ones are passed by value when given. */
    @Override
    public boolean backwardReadsParameters(Tensor alpha) {
        return alpha.numel() != 1;
    }

    /** With {@code given}, one-element parameters are passed by value: forward's, whatever alpha and beta hold now. */
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
            // One call per direction whatever the form: the scales, sums and parameter gradients are formed in
            // the native call, so the only tensors made here are the gradients themselves.
            // The parameters' memory, unless forward's values are given.
            // given: forward's parameters had one element. A live alpha that set_data has since replaced (more
            // elements, another dtype) is then not read as a channel-wise parameter past its end; the gradient's
            // shape check names the mismatch.
            boolean byValue = given != null;
            Tensor a = byValue ? null : channels == 1 ? dense(alpha) : flat(alpha);
            Tensor b = byValue ? null : channels == 1 ? dense(beta) : flat(beta);
            Tensor gradAlpha = torch.empty(TensorInfo.shape(alpha), elementOptions, noMemoryFormat);
            Tensor gradBeta = torch.empty(TensorInfo.shape(beta), elementOptions, noMemoryFormat);
            int status;
            try {
                if (byValue) {
                    status = (int) backwardValues.invokeExact(address(g), address(x), gradIn, n, given.alpha(),
                            given.beta(), address(gradAlpha), address(gradBeta), torch.get_num_threads());
                } else if (channels == 1) {
                    status = (int) backwardParams.invokeExact(address(g), address(x), gradIn, n, address(a),
                            address(b), address(gradAlpha), address(gradBeta), torch.get_num_threads());
                } else {
                    // An empty input is one of zero rows: its sums, and so its gradients, are zero.
                    long inner = n > 0 ? channelStride(x) : 1;
                    long outer = n > 0 ? n / (channels * inner) : 0;
                    status = (int) backwardChannelsParams.invokeExact(address(g), address(x), gradIn, outer,
                            channels, inner, address(a), address(b), address(gradAlpha), address(gradBeta),
                            torch.get_num_threads());
                }
            } catch (Throwable e) {
                throw NativeLibrary.failed(channels == 1 ? "arelu backward" : "arelu channel-wise backward", e);
            }
            check(status, channels == 1 ? "arelu backward" : "arelu channel-wise backward");
            Tensor inputGrad = gradInput == null || gradInput == gradInputOut ? gradInput
                    : Scopes.escape(scope, gradInput);
            return new Gradients(inputGrad, Scopes.escape(scope, gradAlpha), Scopes.escape(scope, gradBeta));
        }
    }
}
