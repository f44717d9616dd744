package io.github.arelu.autograd;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.github.arelu.internal.Scopes;
import io.github.arelu.internal.TensorInfo;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Edge;
import org.bytedeco.pytorch.FunctionPostHook;
import org.bytedeco.pytorch.FunctionPreHook;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One call of a {@link JavaFunction} as a node of libtorch's autograd graph, and the record that keeps what
 * that node needs from Java while it lives.
 *
 * <p>How the node is made (bytedeco cannot subclass libtorch's {@code Node}): a "carrier" node is taken
 * from {@code cat} over {@code n} tensors, so it has {@code n} next edges, which become the inputs'
 * gradient edges; its input metadata is cleared, and {@code create_gradient_edge} makes it the
 * {@code grad_fn} of each output. Then either (the package documentation says when which):
 * <ul>
 *   <li>it gets our virtual table ({@link CarrierTable}): libtorch's engine calls {@link #apply}, which runs
 *       the Java backward and fills the node's result; libtorch checks those gradients as any node's; or</li>
 *   <li>it gets two hooks. During backward, libtorch runs: our pre-hook, which receives the outputs'
 *       gradients, runs the Java backward, keeps the input gradients for the post-hook and hands the carrier
 *       an undefined gradient; the carrier's own backward, which for an undefined gradient returns undefined
 *       gradients; our post-hook, which writes the input gradients into libtorch's output list (libtorch
 *       does not check what post-hooks return). The hooks are objects of our own making
 *       ({@link HookPeers}) that call two shared Java hooks, which find the running node's record with
 *       {@code get_current_node()} and report the node's death when libtorch deletes them. Only in the
 *       fallback to JavaCPP's peers as hooks, a last, extra edge leads to the lifetime sentinel of
 *       {@link LiveNodes}.</li>
 * </ul>
 * Either way the Java backward checks every gradient's shape, dtype and device, to name the function in the
 * error, and frees the saved tensors unless the graph is kept ({@code retain_graph}), where the engine runs the
 * node: with our table, a call of the node's {@code apply} from outside its own evaluation frees nothing.
 */
final class GradientNode {

    /** Small leaves (parameters) whose gradient edge {@code cat} makes for free by taking them as inputs. */
    private static final long SMALL_LEAF = 1024;

    /**
     * Input gradients from a pre-hook to the post-hook of the same run of a node: libtorch's engine calls both
     * on one thread, one right after the other, and one node may run on several threads at once (backward
     * through a retained graph from several threads), so the hand-over is per thread. Nothing is carried to
     * another call: the post-hook takes it, and a run that failed in between is cleared by the next pre-hook.
     */
    private static final ThreadLocal<TensorVector> PENDING = new ThreadLocal<>();
    /**
     * The outputs' gradients from a pre-hook to the post-hook of the same run, only where the node has post-hooks
     * besides ours: libtorch hands every post-hook the node's inputs as the pre-hooks left them, which with hooks is
     * the undefined gradient ours gives the carrier; our post-hook, the node's first, puts the real ones back, so
     * a user's post-hook ({@code output.grad_fn().add_post_hook}) sees the gradients it would see on any node.
     */
    private static final ThreadLocal<TensorVector> PENDING_GRAD_OUTPUTS = new ThreadLocal<>();
    /** What the pre-hook hands the carrier: one undefined gradient. Never freed, only copied from. */
    private static final TensorVector ONE_UNDEFINED;
    /**
     * What {@code cat} takes in place of an input whose edge is not cat's own: no elements and no gradient,
     * so the edge is invalid until set. {@code cat} keeps only its size. Never freed.
     */
    private static final Tensor PLACEHOLDER;
    /**
     * What {@code cat} takes in place of an input that requires grad but whose edge is set afterwards: no
     * elements, but a gradient, so that cat always makes a node. Its edge is replaced, so it is in no graph.
     */
    private static final Tensor ANCHOR;
    /** The C++ classes of the hooks, whose peers {@link HookPeers} copies. */
    static final List<Class<? extends Pointer>> HOOK_BASES = List.of(FunctionPreHook.class, FunctionPostHook.class);
    /** How many JavaCPP hook peers (each with a JNI weak reference) were made: a handful, not one per call. */
    private static final AtomicLong PEERS_MADE = new AtomicLong();

