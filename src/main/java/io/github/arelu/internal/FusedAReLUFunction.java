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

    /**
     * The key of forward's {@link FusedKernels.ScalarParameters} for backward: CUDA kernels with one-element
     * parameters give them (the CPU kernels read the parameters' memory in each call).
     */
    private static final String SCALAR_PARAMETERS = "scalarParameters";

    private final FusedKernels kernels;

    FusedAReLUFunction(FusedKernels kernels) {
        this.kernels = kernels;
    }

    @Override
    public String name() {
        return "AReLU";
    }

    @Override
    protected Tensor[] forward(FunctionContext ctx, Tensor... inputs) {
        ctx.saveForBackward(inputs);
        FusedKernels.Forward result = kernels.forward(inputs[0], inputs[1], inputs[2], null);
        if (result.scalar() != null) {
            // Backward uses the values forward used. On every device an in-place change of alpha or beta in
            // between fails there, through the saved tensors' version check.
            ctx.savedData().put(SCALAR_PARAMETERS, result.scalar());
        }
        return new Tensor[] {result.output()};
    }

    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor... gradOutputs) {
        Tensor[] saved = ctx.savedTensors();
        boolean[] needed = {ctx.needsInputGrad(0), ctx.needsInputGrad(1), ctx.needsInputGrad(2)};
        if (GradMode.is_enabled()) {
            return ComposedAReLU.differentiableBackward(gradOutputs[0], saved[0], saved[1], saved[2], needed);
        }
        FusedKernels.ScalarParameters scalar = (FusedKernels.ScalarParameters) ctx.savedData().get(SCALAR_PARAMETERS);
        FusedKernels.Gradients g = kernels.backward(gradOutputs[0], saved[0], saved[1], saved[2], null, needed[0],
                scalar);
        return new Tensor[] {g.input(), needed[1] ? g.alpha() : null, needed[2] ? g.beta() : null};
    }

    @Override
    public String toString() {
        return "FusedAReLUFunction[" + kernels + "]";
    }
}
