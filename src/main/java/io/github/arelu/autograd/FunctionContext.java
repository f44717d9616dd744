package io.github.arelu.autograd;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import io.github.arelu.internal.TensorInfo;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * What one call of a {@link JavaFunction} keeps for its backward: saved tensors, other values
 * ({@link #savedData}), and which inputs need a gradient. Made by {@link JavaFunction#apply}; handed to {@code forward} and, for the same call, to
 * {@code backward}.
 *
 * <p>Saved tensors follow libtorch's rules for saved variables: they are kept until the graph is released
 * (a backward without {@code retain_graph}, or the graph dropped), reading them after that fails with
 * libtorch's "backward through the graph a second time" error, and reading one that was modified in place
 * after it was saved fails with libtorch's "modified by an inplace operation" error, never with wrong
 * gradients.
 */
public final class FunctionContext {

    private static final Tensor[] NONE = new Tensor[0];

    static final String GRAPH_RELEASED = "Trying to backward through the graph a second time (or directly "
            + "access saved tensors after they have already been freed). Saved intermediate values of the graph "
            + "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
            + "backward through the graph a second time or if you need to access saved tensors after calling "
            + "backward.";

    static final String DETACHED_IN_PLACE = "Trying to use a saved tensor that has been detached in-place, i.e. "
            + "with .detach_(). This is not supported, please use out-of-place `.detach()` instead";

    private final String functionName;
    private final boolean[] inputRequiresGrad;
    private final boolean recording;
    /** The saved tensors, in one native vector from {@link TensorVectorPool}, whatever their number. */
    private TensorVector saved;
    private Tensor[] savedView = NONE;
    private long[] savedVersions;
    /** Which saved tensors had a grad_fn when saved: libtorch refuses one that has lost it since (detach_()). */
    private boolean[] savedWithGradFn;
    private Map<String, Object> savedData;
    private boolean released;
    /**
     * The graph node, without ownership (a raw pointer): set once wired, cleared when its death is reported (with
     * our virtual table or our hooks before libtorch destroys anything of it; with the lifetime sentinel of the
     * per-call-hooks fallback while its edges are being destroyed, so a kept context's last call may still race).
     */
    private Node node;
    /** Whether the node died: a context kept past its call may not reach it. */
    private boolean nodeDied;

    FunctionContext(String functionName, boolean[] inputRequiresGrad, boolean recording) {
        this.functionName = functionName;
        this.inputRequiresGrad = inputRequiresGrad;
        this.recording = recording;
    }

    /**
     * Keeps {@code tensors} (usually inputs) for backward, in this order. Call it from {@code forward}. The
     * tensors are kept as they are, graph history included, so a backward under {@code create_graph} can
     * differentiate through them. Keep outputs out of it: a saved output would hold the node that owns it
     * and never be released. Nothing is kept when no gradient will be computed. An inference tensor (made under
     * {@code InferenceMode}) has no version counter to guard it with, so a copy of it is kept instead.
     * libtorch's SGD writes parameters without bumping their versions (its Adam, AdamW, RMSprop and Adagrad bump
     * them, and the backward then refuses): a parameter saved here and read in a backward that runs after an SGD
     * step holds the stepped values, with no error. Where backward must
     * compute with forward's values (a value formed from a parameter in forward, as AReLU's scales, is saved as
     * formed in libtorch's own graph), save a {@code clone()} of the parameter too, or its values in
     * {@link #savedData}.
     *
     * @param tensors the tensors backward will read, in the order {@link #savedTensors()} returns them
     * @throws IllegalStateException on a context whose graph was released or whose node was destroyed (one kept past
     *     its call), where the tensors would be held, unread, for as long as the context lives
     */
    public void saveForBackward(Tensor... tensors) {
        if (!recording) {
            return;
        }
        synchronized (this) {
            if (released || nodeDied) {
                throw new IllegalStateException(functionName + ": saveForBackward on a context whose "
                        + (released ? "graph was released" : "graph node was destroyed") + "; a FunctionContext serves "
                        + "its call's forward and backward only");
            }
            releaseSaved();
            for (int i = 0; i < tensors.length; i++) {
                if (tensors[i] == null || tensors[i].isNull() || !tensors[i].defined()) {
                    throw new IllegalArgumentException(functionName + ": saved tensor " + i + " is null or undefined");
                }
            }
            // Outside the caller's scope, in which it would live until that scope closes, whenever the graph
            // is released; the clones of inference tensors are the vector's alone.
            saved = TensorVectorPool.take();
            try (PointerScope scope = new PointerScope()) {
                for (int i = 0; i < tensors.length; i++) {
                    int first = firstIndexOf(tensors, i);
                    // A handle given twice is kept once (an inference tensor's copy too), then referenced again:
                    // by a handle of its own, as get's points into the vector, which push_back may reallocate.
                    saved.push_back(first < i ? new Tensor(saved.get(first))
                            : tensors[i].is_inference() ? tensors[i].clone() : tensors[i]);
                }
            }
            savedView = new Tensor[tensors.length];
            savedVersions = new long[tensors.length];
            savedWithGradFn = new boolean[tensors.length];
            for (int i = 0; i < tensors.length; i++) {
                savedView[i] = saved.get(i);
                savedVersions[i] = savedView[i]._version();
                savedWithGradFn[i] = !savedView[i].is_leaf();
            }
        }
    }

    /** The first position of the handle {@code tensors[i]} in {@code tensors}. */
    private static int firstIndexOf(Tensor[] tensors, int i) {
        for (int j = 0; j < i; j++) {
            if (tensors[j] == tensors[i]) {
                return j;
            }
        }
        return i;
    }

    /**
     * The tensors given to {@link #saveForBackward}, for use during backward. The handles belong to this
     * context and are valid until the graph is released, when they are nulled (a kept one then throws
     * {@code NullPointerException}): do not close them or keep them; keep {@code new Tensor(t)} instead.
     *
     * @return the saved tensors, in the order they were saved
     * @throws RuntimeException with libtorch's message when the graph was released, or when a saved tensor
     *     was modified in place after it was saved
     */
    public synchronized Tensor[] savedTensors() {
        if (released) {
            throw new RuntimeException(GRAPH_RELEASED);
        }
        for (int i = 0; i < savedView.length; i++) {
            long version = savedView[i]._version();
            if (version != savedVersions[i]) {
                throw new RuntimeException("one of the variables needed for gradient computation has been modified "
                        + "by an inplace operation: [" + TensorInfo.describe(savedView[i]) + "], which is saved tensor "
                        + i + " of " + functionName + ", is at version " + version + "; expected version "
                        + savedVersions[i] + " instead.");
            }
            // Grad mode first: a plain backward asks no is_leaf for the detach_() check (jmh/README's count).
            if (savedWithGradFn[i] && GradMode.is_enabled() && savedView[i].is_leaf()) {
                // The graph to what the tensor was computed from is gone: a backward under create_graph would
                // silently lose the derivatives through it. Without create_graph its values are all backward
                // reads, and they are forward's (the version check above): the gradients are right, as before.
                throw new RuntimeException(DETACHED_IN_PLACE + " (saved tensor " + i + " of " + functionName + ")");
            }
        }
        return savedView.clone();
    }

    /**
     * Values other than tensors that backward needs (scalars formed in forward, shapes, flags), by name: the
     * counterpart of libtorch's {@code ctx->saved_data}. Put them in during {@code forward}, read them in
     * {@code backward}; they live as long as this context. Tensors belong in {@link #saveForBackward}, which
     * frees them with the graph and detects in-place changes.
     *
     * @return this call's mutable map of saved values
     */
    public synchronized Map<String, Object> savedData() {
        if (savedData == null) {
            savedData = new HashMap<>();
        }
        return savedData;
    }

    /**
     * Whether the gradient of input {@code index} is wanted. During backward this follows the running
     * backward call: false for inputs that do not require grad and for inputs that {@code torch::autograd::grad}
     * was not asked about, so backward can skip them. During forward it says whether the input requires grad.
     * Asked on another thread than the backward's, it knows no running backward (libtorch keeps it per thread, as
     * for its own {@code AutogradContext}) and answers true for every input that requires grad.
     *
     * @param index the input's position among the arguments of {@code apply}
     * @return whether a gradient for that input is needed
     * @throws IllegalStateException when the call's graph node was destroyed (a context kept past its call)
     */
    public synchronized boolean needsInputGrad(int index) {
        if (index < 0 || index >= inputRequiresGrad.length) {
            throw new IndexOutOfBoundsException(functionName + " has " + inputRequiresGrad.length
                    + " inputs, asked about input " + index);
        }
        if (nodeDied) {
            throw new IllegalStateException(functionName + ": this call's graph node was destroyed; a "
                    + "FunctionContext serves its call's forward and backward only");
        }
        return node != null ? node.task_should_compute_output(index) : inputRequiresGrad[index];
    }

    /**
     * The number of inputs of this call.
     *
     * @return how many tensors {@code apply} was given
     */
    public int inputCount() {
        return inputRequiresGrad.length;
    }

    boolean isRecording() {
        return recording;
    }

    /**
     * Refuses a saved tensor that is one of the outputs or a view of one: once the output's {@code grad_fn} is the
     * node, the saved tensor would hold its own node (the registry holds the context, the context the tensor, the
     * tensor its {@code grad_fn}), which then never dies unless a backward releases it. libtorch breaks that
     * cycle inside its saved variables; from Java it cannot be broken. A detached output ({@code out.detach()})
     * has no {@code grad_fn} and is kept, version checks included.
     */
    synchronized void refuseSavedOutputs(Tensor[] outputs) {
        for (int i = 0; i < savedView.length; i++) {
            Tensor saved = savedView[i];
            boolean view = saved.is_view();
            for (int j = 0; j < outputs.length; j++) {
                if (view ? saved._base().is_same(outputs[j]) : saved.is_same(outputs[j])) {
                    throw new IllegalStateException(functionName + ".forward saved output " + j
                            + (view ? " (a view of it)" : "") + " as saved tensor " + i + ", which would keep "
                            + "the call's node alive for ever; save output.detach() where backward is not itself "
                            + "differentiated (create_graph), or recompute the output from the inputs in backward");
                }
            }
        }
    }

    synchronized void attach(Node rawNode) {
        node = rawNode;
    }

    /** The node died (libtorch destroys it): its pointer must not be used again. Told at once, before release. */
    synchronized void forgetNode() {
        nodeDied = true;
        node = null;
    }

    /** Frees the saved tensors, as libtorch frees saved variables when the graph is released. */
    synchronized void release() {
        released = true;
        releaseSaved();
    }

    private void releaseSaved() {
        if (saved != null) {
            // The handles savedTensors() gave point into the vector, which the pool hands to another call's forward:
            // one kept past release would silently read that call's tensor. Nulled, its use throws
            // NullPointerException ("This pointer address is NULL.").
            for (Tensor view : savedView) {
                view.setNull();
            }
            savedView = NONE;
            TensorVectorPool.giveBack(saved);
            saved = null;
        }
    }

    @Override
    public String toString() {
        return "FunctionContext[" + functionName + ", inputs requiring grad " + Arrays.toString(inputRequiresGrad)
                + ", " + savedView.length + " saved" + (released ? ", released" : "") + "]";
    }
}
