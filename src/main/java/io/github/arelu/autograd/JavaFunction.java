package io.github.arelu.autograd;

import io.github.arelu.internal.Tangents;
import io.github.arelu.internal.TensorInfo;
import org.bytedeco.pytorch.AutoFwGradMode;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.Layout;

/**
 * An autograd function written in Java, for bytedeco's libtorch: the counterpart of PyTorch's
 * {@code torch.autograd.Function} and libtorch's {@code torch::autograd::Function}, which bytedeco cannot
 * map. Subclass it, give it a {@link #forward} that computes the outputs without autograd (for instance
 * with a fused native kernel) and a {@link #backward} that turns the outputs' gradients into the inputs'
 * gradients; {@link #apply} then records one real node of libtorch's autograd graph per call, so
 * {@code backward()}, {@code torch::autograd::grad}, optimizers and further operations see an ordinary
 * graph.
 *
 * <pre>{@code
 * final class Scale extends JavaFunction {                       // y = x * w, w of one element
 *     protected Tensor[] forward(FunctionContext ctx, Tensor... in) {
 *         ctx.saveForBackward(in[0], in[1]);
 *         return new Tensor[] {in[0].mul(in[1])};
 *     }
 *     protected Tensor[] backward(FunctionContext ctx, Tensor... gradOut) {
 *         Tensor[] saved = ctx.savedTensors();
 *         return new Tensor[] {
 *             ctx.needsInputGrad(0) ? gradOut[0].mul(saved[1]) : null,
 *             ctx.needsInputGrad(1) ? gradOut[0].mul(saved[0]).sum().reshape(saved[1].sizes()) : null};
 *     }
 * }
 * Tensor y = new Scale().apply(x, w)[0];
 * }</pre>
 *
 * <p>{@code apply} takes tensors only: put a value of another kind that backward needs (a scale, a flag, a
 * temperature held in a field) into {@link FunctionContext#savedData()} in {@code forward} and read it there in
 * {@code backward}. A field read in backward has its value at backward time, which a caller may have changed since
 * forward (a schedule, the same instance used again with another value), and the gradient is then silently that
 * of another function.
 *
 * <p>Semantics are those of a built-in operation: leaf and non-leaf inputs, any subset requiring grad;
 * {@code torch::autograd::grad} for some inputs only ({@link FunctionContext#needsInputGrad}); {@code
 * retain_graph} and repeated backward (gradients accumulate); libtorch's errors for a second backward after
 * the graph was released and for a saved tensor modified in place; under {@code create_graph}, an error for a saved
 * tensor detached in place ({@code detach_()}, which cuts the graph that higher-order gradients go through); an
 * exception thrown by {@code backward} reaches the caller of {@code backward()} as a {@code RuntimeException}
 * whose message names it, and the process goes on; under {@code create_graph} backward runs with grad mode on, so
 * a backward written with differentiable operations on the saved tensors gives correct higher-order gradients.
 * Without grad mode, or when no input requires grad, {@code apply} just runs {@code forward} and records nothing.
 * Forward-mode AD has no counterpart: an input that carries a tangent (a dual tensor) is refused, and forward runs
 * with forward-mode AD off, as libtorch runs a C++ {@code Function}'s. (A tangent on a sparse or MKL-DNN input,
 * which only an operation with a forward-mode formula can give it, cannot be read from Java and is not looked for.)
 *
 * <p>Lifetime: the node is owned by libtorch's graph like any other; the Java side of a call (this
 * function and its {@link FunctionContext}) is held by a registry until libtorch destroys the node (the
 * node's destructor reports it, or, where nodes have hooks, the hooks that die with it), and nothing of the
 * call outlives the node. The saved tensors are freed when libtorch would free its own saved variables, right
 * after the node's backward unless the graph is kept. See the package documentation for the limits.
 */
public abstract class JavaFunction {

    /** For subclasses: a function holds no state of its own; each call's state lives in its context. */
    protected JavaFunction() {
    }

    /**
     * Computes the outputs. Runs with grad mode off. Must return new floating-point or complex tensors, none of
     * them an input or a view of one; may save tensors for backward with {@link FunctionContext#saveForBackward}.
     *
     * @param ctx this call's context, for what backward needs
     * @param inputs the tensors given to {@link #apply}
     * @return the outputs, new tensors
     */
    protected abstract Tensor[] forward(FunctionContext ctx, Tensor... inputs);