    /** The bytes of JavaCPP's exception text, its terminating NUL left out ({@code char msg[1024]}). */
    private static final int JAVACPP_MESSAGE_BYTES = 1023;
    /** The hooks whose peers every node's hooks are copies of. Never freed: the copies use their references. */
    private static final PreHook PRE_HOOK;
    private static final PostHook POST_HOOK;

    static {
        try (PointerScope scope = new PointerScope()) {
            ONE_UNDEFINED = Scopes.retained(new TensorVector(new Tensor()));
            PLACEHOLDER = Scopes.retained(torch.empty(0));
            ANCHOR = Scopes.retained(torch.empty(0).requires_grad_(true));
            PRE_HOOK = Scopes.retained(new PreHook());
            POST_HOOK = Scopes.retained(new PostHook());
        }
    }

    private final JavaFunction function;
    private final FunctionContext context;
    /**
     * Held through each backward of the node, from the saved tensors' first read to their release (see {@link
     * #apply}). Not the context's monitor, on which its public accessors synchronize: a backward that hands work
     * reading the context to another thread, and waits for it, would wait for ever.
     */
    private final Object applying = new Object();
    private final Meta[] inputs;
    private final Meta[] outputs;
    /**
     * Only with one JavaCPP peer per hook (the fallback of {@link HookPeers}): the C++ hooks call these
     * through JavaCPP's weak references, so they are held here until the node dies.
     */
    private FunctionPreHook preHook;
    private FunctionPostHook postHook;
    private volatile long nodeAddress;

    private long key;

    private GradientNode(JavaFunction function, FunctionContext context, Meta[] inputs, Meta[] outputs) {
        this.function = function;
        this.context = context;
        this.inputs = inputs;
        this.outputs = outputs;
    }

    /** Makes the node of one call and wires it between {@code inputs} and {@code outputs}. */
    static void wire(JavaFunction function, FunctionContext context, Tensor[] inputs, Tensor[] outputs) {
        GradientNode record = new GradientNode(function, context, Meta.of(inputs), Meta.of(outputs));
        long key = LiveNodes.register(record);
        record.key = key;
        try {
            wire(record, inputs, outputs);
        } catch (RuntimeException | Error e) {
            // No node holds the record (or the one that does, never made findable, cannot report it): drop it.
            LiveNodes.nodeDied(key);
            throw e;
        }
    }

    private static void wire(GradientNode record, Tensor[] inputs, Tensor[] outputs) {
        long key = record.key;
        FunctionContext context = record.context;
        int n = inputs.length;
        boolean ownTable = CarrierTable.available();
        boolean shared = ownTable || HookPeers.shared();
        try (PointerScope scope = new PointerScope()) {
            // cat's next edges are its inputs' gradient edges: a small CPU leaf is taken as it is (its edge is
            // its AccumulateGrad, which would otherwise cost an extra operation to reach); an input without
            // gradient is stood in for by the placeholder, whose edge is invalid, as it needs; every other
            // input by the anchor, whose edge is replaced below. With JavaCPP's peers as hooks, a last part, the lifetime
            // sentinel (a small leaf too), tells when the node dies; our own hooks tell it themselves.
            Tensor[] parts = new Tensor[shared ? n : n + 1];
            boolean[] edgeFromCat = new boolean[n];
            for (int i = 0; i < n; i++) {
                Tensor input = inputs[i];
                if (!input.requires_grad()) {
                    parts[i] = PLACEHOLDER;
                    edgeFromCat[i] = true;
                } else if (input.is_leaf() && input.is_cpu() && input.dim() == 1 && input.numel() <= SMALL_LEAF
                        && input.has_storage()) { // not a sparse one, which cat cannot join to dense parts
                    parts[i] = input;
                    edgeFromCat[i] = true;
                } else {
                    parts[i] = ANCHOR;
                }
            }
            if (!shared) {
                parts[n] = LiveNodes.lifetimeSentinel(key);
            }
            TensorVector catInputs = TensorVectorPool.take();
            Node node;
            try {
                node = torch.cat(catInputs.put(parts)).grad_fn();
            } finally {
                TensorVectorPool.giveBack(catInputs);
            }
            for (int i = 0; i < n; i++) {
                if (!edgeFromCat[i]) {
                    node.set_next_edge(i, gradientEdge(inputs[i]));
                }
            }
            node.clear_input_metadata();
            for (Tensor output : outputs) {
                torch.create_gradient_edge(output, node);
            }
            if (ownTable) {
                // Before the node is findable: its apply and death need the record only once a graph runs or drops it.
                CarrierTable.install(node.address());
            } else if (shared) {
                node.add_pre_hook(new FunctionPreHook(at(HookPeers.make(0, key))));
                node.add_post_hook(new FunctionPostHook(at(HookPeers.make(1, 0))));
            } else {
                record.preHook = new PreHook();
                record.postHook = new PostHook();
                node.add_pre_hook(record.preHook);
                node.add_post_hook(record.postHook);
            }
            record.nodeAddress = node.address();
            context.attach(new Node(node));
            LiveNodes.indexNode(node.address(), record);
        }
    }

