package io.github.arelu.internal;

import io.github.arelu.autograd.FunctionContext;
import io.github.arelu.autograd.JavaFunction;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;

/**
 * AReLU's training path over one {@link FusedKernels} (one device and element type): the fused forward
 * kernel, recorded as one autograd node whose backward is the fused backward kernel (input gradient and both
 * parameter sums in one pass). Inputs: x, alpha, beta, already checked and served by the kernels.
 *
 * <p>Under {@code create_graph} the backward must itself be differentiable, which the kernels are not:
 * there it is libtorch's autograd of the reference formula on the saved, graph-connected tensors, so second
 * derivatives (meta-learning) are exact.
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
     * {@code create_graph}) and what the fused backward computes with: alpha and beta as forward read them. An
     * optimizer's step may write the parameters between a forward and its backward without bumping their
     * versions (libtorch's do), and the reference's graph keeps forward's scales; so backward takes forward's
     * values (one-element parameters on the CPU) or copies of the parameters made here (where the kernels
     * read parameters as tensors).
     */
    @Override
    protected Tensor[] forward(FunctionContext ctx, Tensor... inputs) {
        Tensor x = inputs[0];
        Tensor alpha = inputs[1];
        Tensor beta = inputs[2];
        FusedKernels.Forward result = kernels.forward(x, alpha, beta, null);
        if (kernels.backwardReadsParameters(alpha)) {
            ctx.saveForBackward(x, alpha, beta, alpha.clone(), beta.clone());
        } else {
            ctx.saveForBackward(x, alpha, beta);
        }
        if (result.scalar() != null) {
            ctx.savedData().put(SCALAR_PARAMETERS, result.scalar());
        }
        return new Tensor[] {result.output()};
    }

    /**
     * Under {@code create_graph}, the reference formula on the saved, graph-connected parameters (as they are at
     * backward: a graph for higher derivatives is built while the parameters stay unchanged, as in meta-learning).
     */
    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor... gradOutputs) {
        AReLUArguments.checkStridedGradOutput(gradOutputs[0]);
        Tensor[] saved = ctx.savedTensors();
        boolean[] needed = {ctx.needsInputGrad(0), ctx.needsInputGrad(1), ctx.needsInputGrad(2)};
        if (GradMode.is_enabled()) {
            return ComposedAReLU.differentiableBackward(gradOutputs[0], saved[0], saved[1], saved[2], needed);
        }
        FusedKernels.ScalarParameters scalar = (FusedKernels.ScalarParameters) ctx.savedData().get(SCALAR_PARAMETERS);
        Tensor alpha = saved.length > 3 ? saved[3] : saved[1];
        Tensor beta = saved.length > 3 ? saved[4] : saved[2];
        FusedKernels.Gradients g = kernels.backward(gradOutputs[0], saved[0], alpha, beta, null, needed[0], scalar);
        return new Tensor[] {g.input(), needed[1] ? g.alpha() : null, needed[2] ? g.beta() : null};
    }

    @Override
    public String toString() {
        return "FusedAReLUFunction[" + kernels + "]";
    }
}