    /**
     * Computes one gradient per input from one gradient per output (zeros for outputs that received none),
     * each shaped like its input, with its dtype and device; {@code null} or an undefined tensor for an input
     * that gets no gradient. Runs with grad mode on exactly when the caller asked for {@code create_graph}:
     * then compute with differentiable operations on {@link FunctionContext#savedTensors()} and the output
     * gradients. To take them as {@code torch.grad} of a reference formula, ask it about a view of each saved
     * input ({@code t.view_as(t)}, used by the formula in its place), not the saved input: grad sums every path
     * to what it is asked about, so an input that also lies upstream of another (a parameter used before, as in
     * {@code f(alpha * z, alpha)}) would get that path here and again from libtorch's engine. Skip inputs for
     * which {@link FunctionContext#needsInputGrad} is false. It runs inside a {@code PointerScope} of the
     * library's, closed when it returns: the tensors it makes are freed then, but for the gradients it returns,
     * which libtorch takes over. To keep one beyond (a cache, a log), call its {@code retainReference()} and later
     * {@code releaseReference()}. The handles of {@code gradOutputs} point into libtorch's buffer and are nulled
     * when backward returns; those of {@link FunctionContext#savedTensors()} point into the context's, which other
     * calls reuse, and are nulled when the graph is released. A kept one then throws
     * {@code NullPointerException} instead of reading another call's tensor. Keep
     * {@code new Tensor(t).retainReference()}, a handle of your own, instead.
     *
     * @param ctx the context forward filled
     * @param gradOutputs one gradient per output of forward
     * @return one gradient per input of forward, or null for an input that gets none
     */
    protected abstract Tensor[] backward(FunctionContext ctx, Tensor... gradOutputs);

    /**
     * The name used in error messages and in the node's name ({@code name() + "Backward"}): the class's simple
     * name unless overridden; for an anonymous class, which has none, its binary name without the package
     * (such as {@code Trainer$1}).
     *
     * @return this function's name
     */
    public String name() {
        String simple = getClass().getSimpleName();
        if (!simple.isEmpty()) {
            return simple;
        }
        String binary = getClass().getName();
        return binary.substring(binary.lastIndexOf('.') + 1);
    }

