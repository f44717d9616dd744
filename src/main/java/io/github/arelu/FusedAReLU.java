package io.github.arelu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.github.arelu.autograd.Scopes;
import io.github.arelu.autograd.TensorInfo;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fused AReLU kernels of {@code native/} as operations on tensors: one pass forward, one pass backward
 * (input gradient and both parameter gradients together). These operations are not recorded by autograd;
 * {@link AReLU} and {@link AReLUFunctional#arelu} use them, recorded as one autograd node, whenever they
 * can (see {@link AReLUPath}).
 *
 * <p>Supported: strided float32 and float64 tensors of any shape, on the CPU always when the native library
 * loaded, and on CUDA when {@link #setCudaEnabled(boolean) enabled} (or {@code -Darelu.cuda.fused=true}): the
 * CUDA kernels run on libtorch's current CUDA stream of the current device, and stay opt-in until they have
 * been run from Java on a GPU. Parameters as in {@link AReLUFunctional#arelu}: one element each, or one per
 * channel of dimension 1.
 *
 * <p>The kernels run on a tensor's memory as it is whenever its elements are dense in it, in any order of
 * dimensions (contiguous, {@code channels_last}, {@code channels_last_3d}, permuted), and write results laid
 * out the same way, so a {@code channels_last} network stays {@code channels_last}; other inputs (slices with
 * gaps, expanded tensors) are copied to a contiguous tensor first. libtorch's lazy negation ({@code is_neg()},
 * e.g. {@code imag(z.conj())}) and efficient zero tensors are resolved before any memory is read.
 */
public final class FusedAReLU {

    /**
     * Gradients of a loss with respect to the input, alpha and beta (shaped like each; input may be null).
     *
     * @param input the gradient with respect to the input, or null when it was not asked for
     * @param alpha the gradient with respect to alpha, shaped like alpha
     * @param beta the gradient with respect to beta, shaped like beta
     */
    public record Gradients(Tensor input, Tensor alpha, Tensor beta) {
    }

    /**
     * One-element parameters as the kernels take them: the raw values and the scales formed from them
     * ({@code a = clamp(alpha, 0.01, 0.99)}, {@code b = 1 + sigmoid(beta)}), each a value of the element type.
     * The training path forms them once in forward and hands them to backward, which on the CPU then reads no
     * parameter memory and forms nothing again.
     */
    record ScalarParameters(double alpha, double beta, double neg, double pos) {
    }

    private static volatile boolean cudaEnabled = Boolean.getBoolean("arelu.cuda.fused");

    /**
     * Per thread, the host arguments of the library's small calls for one-element parameters, one double-sized
     * slot each, sliced once: an arena (or even new slices) per call costs more than the kernel at 64K.
     */
    private static final class Scratch {
        /** The backward kernel's two sums, negative side then positive side. */
        final MemorySegment negSum;
        final MemorySegment posSum;
        /** The raw parameters in the element type, as {@link #setParameters} left them. */
        final MemorySegment alpha;
        final MemorySegment beta;
        /** The scales a and b in the element type, as arelu_scales writes them. */
        final MemorySegment neg;
        final MemorySegment pos;

        Scratch() {
            MemorySegment all = Arena.ofAuto().allocate(ValueLayout.JAVA_DOUBLE, 6);
            negSum = all.asSlice(0, Double.BYTES);
            posSum = all.asSlice(Double.BYTES, Double.BYTES);
            alpha = all.asSlice(2 * Double.BYTES, Double.BYTES);
            beta = all.asSlice(3 * Double.BYTES, Double.BYTES);
            neg = all.asSlice(4 * Double.BYTES, Double.BYTES);
            pos = all.asSlice(5 * Double.BYTES, Double.BYTES);
        }

        void setParameters(double rawAlpha, double rawBeta, boolean f32) {
            store(alpha, rawAlpha, f32);
            store(beta, rawBeta, f32);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    // Read-only native objects shared by every call; retained, so no caller's PointerScope can free them.
    private static final TensorOptions FLOAT_CPU;
    private static final TensorOptions DOUBLE_CPU;
    private static final MemoryFormatOptional NO_MEMORY_FORMAT;

    static {
        try (PointerScope scope = new PointerScope()) {
            FLOAT_CPU = Scopes.retained(new TensorOptions(ScalarType.Float));
            DOUBLE_CPU = Scopes.retained(new TensorOptions(ScalarType.Double));
            NO_MEMORY_FORMAT = Scopes.retained(new MemoryFormatOptional());
        }
    }

    private FusedAReLU() {
    }

    /**
     * Whether the native library loaded (for the CPU kernels).
     *
     * @return true when the fused CPU kernels can run in this process
     */
    public static boolean isAvailable() {
        return NativeKernels.instance() != null;
    }

    /**
     * Turns the fused path on CUDA tensors on or off (default off, or {@code -Darelu.cuda.fused=true}).
     *
     * @param enabled whether CUDA tensors take the fused kernels
     */
    public static void setCudaEnabled(boolean enabled) {
        cudaEnabled = enabled;
    }

    /**
     * Whether the fused path is used for CUDA tensors.
     *
     * @return the value last set by {@link #setCudaEnabled(boolean)} or {@code -Darelu.cuda.fused}
     */
    public static boolean isCudaEnabled() {
        return cudaEnabled;
    }

    /**
     * Whether the fused kernels handle this input's device, dtype and layout under the current settings:
     * strided (not sparse, MKL-DNN or nested) float32 or float64, on the CPU or on CUDA when enabled.
     *
     * @param input the tensor AReLU would be applied to
     * @return true when a call on {@code input} can take the fused kernels
     */
    public static boolean supports(Tensor input) {
        NativeKernels kernels = NativeKernels.instance();
        if (kernels == null) {
            return false;
        }
        ScalarType dtype = TensorInfo.dtype(input);
        if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
            return false;
        }
        if (!AReLUArguments.isStrided(input)) {
            return false;
        }
        if (input.is_cpu()) {
            return true;
        }
        return input.is_cuda() && cudaEnabled && kernels.cudaAvailable();
    }

    /**
     * Fused forward into a new tensor shaped like {@code input}.
     *
     * @param input the pre-activation, float32 or float64
     * @param alpha the raw alpha: one element, or one per channel of dimension 1
     * @param beta the raw beta, shaped like {@code alpha}
     * @return AReLU of {@code input}, a new tensor
     */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta) {
        return forward(input, alpha, beta, null);
    }

    /**
     * Fused forward into {@code out}, or into a new tensor laid out like the input when {@code out} is null.
     * {@code out} has the input's shape, dtype and device, and the input's strides when the input is dense in
     * memory (contiguous, {@code channels_last}, any permutation), else contiguous strides; it may be
     * {@code input} itself for in-place use.
     *
     * @param input the pre-activation, float32 or float64
     * @param alpha the raw alpha: one element, or one per channel of dimension 1
     * @param beta the raw beta, shaped like {@code alpha}
     * @param out where to write the result, or null for a new tensor
     * @return {@code out}, or the new tensor
     */
    public static Tensor forward(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        AReLUArguments.check(input, alpha, beta);
        requireKernels(input);
        if (out != null) {
            AReLUArguments.checkOutput(out, input, "out");
        }
        return forwardChecked(input, alpha, beta, out);
    }

    /**
     * Fused backward: gradients for a given {@code gradOutput} of {@code arelu(input, alpha, beta)}.
     *
     * @param gradOutput the gradient of the loss with respect to AReLU's output, shaped like {@code input}
     * @param input the forward's input
     * @param alpha the forward's raw alpha
     * @param beta the forward's raw beta
     * @return the gradients with respect to the input, alpha and beta
     */
    public static Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta) {
        return backward(gradOutput, input, alpha, beta, null);
    }

    /**
     * Fused backward writing the input gradient into {@code gradInputOut} (laid out as {@code out} of
     * {@link #forward(Tensor, Tensor, Tensor, Tensor)} must be; it may be {@code gradOutput} itself) or into a
     * new tensor laid out like the input when it is null.
     *
     * @param gradOutput the gradient of the loss with respect to AReLU's output, shaped like {@code input}
     * @param input the forward's input
     * @param alpha the forward's raw alpha
     * @param beta the forward's raw beta
     * @param gradInputOut where to write the input gradient, or null for a new tensor
     * @return the gradients with respect to the input ({@code gradInputOut} when given), alpha and beta
     */
    public static Gradients backward(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta,
            Tensor gradInputOut) {
        AReLUArguments.check(input, alpha, beta);
        requireKernels(input);
        AReLUArguments.checkGradOutput(gradOutput, input);
        if (gradInputOut != null) {
            AReLUArguments.checkOutput(gradInputOut, input, "gradInputOut");
        }
        return backwardChecked(gradOutput, input, alpha, beta, gradInputOut, true, null);
    }

    /**
     * {@link #forward(Tensor, Tensor, Tensor, Tensor)} on checked arguments that the kernels serve (checked
     * by {@link #requireKernels} or by {@link #supports}, through {@link AReLUPath}): not checked again on
     * this hot path.
     */
    static Tensor forwardChecked(Tensor input, Tensor alpha, Tensor beta, Tensor out) {
        return forwardChecked(input, alpha, beta, out, null);
    }

    /**
     * {@link #forwardChecked(Tensor, Tensor, Tensor, Tensor)} with the one-element parameters already formed by
     * {@link #scalarParameters}, or null to form them here (and for channel-wise parameters).
     */
    static Tensor forwardChecked(Tensor input, Tensor alpha, Tensor beta, Tensor out, ScalarParameters scalar) {
        NativeKernels kernels = NativeKernels.instance();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = dense(input);
            // empty_like keeps a dense tensor's strides: y's elements lie in memory as x's do.
            Tensor y = out != null ? out : torch.empty_like(x);
            if (x.numel() > 0) {
                boolean f32 = TensorInfo.dtype(x) == ScalarType.Float;
                if (alpha.numel() == 1) {
                    ScalarParameters p = scalar != null ? scalar : scalarParameters(alpha, beta, f32);
                    if (x.is_cuda()) {
                        kernels.cudaForward(f32, address(x), address(y), x.numel(), p.neg(), p.pos(),
                                CudaStreams.current(x));
                    } else {
                        kernels.forward(f32, address(x), address(y), x.numel(), p.neg(), p.pos(),
                                torch.get_num_threads());
                    }
                } else {
                    Tensor[] scales = channelScales(kernels, flat(alpha), flat(beta), x, f32);
                    Tensor neg = scales[0];
                    Tensor pos = scales[1];
                    long channels = x.size(1);
                    long inner = channelStride(x);
                    long outer = x.numel() / (channels * inner);
                    if (x.is_cuda()) {
                        kernels.cudaForwardChannels(f32, address(x), address(y), outer, channels, inner, address(neg),
                                address(pos), CudaStreams.current(x));
                    } else {
                        kernels.forwardChannels(f32, address(x), address(y), outer, channels, inner, address(neg),
                                address(pos), torch.get_num_threads());
                    }
                }
            }
            return out != null ? out : Scopes.escape(scope, y);
        }
    }

    /**
     * {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor)} on checked arguments that the kernels serve,
     * as for {@link #forwardChecked}. Without {@code inputGradient} the kernel computes only the parameter
     * sums and {@link Gradients#input()} is null. {@code scalar}: the one-element parameters as forward formed
     * them ({@link #scalarParameters}), or null to form them here (and for channel-wise parameters).
     */
    static Gradients backwardChecked(Tensor gradOutput, Tensor input, Tensor alpha, Tensor beta,
            Tensor gradInputOut, boolean inputGradient, ScalarParameters scalar) {
        NativeKernels kernels = NativeKernels.instance();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = dense(input);
            Tensor g = laidOutLike(gradOutput, x);
            Tensor gradInput = !inputGradient ? null : gradInputOut != null ? gradInputOut : torch.empty_like(x);
            MemorySegment gradInputAddress = gradInput == null ? MemorySegment.NULL : address(gradInput);
            boolean f32 = TensorInfo.dtype(x) == ScalarType.Float;
            Tensor gradAlpha;
            Tensor gradBeta;
            if (alpha.numel() == 1 && x.is_cpu()) {
                // The common case without tensor ops for two numbers: each small libtorch op costs
                // microseconds, more than the whole kernel on a 64K-element tensor.
                ScalarParameters p = scalar != null ? scalar : scalarParameters(alpha, beta, f32);
                // The scratch carries nothing from one call to the next: what the calls below read is written here.
                Scratch s = SCRATCH.get();
                s.setParameters(p.alpha(), p.beta(), f32);
                if (x.numel() > 0) {
                    kernels.backward(f32, address(g), address(x), gradInputAddress, x.numel(), p.neg(), p.pos(),
                            s.negSum, s.posSum, torch.get_num_threads());
                } else {
                    s.negSum.set(ValueLayout.JAVA_DOUBLE, 0, 0.0);
                    s.posSum.set(ValueLayout.JAVA_DOUBLE, 0, 0.0);
                }
                gradAlpha = emptyLike(alpha, f32);
                gradBeta = emptyLike(beta, f32);
                kernels.parameterGradients(f32, s.negSum, s.posSum, s.alpha, s.beta, address(gradAlpha),
                        address(gradBeta), 1);
            } else {
                long channels = alpha.numel();
                TensorOptions sumOptions = new TensorOptions(ScalarType.Double).device(new DeviceOptional(x.device()));
                Tensor negSum = torch.zeros(new long[] {channels}, sumOptions);
                Tensor posSum = torch.zeros(new long[] {channels}, sumOptions);
                Tensor alphaC = flat(alpha);
                Tensor betaC = flat(beta);
                if (x.numel() > 0) {
                    deviceSumBackward(kernels, f32, g, x, gradInputAddress, alphaC, betaC, negSum, posSum, scalar);
                }
                gradAlpha = torch.empty_like(alphaC);
                gradBeta = torch.empty_like(betaC);
                if (x.is_cuda()) {
                    kernels.cudaParameterGradients(f32, address(negSum), address(posSum), address(alphaC),
                            address(betaC), address(gradAlpha), address(gradBeta), channels, CudaStreams.current(x));
                } else {
                    kernels.parameterGradients(f32, address(negSum), address(posSum), address(alphaC),
                            address(betaC), address(gradAlpha), address(gradBeta), channels);
                }
            }
            Tensor gradIn = gradInput == null ? null : gradInputOut != null ? gradInputOut : Scopes.escape(scope, gradInput);
            return new Gradients(gradIn, Scopes.escape(scope, gradAlpha), Scopes.escape(scope, gradBeta));
        }
    }

    /**
     * The backward kernels whose sums land in tensors: channel-wise (CPU or CUDA), and scalar on CUDA; x and g
     * dense and laid out alike, alpha and beta flat ({@link #flat}).
     */
    private static void deviceSumBackward(NativeKernels kernels, boolean f32, Tensor g, Tensor x,
            MemorySegment gradIn, Tensor alpha, Tensor beta, Tensor negSum, Tensor posSum, ScalarParameters scalar) {
        long channels = alpha.numel();
        if (channels == 1) {
            // Scalar parameters on CUDA: host scales, device sums.
            long n = x.numel();
            Tensor workspace = cudaWorkspace(kernels, x, n, 1);
            ScalarParameters p = scalar != null ? scalar : scalarParameters(alpha, beta, f32);
            kernels.cudaBackward(f32, address(g), address(x), gradIn, n, p.neg(), p.pos(), address(negSum),
                    address(posSum), address(workspace), workspace.numel(), CudaStreams.current(x));
            return;
        }
        Tensor[] scales = channelScales(kernels, alpha, beta, x, f32);
        Tensor neg = scales[0];
        Tensor pos = scales[1];
        long inner = channelStride(x);
        long outer = x.numel() / (channels * inner);
        if (x.is_cuda()) {
            Tensor workspace = cudaWorkspace(kernels, x, x.numel(), channels);
            kernels.cudaBackwardChannels(f32, address(g), address(x), gradIn, outer, channels, inner, address(neg),
                    address(pos), address(negSum), address(posSum), address(workspace), workspace.numel(),
                    CudaStreams.current(x));
        } else {
            kernels.backwardChannels(f32, address(g), address(x), gradIn, outer, channels, inner, address(neg),
                    address(pos), address(negSum), address(posSum), torch.get_num_threads());
        }
    }

    /**
     * The one-element parameters' values and scales, for {@code f32} float32 parameters or else float64 ones;
     * the arguments must be checked ({@link AReLUArguments}). The scales a = clamp(alpha, 0.01, 0.99) and
     * b = 1 + sigmoid(beta) are formed in the element type by the library's arelu_scales, the definition the
     * C++ op uses too.
     */
    static ScalarParameters scalarParameters(Tensor alpha, Tensor beta, boolean f32) {
        Scratch s = SCRATCH.get();
        s.setParameters(scalarValue(alpha, f32), scalarValue(beta, f32), f32);
        NativeKernels.instance().scales(f32, s.alpha, s.beta, s.neg, s.pos, 1);
        return new ScalarParameters(load(s.alpha, f32), load(s.beta, f32), load(s.neg, f32), load(s.pos, f32));
    }

    /**
     * Per-channel scales {a, b}, contiguous and shaped like the parameters, on their device, by
     * arelu_(cuda_)scales; {@code alpha} and {@code beta} contiguous (the kernels read them as flat arrays).
     */
    private static Tensor[] channelScales(NativeKernels kernels, Tensor alpha, Tensor beta, Tensor x, boolean f32) {
        Tensor neg = torch.empty_like(alpha);
        Tensor pos = torch.empty_like(beta);
        if (x.is_cuda()) {
            kernels.cudaScales(f32, address(alpha), address(beta), address(neg), address(pos), alpha.numel(),
                    CudaStreams.current(x));
        } else {
            kernels.scales(f32, address(alpha), address(beta), address(neg), address(pos), alpha.numel());
        }
        return new Tensor[] {neg, pos};
    }

    private static Tensor cudaWorkspace(NativeKernels kernels, Tensor x, long n, long channels) {
        long bytes = kernels.cudaWorkspaceBytes(n, channels);
        TensorOptions options = new TensorOptions(ScalarType.Byte).device(new DeviceOptional(x.device()));
        return torch.empty(new long[] {Math.max(bytes, 1)}, options, new MemoryFormatOptional());
    }

    /**
     * The value of a one-element parameter. On the CPU it is read straight from its memory: item() goes
     * through libtorch's dispatcher, which costs more than the fused kernel on small tensors. A lazily negated
     * parameter holds the negation of its value; an efficient zero tensor has no memory and is zero.
     */
    private static double scalarValue(Tensor parameter, boolean f32) {
        if (parameter._is_zerotensor()) {
            return 0.0;
        }
        if (parameter.is_cpu()) {
            // One element is contiguous whatever the shape and strides; data_ptr includes the storage offset.
            MemorySegment value = address(parameter).reinterpret(Double.BYTES);
            double stored = f32 ? value.get(ValueLayout.JAVA_FLOAT, 0) : value.get(ValueLayout.JAVA_DOUBLE, 0);
            return parameter.is_neg() ? -stored : stored;
        }
        return dense(parameter).item_double();
    }

    /**
     * An uninitialized CPU tensor shaped like the one-element {@code parameter}, float32 when {@code f32}
     * (its dtype, checked to be the input's) else float64, for its gradient: one allocation, where
     * {@code torch.empty_like} would cost more JavaCPP objects.
     */
    private static Tensor emptyLike(Tensor parameter, boolean f32) {
        return torch.empty(TensorInfo.shape(parameter), f32 ? FLOAT_CPU : DOUBLE_CPU, NO_MEMORY_FORMAT);
    }

    /** The element-type value at the start of {@code slot}, widened. */
    private static double load(MemorySegment slot, boolean f32) {
        return f32 ? slot.get(ValueLayout.JAVA_FLOAT, 0) : slot.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    /** Writes {@code value} at the start of {@code slot} in the element type. */
    private static void store(MemorySegment slot, double value, boolean f32) {
        if (f32) {
            slot.set(ValueLayout.JAVA_FLOAT, 0, (float) value);
        } else {
            slot.set(ValueLayout.JAVA_DOUBLE, 0, value);
        }
    }

    /**
     * The tensor's values in memory the kernels can read as they are: libtorch's lazy negation applied, an
     * efficient zero tensor (which has no memory) made real, and the elements dense in memory in some order of
     * dimensions (contiguous or, for instance, channels_last), else copied to a contiguous tensor. The tensor
     * itself, without a new handle, in the common case.
     */
    static Tensor dense(Tensor tensor) {
        Tensor t = tensor;
        if (t.is_neg()) {
            t = t.resolve_neg();
        } else if (t._is_zerotensor()) {
            t = torch.zeros(TensorInfo.shape(t), t.options());
        }
        return t.is_contiguous() || t.is_non_overlapping_and_dense() ? t : t.contiguous();
    }

    /** A channel-wise parameter as a flat array of logical values (1-D and dense: contiguous). */
    private static Tensor flat(Tensor parameter) {
        Tensor t = dense(parameter);
        return t.is_contiguous() ? t : t.contiguous();
    }

    /**
     * {@code tensor} (an upstream gradient, shaped like {@code x}) with its elements in memory in the order of
     * x's, which {@link #dense} returned: the kernels walk both as one flat array. A copy only when the two
     * layouts differ (say, a contiguous gradient for a channels_last input).
     */
    private static Tensor laidOutLike(Tensor tensor, Tensor x) {
        Tensor t = dense(tensor);
        if (x.is_contiguous() ? t.is_contiguous() : AReLUArguments.sameStrides(t, x)) {
            return t;
        }
        return torch.empty_like(x).copy_(t);
    }

    /**
     * For channel-wise parameters: how many consecutive elements of the dense tensor x share one channel,
     * the stride of dimension 1. x viewed as {@code (outer, channels, inner)} then walks its memory in order:
     * {@code inner} is H*W for NCHW and 1 for channels_last.
     */
    private static long channelStride(Tensor x) {
        return x.stride(1);
    }

    /** The tensor's data address; NULL for an empty tensor (whose data_ptr is null). */
    private static MemorySegment address(Tensor t) {
        org.bytedeco.javacpp.Pointer data = t.data_ptr();
        return data == null ? MemorySegment.NULL : MemorySegment.ofAddress(data.address());
    }

    /** Fails with a message naming the reason when the kernels cannot serve this input. */
    private static void requireKernels(Tensor input) {
        NativeKernels kernels = NativeKernels.instance();
        if (kernels == null) {
            throw new UnsupportedOperationException("AReLU fused kernels are unavailable: "
                    + NativeKernels.unavailableReason());
        }
        ScalarType dtype = TensorInfo.dtype(input);
        if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
            throw new IllegalArgumentException("AReLU fused kernels support Float and Double inputs, got " + dtype);
        }
        if (!AReLUArguments.isStrided(input)) {
            throw new IllegalArgumentException("AReLU fused kernels support strided inputs, got layout "
                    + AReLUArguments.layoutName(input) + "; AReLUFunctional.arelu computes it with libtorch's "
                    + "operations where they support the layout");
        }
        if (input.is_cuda()) {
            if (!kernels.cudaAvailable()) {
                throw new UnsupportedOperationException("AReLU fused CUDA kernels are unavailable: the native "
                        + "library was built without CUDA or no CUDA device is visible to it");
            }
        } else if (!input.is_cpu()) {
            throw new IllegalArgumentException("AReLU fused kernels run on CPU and CUDA tensors, got device "
                    + TensorInfo.device(input));
        }
    }
}
