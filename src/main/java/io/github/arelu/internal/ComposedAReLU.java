package io.github.arelu.internal;

import java.util.Arrays;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * AReLU from libtorch operations: the reference formula {@code relu(x) * b - relu(-x) * a} with
 * {@code a = clamp(alpha, 0.01, 0.99)} and {@code b = 1 + sigmoid(beta)}, so values, NaN and infinity
 * handling and gradients (of every order) are the reference's by construction. It serves where the fused
 * kernels cannot (bfloat16, half, devices without fused kernels) and computes the fused node's backward
 * under {@code create_graph}.
 */
public final class ComposedAReLU {

    /** Lower clamp bound of alpha, from the paper (ARELU_ALPHA_MIN of the kernels). */
    public static final double ALPHA_MIN = 0.01;
    /** Upper clamp bound of alpha, from the paper (ARELU_ALPHA_MAX of the kernels). */
    public static final double ALPHA_MAX = 0.99;

    private ComposedAReLU() {
    }

    /**
     * The reference formula on checked arguments; intermediates are freed at once. Sparse and other
     * non-strided inputs get the result of libtorch's operations on them where those support the layout.
     *
     * @param x the pre-activation
     * @param alpha the raw alpha
     * @param beta the raw beta
     * @return AReLU of {@code x}, differentiable through libtorch's autograd
     * @throws IllegalArgumentException naming the layout when libtorch's operations do not support it
     */
    public static Tensor forward(Tensor x, Tensor alpha, Tensor beta) {
        try (PointerScope scope = new PointerScope()) {
            return Scopes.escape(scope, reference(x, alpha, beta));
        } catch (RuntimeException e) {
            if (TensorInfo.isStrided(x)) {
                throw e;
            }
            String cause = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            throw new IllegalArgumentException("AReLU does not support inputs of layout " + TensorInfo.layoutName(x)
                    + " with " + (alpha.numel() == 1 ? "one-element" : "channel-wise") + " parameters: libtorch's "
                    + "operations of the reference formula fail on it (" + cause + "); convert the input with "
                    + "to_dense()", e);
        }
    }

    private static Tensor reference(Tensor x, Tensor alpha, Tensor beta) {
        Tensor a = broadcastable(negativeScale(alpha), x);
        Tensor b = broadcastable(positiveScale(beta), x);
        return relu(x).mul(b).sub(relu(x.neg()).mul(a));
    }

    /**
     * ReLU; on meta tensors (shapes without data), for which libtorch 2.10 has neither a relu kernel nor one for
     * the {@code where} of clamp's backward, a copy ({@code x * 1}): the same shape, dtype and gradient shapes,
     * all that meta tensors carry.
     */
    private static Tensor relu(Tensor x) {
        return x.is_meta() ? x.mul(new Scalar(1.0)) : torch.relu(x);
    }

