package io.github.arelu;

import io.github.arelu.autograd.FunctionContext;
import io.github.arelu.autograd.JavaFunction;
import io.github.arelu.autograd.TensorInfo;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * AReLU's training path: the fused forward kernel, recorded as one autograd node whose backward is the fused
 * backward kernel (input gradient and both parameter sums in one pass). Inputs: x, alpha, beta, already
 * checked and supported by the kernels (see {@link AReLUPath}).
 *
 * <p>Under {@code create_graph} the backward must itself be differentiable, which the kernels are not:
 * there it is libtorch's autograd of the reference formula on the saved, graph-connected tensors, so second
 * derivatives (meta-learning) are exact.
 */
final class FusedAReLUFunction extends JavaFunction {

    static final FusedAReLUFunction INSTANCE = new FusedAReLUFunction();

    /** The key of forward's {@link FusedAReLU.ScalarParameters} (one-element parameters only) for backward. */
    private static final String SCALAR_PARAMETERS = "scalarParameters";

    private FusedAReLUFunction() {
    }

    @Override
    public String name() {
        return "AReLU";
    }

    @Override
    protected Tensor[] forward(FunctionContext ctx, Tensor... inputs) {
        ctx.saveForBackward(inputs);
        Tensor x = inputs[0];
        Tensor alpha = inputs[1];
        Tensor beta = inputs[2];
        FusedAReLU.ScalarParameters scalar = null;
        if (alpha.numel() == 1) {
            scalar = FusedAReLU.scalarParameters(alpha, beta, TensorInfo.dtype(x) == ScalarType.Float);
            // Backward uses the values forward used: an in-place change of alpha or beta in between fails
            // there, through the saved tensors' version check.
            ctx.savedData().put(SCALAR_PARAMETERS, scalar);
        }
        return new Tensor[] {FusedAReLU.forwardChecked(x, alpha, beta, null, scalar)};
    }

    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor... gradOutputs) {
        Tensor[] saved = ctx.savedTensors();
        boolean[] needed = {ctx.needsInputGrad(0), ctx.needsInputGrad(1), ctx.needsInputGrad(2)};
        if (GradMode.is_enabled()) {
            return ComposedAReLU.differentiableBackward(gradOutputs[0], saved[0], saved[1], saved[2], needed);
        }
        FusedAReLU.ScalarParameters scalar = (FusedAReLU.ScalarParameters) ctx.savedData().get(SCALAR_PARAMETERS);
        FusedAReLU.Gradients g = FusedAReLU.backwardChecked(gradOutputs[0], saved[0], saved[1], saved[2], null,
                needed[0], scalar);
        return new Tensor[] {g.input(), needed[1] ? g.alpha() : null, needed[2] ? g.beta() : null};
    }
}
