package io.github.arelu.internal;

import io.github.arelu.autograd.FunctionContext;
import io.github.arelu.autograd.JavaFunction;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * AReLU's training path over one {@link FusedKernels} (one device and element type): the fused forward
 * kernel, recorded as one autograd node whose backward is the fused backward kernel (input gradient and both
 * parameter sums in one pass). Inputs: x, alpha, beta, already checked and served by the kernels.
 *
 * <p>Under {@code create_graph} the backward must itself be differentiable, which the kernels are not:
 * there it is libtorch's autograd of the reference formula, at forward's values and connected to the saved
 * tensors' graph, so second derivatives (meta-learning) are exact.
 */
public final class FusedAReLUFunction extends JavaFunction {

    /** The key of forward's {@link FusedKernels.ScalarParameters} (one-element parameters) for backward. */
    private static final String SCALAR_PARAMETERS = "scalarParameters";

    private final FusedKernels kernels;

    FusedAReLUFunction(FusedKernels kernels) {
        this.kernels = kernels;
    }

    @Override
    public String name() {
        return "AReLU";
    }

    /**
     * Saves x, alpha and beta (for the version checks, and for the differentiable backward under
     * {@code create_graph}) and what the fused backward computes with: x, alpha and beta as forward read them.
     * An optimizer's step may write a parameter between a forward and its backward without bumping its version
     * (libtorch's SGD does), and the reference's graph keeps what it needs of forward's values ({@code relu(x)},
     * {@code relu(-x)}, the scales); so backward takes forward's values (one-element parameters on the CPU) or
     * copies made here: of the parameters where the kernels read them as tensors, and of x where its memory may
     * be a parameter's (a parameter fed to AReLU, or a view or detached alias of one). An activation between
     * layers, the result of an operation, is saved as it is.
     */
    @Override
    protected Tensor[] forward(FunctionContext ctx, Tensor... inputs) {
        Tensor x = inputs[0];
        Tensor alpha = inputs[1];
        Tensor beta = inputs[2];
        FusedKernels.Forward result = kernels.forward(x, alpha, beta, null);
        Tensor xAtForward = mayBeSteppedUnversioned(x) ? x.clone() : x;
        if (kernels.backwardReadsParameters(alpha)) {
            ctx.saveForBackward(x, alpha, beta, xAtForward, alpha.clone(), beta.clone());
        } else {
            ctx.saveForBackward(x, alpha, beta, xAtForward);
        }
        if (result.scalar() != null) {
            ctx.savedData().put(SCALAR_PARAMETERS, result.scalar());
        }
        return new Tensor[] {result.output()};
    }

    /**
     * Whether x's memory may be a parameter's, which an optimizer steps through its data without a version bump:
     * a leaf that requires grad, or a view of one; and an x that requires no grad (data, or the activation of
     * frozen layers) only where its memory is shared, since a detached alias of a parameter ({@code p.detach()})
     * is no view in libtorch. Activations of trained layers, results of operations, are none of these.
     */
    static boolean mayBeSteppedUnversioned(Tensor x) {
        if (!x.requires_grad()) {
            return x.has_storage() && x.storage().use_count() > 1;
        }
        return x.is_leaf() || (x.is_view() && x._base().is_leaf());
    }