    /**
     * The gradients of AReLU with respect to x, alpha and beta (null where {@code needed} is false) as
     * differentiable functions of {@code gradOutput} and the inputs: libtorch's autograd of the reference
     * formula with {@code create_graph}, for second-order gradients (meta-learning differentiates through
     * inner updates).
     *
     * <p>Taken with respect to a node of each input's own (a view), not the input: libtorch's grad sums every
     * path from the output to what it is asked about, so where alpha lies upstream of x (one AReLU applied twice,
     * {@code x = alpha * z}) alpha's gradient would hold the path through x too, which the engine then adds again
     * through x's own gradient; and one tensor given in two places would get both places' gradients in each.
     */
    static Tensor[] differentiableBackward(Tensor gradOutput, Tensor[] inputs, Tensor[] atForward, boolean[] needed) {
        try (PointerScope scope = new PointerScope()) {
            TensorVector wrt = new TensorVector();
            Tensor[] nodes = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                nodes[i] = needed[i] ? inputs[i].view_as(inputs[i]) : inputs[i];
                if (needed[i]) {
                    wrt.push_back(nodes[i]);
                }
            }
            if (wrt.size() == 0) {
                return new Tensor[3];
            }
            Tensor[] at = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                at[i] = asAtForward(nodes[i], inputs[i], atForward[i]);
            }
            TensorVector grads = torch.grad(new TensorVector(reference(at[0], at[1], at[2])), wrt,
                    new TensorVector(gradOutput), new BoolOptional(true), true, true);
            return inPlaces(grads, needed, scope);
        }
    }

    /**
     * The gradients of AReLU with respect to x, alpha and beta (null where {@code needed} is false) at the given
     * values: libtorch's autograd of the reference formula without {@code create_graph}, whose operations carry a
     * forward-mode AD tangent of {@code gradOutput} to the gradients. Records the formula on detached copies of
     * the values, whatever the caller's grad mode; the gradients have no graph.
     */
    static Tensor[] gradientsAt(Tensor gradOutput, Tensor x, Tensor alpha, Tensor beta, boolean[] needed) {
        try (PointerScope scope = new PointerScope(); AutoGradMode recording = new AutoGradMode(true)) {
            Tensor[] leaves = {x.detach(), alpha.detach(), beta.detach()};
            TensorVector wrt = new TensorVector();
            for (int i = 0; i < 3; i++) {
                if (needed[i]) {
                    wrt.push_back(leaves[i].requires_grad_(true));
                }
            }
            if (wrt.size() == 0) {
                return new Tensor[3];
            }
            TensorVector grads = torch.grad(new TensorVector(reference(leaves[0], leaves[1], leaves[2])), wrt,
                    new TensorVector(gradOutput), new BoolOptional(false), false, true);
            return inPlaces(grads, needed, scope);
        }
    }

    /**
     * The gradients {@code torch.grad} gave for the needed inputs, at their inputs' places (null elsewhere and for
     * an undefined one), handed from {@code scope} to the caller's.
     */
    private static Tensor[] inPlaces(TensorVector grads, boolean[] needed, PointerScope scope) {
        Tensor[] result = new Tensor[3];
        for (int i = 0, k = 0; i < 3; i++) {
            if (needed[i]) {
                Tensor g = grads.get(k++);
                result[i] = g.defined() ? Scopes.escape(scope, new Tensor(g)) : null;
            }
        }
        return result;
    }

    /**
     * {@code node} (the live input, or a view of it) where the input still holds forward's values; elsewhere
     * forward's values with {@code node}'s graph, {@code atForward + (node - node.detach())}, whose derivative
     * with respect to {@code node} is 1 (0 where a changed element is not finite: the difference is NaN there and
     * is taken as 0). Decided element by element, NaN counting as unchanged NaN, so that an unchanged NaN or
     * infinite x keeps its gradient.
     */
    private static Tensor asAtForward(Tensor node, Tensor live, Tensor atForward) {
        if (live.is_same(atForward) || torch.equal(live, atForward)) {
            return node;
        }
        Tensor now = live.detach();
        Tensor unchanged = now.eq(atForward).logical_or(now.isnan().logical_and(atForward.isnan()));
        if (unchanged.all().item_bool()) {
            // Unchanged but for NaNs, which torch.equal counts as changed: the where below would add its other
            // branch's +0 to every gradient, and -0 would come back as +0.
            return node;
        }
        Tensor moved = atForward.add(torch.nan_to_num(node.sub(now), new DoubleOptional(0.0), new DoubleOptional(0.0),
                new DoubleOptional(0.0)));
        return torch.where(unchanged, node, moved);
    }

    /**
     * The range that {@code projectAlpha} clamps alpha to: [0.01, 0.99] where libtorch's clamp passes the gradient
     * on its bounds (up to libtorch 2.13), else the values of {@code dtype} next to them inside (2.14 on).
     *
     * @param dtype alpha's dtype
     * @return {lower, upper}
     */
    public static double[] trainableAlphaRange(ScalarType dtype) {
        return ClampBounds.trainableRange(dtype, ClampBounds.rule());
    }

    /** a = clamp(alpha, 0.01, 0.99), differentiable with torch.clamp's gradient rule. */
    private static Tensor negativeScale(Tensor alpha) {
        if (alpha.is_meta()) {
            // As relu above: clamp's backward (a where) has no meta kernel.
            return alpha.mul(new Scalar(1.0));
        }
        return torch.clamp(alpha, new ScalarOptional(new Scalar(ALPHA_MIN)),
                new ScalarOptional(new Scalar(ALPHA_MAX)));
    }

    /** b = 1 + sigmoid(beta). */
    private static Tensor positiveScale(Tensor beta) {
        return torch.sigmoid(beta).add(new Scalar(1.0));
    }

    /**
     * The parameter view that broadcasts against {@code input}: 0-dim for one element, else [1, C, 1...].
     *
     * @param parameter alpha, beta or a scale formed from them
     * @param input the input they apply to
     * @return the view
     */
    public static Tensor broadcastable(Tensor parameter, Tensor input) {
        if (parameter.numel() == 1) {
            return parameter.reshape();
        }
        long[] shape = new long[(int) input.dim()];
        Arrays.fill(shape, 1);
        shape[1] = parameter.numel();
        return parameter.reshape(shape);
    }
}