    /**
     * Runs {@link #forward} and, when grad mode is on and an input requires grad, records the call as a node
     * of libtorch's autograd graph whose backward is {@link #backward}. On a virtual thread, forward runs on one
     * OS thread throughout, even if it blocks (libtorch's grad mode is per OS thread; see the package
     * documentation).
     *
     * @param inputs the function's tensor inputs
     * @return the outputs of {@link #forward}, whose {@code grad_fn} is the recorded node when one was recorded
     * @throws IllegalArgumentException for a null or undefined input, or a strided one that carries a forward-mode
     *     AD tangent; where an input requires grad and {@code -Dio.github.arelu.autograd.node} or {@code
     *     -Dio.github.arelu.autograd.perCallHooks} has a value that is none of its words
     * @throws IllegalStateException on a virtual thread where the native library is unavailable; when forward
     *     returns no outputs, an undefined output or one neither floating-point nor complex
     *     output, an output that is an input or shares its memory, or the same tensor twice, or saves an output
     *     (or a view of one) for backward
     */
    public final Tensor[] apply(Tensor... inputs) {
        boolean[] requiresGrad = new boolean[inputs.length];
        boolean anyRequiresGrad = false;
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null || inputs[i].isNull() || !inputs[i].defined()) {
                throw new IllegalArgumentException(name() + ": input " + i + " is null or undefined");
            }
            requiresGrad[i] = inputs[i].requires_grad();
            anyRequiresGrad |= requiresGrad[i];
        }
        if (anyRequiresGrad) {
            NodeSwitches.check(); // before forward runs, whose call would be wasted
        }
        if (Thread.currentThread().isVirtual()) {
            // Grad mode is switched off for forward and back on after it: on one OS thread (OneCarrier).
            boolean recordable = anyRequiresGrad;
            return OneCarrier.call(() -> forwardAndRecord(inputs, requiresGrad, recordable), name() + ".apply");
        }
        return forwardAndRecord(inputs, requiresGrad, anyRequiresGrad);
    }

    private Tensor[] forwardAndRecord(Tensor[] inputs, boolean[] requiresGrad, boolean anyRequiresGrad) {
        boolean forwardAD = Tangents.levelOpen();
        if (forwardAD) {
            refuseTangents(inputs);
        }
        boolean gradMode = GradMode.is_enabled();
        FunctionContext context = new FunctionContext(name(), requiresGrad, gradMode && anyRequiresGrad);
        Tensor[] outputs;
        boolean handedOver = false;
        try {
            GradMode.set_enabled(false);
            try {
                outputs = forwardAD ? forwardWithoutTangents(context, inputs) : forward(context, inputs);
            } finally {
                GradMode.set_enabled(gradMode);
            }
            if (context.isRecording()) {
                checkOutputs(outputs, inputs);
                context.refuseSavedOutputs(outputs);
                GradientNode.wire(this, context, inputs, outputs);
            }
            handedOver = true;
        } finally {
            if (!handedOver) {
                // forward, the output checks or the wiring failed: no node will ever release what forward saved.
                context.release();
            }
        }
        return outputs;
    }

    /**
     * A tangent on an input would not reach the outputs through a backward-only function: refused, as libtorch's
     * C++ autograd {@code Function} refuses it, rather than an output without its tangent.
     */
    private void refuseTangents(Tensor[] inputs) {
        int withTangent = Tangents.firstWithTangent(inputs);
        if (withTangent >= 0) {
            throw new IllegalArgumentException(name() + ": input " + withTangent + " carries a forward-mode AD "
                    + "tangent (a dual tensor), and a JavaFunction has no forward-mode derivative; compute it with "
                    + "libtorch's operations, which carry tangents");
        }
    }

    /**
     * Forward with forward-mode AD off, as libtorch runs a custom function's forward: a dual tensor that forward
     * reaches other than through its inputs (a field) would otherwise give the outputs a partial tangent.
     */
    private Tensor[] forwardWithoutTangents(FunctionContext context, Tensor[] inputs) {
        try (AutoFwGradMode off = new AutoFwGradMode(false)) {
            return forward(context, inputs);
        }
    }

    /**
     * The function whose node produced {@code output} (its {@code grad_fn}), or null when {@code output} was
     * not produced by a recorded {@link #apply}.
     *
     * @param output a tensor, possibly returned by {@link #apply}
     * @return the function that recorded {@code output}'s node, or null
     */
    public static JavaFunction functionOf(Tensor output) {
        if (output.is_leaf()) {
            return null; // no grad_fn, which bytedeco would hand out leaking an empty shared_ptr's 16 bytes
        }
        Node gradFn = output.grad_fn();
        if (gradFn == null || gradFn.isNull()) {
            return null;
        }
        GradientNode record = LiveNodes.byNodeAddress(gradFn.address());
        return record == null ? null : record.function();
    }

    /**
     * How many nodes recorded by {@link #apply} libtorch still holds (in any thread). It drops to zero once
     * every graph that contains one has been released, so tests and applications can check for leaks.
     *
     * @return the number of live nodes recorded from Java
     */
    public static int liveNodeCount() {
        return LiveNodes.count();
    }

    /**
     * Whether {@code out} shares memory with {@code in} where one of them has no storage (sparse and MKL-DNN tensors,
     * on which libtorch's {@code is_alias_of} throws): by the storage of their elements (a sparse tensor's values,
     * COO and compressed layouts alike; its indices, which carry no gradient, may be shared) where both have one,
     * else by identity.
     */
    private static boolean sharesMemoryWithoutStorage(Tensor out, Tensor in) {
        if (out.is_same(in)) {
            return true;
        }
        Tensor outElements = elementsOf(out);
        Tensor inElements = elementsOf(in);
        return outElements != null && inElements != null && outElements.is_alias_of(inElements);
    }

    /** The strided tensor that holds {@code t}'s elements: itself, or a sparse tensor's values; null for none. */
    private static Tensor elementsOf(Tensor t) {
        if (t.has_storage()) {
            return t;
        }
        int layout = t.layout().value;
        if (layout == Layout.Sparse.value) {
            return t._values();
        }
        if (layout == Layout.SparseCsr.value || layout == Layout.SparseCsc.value || layout == Layout.SparseBsr.value
                || layout == Layout.SparseBsc.value) {
            return t.values();
        }
        return null; // MKL-DNN (opaque), or a layout without strided elements
    }

    private void checkOutputs(Tensor[] outputs, Tensor[] inputs) {
        if (outputs == null || outputs.length == 0) {
            throw new IllegalStateException(name() + ".forward returned no outputs");
        }
        for (int i = 0; i < outputs.length; i++) {
            Tensor out = outputs[i];
            if (out == null || out.isNull() || !out.defined()) {
                throw new IllegalStateException(name() + ".forward returned a null or undefined output " + i);
            }
            if (!out.is_floating_point() && !out.is_complex()) {
                throw new IllegalStateException(name() + ".forward output " + i + " has dtype "
                        + TensorInfo.dtype(out) + "; only floating-point and complex outputs can have gradients");
            }
            boolean outHasStorage = out.has_storage();
            for (int j = 0; j < inputs.length; j++) {
                Tensor in = inputs[j];
                if (outHasStorage && in.has_storage() ? out.is_alias_of(in) : sharesMemoryWithoutStorage(out, in)) {
                    throw new IllegalStateException(name() + ".forward output " + i + " shares memory with input "
                            + j + "; return new tensors (clone an input to pass it through)");
                }
            }
            for (int j = 0; j < i; j++) {
                if (out.is_same(outputs[j])) {
                    throw new IllegalStateException(name() + ".forward returned the same tensor as outputs " + j
                            + " and " + i);
                }
            }
        }
    }
}