    /** A pointer without ownership to {@code target}. */
    private static Pointer at(long target) {
        return new Pointer() {
            {
                address = target;
            }
        };
    }

    /**
     * The edge along which a tensor that requires grad passes its gradient on: its grad_fn for a result of
     * an operation, its AccumulateGrad for a leaf (made by libtorch on first use, hence the view). A leaf's
     * grad_fn is never asked for: bytedeco's {@code grad_fn()} leaks 16 bytes of native memory each time it
     * returns an empty {@code shared_ptr} (see the package documentation).
     */
    private static Edge gradientEdge(Tensor tensor) {
        if (!tensor.is_leaf()) {
            return new Edge(tensor.grad_fn(), (int) tensor.output_nr());
        }
        // Sparse, MKL-DNN and nested leaves have no view_as (a sparse one was refused by libtorch); a clone's node
        // leads to the same AccumulateGrad.
        Tensor stepping = TensorInfo.isStrided(tensor) ? tensor.view_as(tensor) : tensor.clone();
        return stepping.grad_fn().next_edge(0);
    }

    JavaFunction function() {
        return function;
    }

    /** The hooks whose Java objects every node's hooks call, in {@link #HOOK_BASES}' order; never freed. */
    static Pointer[] hookTemplates() {
        return new Pointer[] {PRE_HOOK, POST_HOOK};
    }

    /** Two hook peers of each kind, for {@link HookPeers}' layout check; the caller's scope frees them. */
    static Pointer[][] twinHooks() {
        return new Pointer[][] {{new PreHook(), new PreHook()}, {new PostHook(), new PostHook()}};
    }

    /** How many JavaCPP hook peers, each with its own JNI weak reference, this process has made. */
    static long hookPeersMade() {
        return PEERS_MADE.get();
    }

    /**
     * The record of the node libtorch's engine is running on this thread (whose pre-hook is being called), with the
     * number of the node's function pre-hooks and post-hooks, ours included.
     */
    private record Running(GradientNode record, long preHooks, long postHooks) {
    }

    private static Running running() {
        // libtorch hands out a shared_ptr: freed here, or it would keep the node alive until the next GC.
        try (PointerScope scope = new PointerScope()) {
            Node node = torch.get_current_node();
            GradientNode record = node == null || node.isNull() ? null : LiveNodes.byNodeAddress(node.address());
            if (record == null) {
                throw new IllegalStateException("a JavaFunction hook ran outside a JavaFunction node");
            }
            return new Running(record, node.pre_hooks().size(), node.post_hooks().size());
        }
    }

    /** The node died: the context must not reach it from now on (its release follows, maybe queued). */
    void forgetNode() {
        context.forgetNode();
    }

    long nodeAddress() {
        return nodeAddress;
    }