    /**
     * The fused backward kernel on forward's x and parameters. Under {@code create_graph}, libtorch's autograd of
     * the reference formula at forward's values, with the graph to the saved tensors as they are now, so second
     * derivatives (meta-learning) are exact. Where the output's gradient carries a forward-mode AD tangent
     * (forward-over-reverse, for Hessian-vector products), the same formula at forward's values: its operations
     * carry the tangent to the gradients, which the kernel would return without one.
     */
    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor... gradOutputs) {
        AReLUArguments.checkStridedGradOutput(gradOutputs[0]);
        Tensor[] saved = ctx.savedTensors();
        boolean[] needed = {ctx.needsInputGrad(0), ctx.needsInputGrad(1), ctx.needsInputGrad(2)};
        FusedKernels.ScalarParameters scalar = (FusedKernels.ScalarParameters) ctx.savedData().get(SCALAR_PARAMETERS);
        Tensor x = saved[3];
        if (GradMode.is_enabled()) {
            checkUnreplaced(saved[0], gradOutputs[0]);
            checkParameterUnreplaced("alpha", saved[1], saved.length > 4 ? saved[4] : null, gradOutputs[0]);
            checkParameterUnreplaced("beta", saved[2], saved.length > 4 ? saved[5] : null, gradOutputs[0]);
            Tensor[] live = {saved[0], saved[1], saved[2]};
            Tensor[] atForward = atForward(x, saved, scalar);
            return ComposedAReLU.differentiableBackward(gradOutputs[0], live, atForward, needed);
        }
        checkUnreplaced(x, gradOutputs[0]);
        if (needed[1]) {
            checkParameterShape("alpha", saved[1], saved.length > 4 ? saved[4] : null);
        }
        if (needed[2]) {
            checkParameterShape("beta", saved[2], saved.length > 4 ? saved[5] : null);
        }
        if (Tangents.firstWithTangent(gradOutputs[0]) >= 0) {
            Tensor[] atForward = atForward(x, saved, scalar);
            return ComposedAReLU.gradientsAt(gradOutputs[0], atForward[0], atForward[1], atForward[2], needed);
        }
        Tensor alpha = saved.length > 4 ? saved[4] : saved[1];
        Tensor beta = saved.length > 4 ? saved[5] : saved[2];
        FusedKernels.Gradients g = kernels.backward(gradOutputs[0], x, alpha, beta, null, needed[0], scalar);
        ClampBounds.Rule clamp = ClampBounds.rule();
        if (needed[1] && !clamp.passesOnBoth()) {
            // A libtorch whose clamp passes no gradient on its bounds (2.14 on): the reference's alpha gets none there.
            ClampBounds.zeroGradientOnBounds(scalar != null ? full(g.alpha(), scalar.alpha()) : alpha, g.alpha(),
                    clamp);
        }
        return new Tensor[] {g.input(), needed[1] ? g.alpha() : null, needed[2] ? g.beta() : null};
    }

    /**
     * The saved x still has its output gradient's shape and dtype. {@code set_data} (PyTorch's {@code x.data = ...})
     * replaces a tensor's data, shape, dtype and device without a version bump: the kernels would read x's new number
     * of elements of the gradient, past its end, and the differentiable backward would broadcast them.
     */
    private static void checkUnreplaced(Tensor x, Tensor gradOutput) {
        // is_same_size: one JNI call where sameShape makes 2 + 2 per dimension (this runs on every backward). The
        // device too: set_data accepts a CUDA tensor for a CPU one, and the CPU kernels would read its device memory.
        if (TensorInfo.dtype(x) != TensorInfo.dtype(gradOutput) || !x.is_same_size(gradOutput)
                || x.is_cpu() != gradOutput.is_cpu()) {
            throw new IllegalStateException("AReLU backward: its saved input is now " + TensorInfo.describe(x)
                    + " where its output's gradient is " + TensorInfo.describe(gradOutput) + ": the input's data was "
                    + "replaced after forward without a version bump (set_data, PyTorch's x.data = ...); keep an "
                    + "input as it is until its backward");
        }
    }

    /**
     * Under {@code create_graph} the live parameters are read too (the graph goes through them): one that
     * {@code set_data} replaced must still have forward's shape ({@code atForward}'s, or one element where forward
     * kept only the values), and the input's dtype and device, or the reference formula would broadcast it.
     */
    private static void checkParameterUnreplaced(String name, Tensor live, Tensor atForward, Tensor gradOutput) {
        checkParameterShape(name, live, atForward);
        if (TensorInfo.dtype(live) != TensorInfo.dtype(gradOutput) || live.is_cpu() != gradOutput.is_cpu()) {
            throw replaced(name, live, atForward);
        }
    }

    /**
     * A parameter still has forward's shape. The kernels read forward's values, but the gradient goes to the live
     * parameter: one that {@code set_data} gave another shape would take a gradient of forward's shape, which an
     * optimizer broadcasts over it (the reference's backward refuses it). Asked only where that gradient is computed
     * (a frozen parameter replaced so is no error in the reference either), and only the shape: a JNI call or two.
     */
    private static void checkParameterShape(String name, Tensor live, Tensor atForward) {
        if (atForward != null ? !live.is_same_size(atForward) : live.numel() != 1) {
            throw replaced(name, live, atForward);
        }
    }

    private static IllegalStateException replaced(String name, Tensor live, Tensor atForward) {
        return new IllegalStateException("AReLU backward: its saved " + name + " is now " + TensorInfo.describe(live)
                + (atForward != null ? " where forward read " + TensorInfo.describe(atForward) : "") + ": its data "
                + "was replaced after forward without a version bump (set_data); keep an input as it is until its "
                + "backward");
    }

    /**
     * x, alpha and beta as forward read them: the saved copies, or one-element parameters filled with the values
     * forward read (shaped like the live ones).
     */
    private static Tensor[] atForward(Tensor x, Tensor[] saved, FusedKernels.ScalarParameters scalar) {
        return new Tensor[] {x, saved.length > 4 ? saved[4] : full(saved[1], scalar.alpha()),
            saved.length > 4 ? saved[5] : full(saved[2], scalar.beta())};
    }

    /** A tensor of {@code like}'s shape, dtype and device holding a value forward read from it. */
    private static Tensor full(Tensor like, double value) {
        return torch.full_like(like, new Scalar(value));
    }

    @Override
    public String toString() {
        return "FusedAReLUFunction[" + kernels + "]";
    }
}