    /** The node died: nothing of this call is needed any more. */
    void releaseAll() {
        context.release();
        preHook = null;
        postHook = null;
    }

    long key() {
        return key;
    }

    /**
     * The backward of the node at {@code nodeAddress} with our virtual table ({@link CarrierTable}): reads the
     * outputs' gradients from libtorch's vector at {@code gradientsAddress} and fills the empty vector at
     * {@code resultsAddress}, which libtorch's engine checks and passes on, with one gradient per input.
     */
    static void apply(long nodeAddress, long gradientsAddress, long resultsAddress) {
        GradientNode record = LiveNodes.byNodeAddress(nodeAddress);
        if (record == null) {
            throw new IllegalStateException("a JavaFunction node ran without its record");
        }
        // Held from the saved tensors' first read to their release: libtorch's own nodes lock their mutex in apply
        // and in release_variables alike, so that one thread's backward without retain_graph does not free what
        // another thread's backward through the same retained graph still reads.
        synchronized (record.applying) {
            runAndFill(record, nodeAddress, gradientsAddress, resultsAddress);
        }
    }

    private static void runAndFill(GradientNode record, long nodeAddress, long gradientsAddress,
            long resultsAddress) {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] gradients = record.backward(new TensorVector(at(gradientsAddress)));
            // libtorch's references first, then the saved tensors released: a gradient may be a saved tensor
            // (a fused loss saves its input gradient), whose handle points into the context's pooled vector.
            // Released first, that vector frees it, or goes to another thread's forward, which writes its own
            // tensor into the same slot.
            TensorVector results = new TensorVector(at(resultsAddress));
            results.resize(gradients.length);
            for (int i = 0; i < gradients.length; i++) {
                if (gradients[i].defined()) {
                    results.put(i, gradients[i]);
                }
            }
            if (CarrierTable.evaluatedByEngine(nodeAddress)) {
                record.releaseUnlessKept();
            }
        } catch (Throwable e) {
            // The caller frees the vector as plain pointers: it must hold no tensor (none, unless a put failed).
            // Throwable: a checked exception thrown past javac (Kotlin, Lombok's @SneakyThrows) is named too.
            new TensorVector(at(resultsAddress)).clear();
            throw backwardFailed(record, e);
        }
    }

    /**
     * What reaches the caller of {@code backward()} when a node's backward throws: only text crosses libtorch
     * (a C++ exception), so the message names the function and the original's class and message.
     */
    private static RuntimeException backwardFailed(GradientNode record, Throwable e) {
        String what;
        try {
            what = String.valueOf(e);
        } catch (Throwable broken) {
            // A user's exception whose toString throws must not hide which function failed.
            what = e.getClass().getName() + " (its toString threw " + broken.getClass().getName() + ")";
        }
        // A NUL would end the text where it crosses libtorch as a C string.
        return new RuntimeException(record.function.name() + " backward failed: " + what.replace("\0", "\\0"), e);
    }

    /**
     * With hooks, JavaCPP carries the exception's {@code toString()} into a C++ exception of 1023 bytes at most,
     * cut wherever that falls, inside a character too; so the message is cut to fit first, between characters.
     */
    private static RuntimeException fittedForJavaCpp(RuntimeException e) {
        String prefix = e.getClass().getName() + ": ";
        String message = fitted(e.getMessage(), JAVACPP_MESSAGE_BYTES - prefix.length());
        return message.equals(e.getMessage()) ? e : new RuntimeException(message, e.getCause());
    }

    /** {@code text}, or its longest start of at most {@code maxBytes} bytes in UTF-8 that ends between characters. */
    static String fitted(String text, int maxBytes) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return new String(bytes, 0, fittedLength(bytes, maxBytes), StandardCharsets.UTF_8);
    }

    /** How many of the UTF-8 {@code bytes} fit in {@code maxBytes}, cut between characters, never inside one. */
    static int fittedLength(byte[] bytes, int maxBytes) {
        if (bytes.length <= maxBytes) {
            return bytes.length;
        }
        int length = Math.max(0, maxBytes);
        while (length > 0 && (bytes[length] & 0xC0) == 0x80) {
            length--; // bytes[length], the first one left out, continues a character: leave that one out whole
        }
        return length;
    }

    /**
     * libtorch frees a node's saved variables right after its backward unless the graph is kept; the saved
     * tensors follow the same rule (a second backward then fails as libtorch's does).
     */
    private void releaseUnlessKept() {
        if (!torch.get_current_graph_task_keep_graph()) {
            context.release();
        }
    }

    /** Step 1 with hooks: the Java backward, run when the outputs' gradients arrive. */
    private void runBackward(TensorVector gradients, boolean keepGradOutputs) {
        releasePending();
        TensorVector keep;
        TensorVector gradOutputs = null;
        try (PointerScope scope = new PointerScope()) {
            // Our own references, in one vector: the results may point into memory freed when this hook returns.
            keep = Scopes.retained(new TensorVector(backward(gradients)));
            if (keepGradOutputs) {
                // Own references to the outputs' gradients, from libtorch's vector (backward nulls only its own Java
                // handles into it). Taken once backward has succeeded: a backward that throws leaves nothing behind on
                // this thread, and a backward that runs a nested backward through JavaFunction nodes (whose pre-hooks
                // call releasePending) cannot drop them before this node's post-hook.
                Tensor[] copies = new Tensor[(int) gradients.size()];
                for (int i = 0; i < copies.length; i++) {
                    copies[i] = new Tensor(gradients.get(i));
                }
                gradOutputs = Scopes.retained(new TensorVector(copies));
            }
        }
        PENDING.set(keep);
        if (gradOutputs != null) {
            PENDING_GRAD_OUTPUTS.set(gradOutputs);
        }
    }

    /**
     * The Java backward and the checks of its results: one gradient per input, undefined where the input gets
     * none, each of its input's shape, dtype and device. Allocates in the caller's scope.
     */
    private Tensor[] backward(TensorVector gradients) {
        Tensor[] gradOutputs = new Tensor[outputs.length];
        Tensor[] borrowed = new Tensor[outputs.length];
        try {
            for (int i = 0; i < gradOutputs.length; i++) {
                borrowed[i] = gradients.get(i);
                // Unused outputs get no gradient from libtorch; backward sees zeros, as in PyTorch.
                gradOutputs[i] = borrowed[i].defined() ? borrowed[i] : outputs[i].zeros();
            }
            Tensor[] result = function.backward(context, gradOutputs);
            if (result == null || result.length != inputs.length) {
                throw new IllegalStateException(function.name() + ".backward returned "
                        + (result == null ? "null" : result.length + " gradients") + " for " + inputs.length
                        + " inputs");
            }
            Tensor[] checked = new Tensor[result.length];
            for (int i = 0; i < result.length; i++) {
                if (result[i] != null && result[i].defined() && context.needsInputGrad(i)) {
                    inputs[i].check(result[i], function.name(), i);
                    // An output gradient passed on as it is gets a handle of its own, as the borrowed one (the same
                    // address: Pointer.equals) is nulled below.
                    checked[i] = Arrays.asList(borrowed).contains(result[i]) ? new Tensor(result[i]) : result[i];
                } else {
                    checked[i] = new Tensor();
                }
            }
            return checked;
        } finally {
            // The handles point into libtorch's vector of output gradients, which is freed or reused once this node
            // has run: one kept past backward would silently read whatever lies there next. Nulled, its use throws
            // NullPointerException ("This pointer address is NULL.").
            for (Tensor g : borrowed) {
                if (g != null) {
                    g.setNull();
                }
            }
        }
    }

    /** Step 3: hands the input gradients to libtorch. */
    private static TensorVector deliver(TensorVector carrierOutputs, TensorVector carrierInputs) {
        TensorVector gradOutputs = PENDING_GRAD_OUTPUTS.get();
        if (gradOutputs != null) {
            // libtorch passes the later post-hooks this very vector (its own, non-const list of the node's inputs).
            PENDING_GRAD_OUTPUTS.remove();
            carrierInputs.resize(gradOutputs.size());
            for (int i = 0; i < gradOutputs.size(); i++) {
                carrierInputs.put(i, gradOutputs.get(i));
            }
            gradOutputs.releaseReference();
        }
        TensorVector keep = PENDING.get();
        PENDING.remove();
        if (keep == null) {
            throw new IllegalStateException("JavaFunction post-hook ran without its pre-hook");
        }
        for (int i = 0; i < keep.size(); i++) {
            Tensor g = keep.get(i);
            if (g.defined()) {
                carrierOutputs.put(i, g);
            }
        }
        keep.releaseReference();
        return carrierOutputs;
    }

    /** Gradients left by a pre-hook whose node then failed before its post-hook ran. */
    private static void releasePending() {
        TensorVector stale = PENDING.get();
        if (stale != null) {
            PENDING.remove();
            stale.releaseReference();
        }
        TensorVector staleGradOutputs = PENDING_GRAD_OUTPUTS.get();
        if (staleGradOutputs != null) {
            PENDING_GRAD_OUTPUTS.remove();
            staleGradOutputs.releaseReference();
        }
    }

    private static final class PreHook extends FunctionPreHook {

        PreHook() {
            PEERS_MADE.incrementAndGet();
        }

        @Override
        public TensorVector apply(TensorVector gradients) {
            Running running = running();
            GradientNode record = running.record();
            // The node's backward lock, as in GradientNode.apply.
            synchronized (record.applying) {
                try {
                    if (running.preHooks() > 1) {
                        // libtorch runs pre-hooks in the order they were added: one added later
                        // (output.grad_fn().add_pre_hook) would be handed the undefined gradient ours gives the
                        // carrier, and what it returned would be ignored.
                        throw new IllegalStateException(record.function.name() + "'s node has a pre-hook besides its "
                                + "own (added with add_pre_hook), which cannot see or change its gradient where "
                                + "JavaFunction nodes run on hooks: add it with add_tensor_pre_hook, which runs before "
                                + "the node's own hooks");
                    }
                    // A user's post-hook follows ours: it must be handed the outputs' gradients (see deliver).
                    record.runBackward(gradients, running.postHooks() > 1);
                    record.releaseUnlessKept();
                } catch (Throwable e) {
                    // JavaCPP turns it into a C++ exception carrying this text; libtorch rethrows it to the caller.
                    throw fittedForJavaCpp(backwardFailed(record, e));
                }
            }
            return ONE_UNDEFINED;
        }
    }

    private static final class PostHook extends FunctionPostHook {

        PostHook() {
            PEERS_MADE.incrementAndGet();
        }

        @Override
        public TensorVector apply(TensorVector carrierOutputs, TensorVector carrierInputs) {
            return deliver(carrierOutputs, carrierInputs);
        }
    }

    /** What libtorch would check of a gradient: shape, dtype, device. Kept instead of the tensor itself. */
    private record Meta(long[] shape, ScalarType dtype, String device) {

        static Meta[] of(Tensor[] tensors) {
            Meta[] meta = new Meta[tensors.length];
            for (int i = 0; i < tensors.length; i++) {
                meta[i] = new Meta(TensorInfo.shape(tensors[i]), TensorInfo.dtype(tensors[i]),
                        TensorInfo.device(tensors[i]));
            }
            return meta;
        }

        void check(Tensor gradient, String function, int index) {
            if (!Arrays.equals(shape, TensorInfo.shape(gradient)) || TensorInfo.dtype(gradient) != dtype
                    || !device.equals(TensorInfo.device(gradient))) {
                throw new IllegalStateException(function + ".backward returned an invalid gradient for input "
                        + index + ": expected " + dtype + Arrays.toString(shape) + " on " + device + ", got "
                        + TensorInfo.describe(gradient));
            }
        }

        Tensor zeros() {
            TensorOptions options = new TensorOptions(dtype);
            if (!device.equals("cpu")) {
                options = options.device(new org.bytedeco.pytorch.DeviceOptional(new org.bytedeco.pytorch.Device(device)));
            }
            return torch.zeros(shape, options);
        }
    }
}
