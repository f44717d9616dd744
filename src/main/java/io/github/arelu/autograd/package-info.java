/**
 * Autograd functions written in Java for bytedeco's libtorch presets: {@link io.github.arelu.autograd.JavaFunction}
 * records one node of libtorch's autograd graph per call, whose forward and backward are Java code (for
 * instance calls of fused native kernels). Nothing here knows about AReLU; {@code io.github.arelu} is one user.
 *
 * <h2>How the node is built</h2>
 * bytedeco maps libtorch's graph API but cannot subclass {@code torch::autograd::Node}. A call therefore
 * takes a "carrier" node from a tiny libtorch operation ({@code cat} of zero-element tensors and small
 * parameters), clears its input metadata, points its next edges at the inputs' gradient edges
 * ({@code set_next_edge}) and makes it the {@code grad_fn} of the outputs ({@code create_gradient_edge}).
 * Then it gives the node a virtual table of our own ({@code CarrierTable}): a copy of {@code CatBackward0}'s
 * whose {@code name} is the function's and whose {@code apply} calls the Java backward (one upcall; a Java failure becomes a C++ exception that
 * libtorch hands to the caller of {@code backward()}) and whose destructors report the node's death. The
 * entries are four small functions of the native library with a C++ member's calling convention
 * ({@code arelu_node_functions}); the table's class, library and the slot of {@code apply} are checked
 * against libtorch's exported symbols once, at start-up. libtorch then checks the returned gradients as it
 * checks any node's. Everything else (graph traversal, gradient accumulation, {@code retain_graph},
 * {@code create_graph}, {@code torch::autograd::grad}, threads) is libtorch's engine.
 *
 * <p>Where the table is unavailable (another JavaCPP or preset version, no native library for the
 * platform, a check that fails, a second copy of this library in the process, say in another class loader, whose
 * native library the first copy's table already serves; logged once) or {@code -Dio.github.arelu.autograd.node=hooks} asks for it,
 * nodes get a pre-hook and a post-hook ({@code FunctionPreHook}, {@code FunctionPostHook}) instead: the
 * pre-hook runs the Java backward and hands the carrier an undefined gradient, so its own backward produces
 * nothing; the post-hook hands libtorch the Java gradients. A user's pre-hook on such a node
 * ({@code output.grad_fn().add_pre_hook}) would run after ours, on that undefined gradient, and what it returned
 * would be ignored: the backward refuses to run and says to use {@code add_tensor_pre_hook} on the output instead,
 * which runs before the node's hooks.
 * A user's post-hook ({@code output.grad_fn().add_post_hook}) runs after ours; libtorch hands post-hooks the node's
 * inputs as the pre-hooks left them, the undefined gradient, so ours puts the outputs' real gradients back into that
 * list first, where the node has a post-hook besides its own.
 *
 * <p>Each call's two native vectors (the carrier's inputs, the saved tensors) come from a pool: JavaCPP
 * reads {@code /proc/self/statm} for every native object it registers (while
 * {@code org.bytedeco.javacpp.maxPhysicalBytes} is positive, its default), a system call that costs more
 * than most of a call's libtorch operations.
 *
 * <h2>Hooks without a JavaCPP peer per call (the fallback)</h2>
 * A Java subclass of a hook class is backed by a C++ peer that JavaCPP generates: it derives from the hook
 * class, adds one field, {@code jobject obj}, a JNI weak global reference to the Java object, and overrides
 * {@code operator()} to call the Java method through it. JavaCPP deletes that reference only in the peer's
 * Java-side deallocator; once libtorch owns the hook (it takes a {@code unique_ptr}), JavaCPP gives up the
 * Java object's ownership, and libtorch later deletes the peer with its implicit destructor, which leaves the
 * reference behind. One peer per hook per call thus left two weak references per recorded call in the JVM's
 * JNI weak-handle table for ever (about 20-28 bytes a call, and a table that every garbage collection walks).
 *
 * <p>So the hooks libtorch owns are not JavaCPP peers. Two Java hooks live as long as the process; each node
 * gets two small C++ objects of our own making ({@code HookPeers}), laid out as a peer, {@code {vptr, obj}},
 * plus the node's key: {@code obj} is the long-lived hook's reference, so libtorch's call reaches the shared
 * Java hook, which finds its node with libtorch's {@code get_current_node()}; {@code vptr} points at a copy of
 * the peer class's virtual table whose deleting destructor is a {@code java.lang.foreign} upcall, so libtorch
 * destroying the node tells us so, and the object is freed there. The peer layout (JavaCPP and preset
 * versions, {@code sizeof} of the hook classes, the number of virtual functions, two peers sharing a virtual
 * table with distinct references) is checked once at start-up; if it differs, nodes fall back to one JavaCPP
 * peer per hook, with the retention above, and a warning is logged once ({@code
 * -Dio.github.arelu.autograd.perCallHooks=true} forces that fallback where nodes have hooks, for comparisons:
 * with {@code -Dio.github.arelu.autograd.node=hooks}, or where the virtual table is unavailable). In the fallback, a
 * zero-element sentinel leaf behind the node's last edge, whose storage deleter calls back, reports the
 * node's death instead.
 *
 * <h2>Lifetime</h2>
 * The node's destructor (or, with hooks, the hooks' own, which die with the node) reports its death. The
 * function and its {@link io.github.arelu.autograd.FunctionContext} are held by a registry until libtorch
 * destroys the node; saved tensors are freed when libtorch would free its own saved variables: right after
 * the node's backward unless the graph is kept ({@code retain_graph}, which the backward reads from
 * libtorch's current graph task), where the engine runs the node (a node called directly, {@code
 * grad_fn().apply(...)}, frees nothing, as libtorch's own; with hooks such a call runs the carrier's backward, see
 * below), or when the node is destroyed. A graph dropped without backward, a module closed, {@code System.gc()} and
 * several threads need nothing from the caller. A backward may hand work that reads its {@link
 * io.github.arelu.autograd.FunctionContext} to other threads and wait for it (there, as in libtorch, grad mode is
 * that thread's, and {@code needsInputGrad} knows no running backward);
 * {@link io.github.arelu.autograd.JavaFunction#liveNodeCount()} shows how many nodes are alive. Nothing made for a
 * call outlives its node.
 *
 * <h2>The JavaCPP change that would make our own hook objects unnecessary</h2>
 * JavaCPP's generator ({@code Generator.java}) emits, for each class with {@code @Virtual} functions,
 * {@code class JavaCPP_X : public X { public: jobject obj; ... }} without a destructor, and deletes
 * {@code obj} (with {@code DeleteWeakGlobalRef}) only in {@code JavaCPP_..._deallocate}, the Java-side
 * deallocator. The fix: give the generated class a destructor that deletes its reference, e.g.
 * {@code ~JavaCPP_X() { JNIEnv* e; bool a = JavaCPP_getEnv(&e); if (e != NULL && obj != NULL)
 * e->DeleteWeakGlobalRef((jweak)obj); JavaCPP_detach(a); }}, and drop the explicit delete from the
 * deallocator (which then only does {@code delete (JavaCPP_X*)p}), so the reference goes whoever deletes the
 * peer, C++ or Java. Minimal reproduction, with bytedeco's PyTorch presets: in a loop, {@code Node n =
 * torch.cat(new TensorVector(torch.ones(1).requires_grad_(true))).grad_fn(); n.add_pre_hook(new
 * FunctionPreHook() { public TensorVector apply(TensorVector g) { return g; } });} inside a
 * {@code PointerScope}, each graph dropped at once: libtorch deletes every peer, yet the JVM's weak handles
 * grow by one an iteration (here, resident size after two full GCs grew by 8.4 MiB from 200 000 to 1 000 000
 * iterations, 11 bytes each; {@code jmh/README.md} has the same growth, and GC pauses, for AReLU's node
 * with one JavaCPP peer per hook). With that destructor, {@code HookPeers} could go:
 * one JavaCPP peer per hook would then leave nothing behind.
 *
 * <h2>Empty {@code shared_ptr} results, and the JavaCPP change that would make them safe</h2>
 * JavaCPP's {@code SharedPtrAdapter} hands a function's {@code std::shared_ptr} result to Java through a copy
 * on the heap ({@code owner = new S(sharedPtr)} in its conversion to a raw pointer), made even when the
 * pointer is empty; the generated code frees that copy only through the Java object it makes, and makes none
 * for an empty pointer. Every call that returns an empty {@code shared_ptr} thus leaks 16 bytes of native
 * memory: {@code grad_fn()} of a leaf, {@code ForwardADLevel.try_get_by_idx(0)} while no forward-mode AD level
 * is open. Measured with bytedeco 1.5.13 under tcmalloc: 15.5 MiB per million calls of either, linearly over 12
 * million. So a node never asks for a leaf's {@code grad_fn()} (a leaf's edge comes from {@code is_leaf()} and a
 * view), and whether a forward-mode level is open is asked of libtorch through the native library
 * ({@code arelu_shared_ptr_is_set}). Until 2026-12-07 every call whose inputs included a leaf other than a small
 * 1-D CPU one (an input that requires grad, CUDA parameters, channel-wise parameters shaped {@code [C, 1, 1]})
 * left 16 bytes per such input ({@code jmh/soak --channels 4} in {@code jmh/README.md}). The fix upstream, in
 * {@code Generator.java}: allocate the owner only for a set pointer ({@code if (ptr != NULL && (owner == NULL
 * || owner == ptr))}), or free it where the generated code finds {@code rptr == NULL}. Minimal reproduction:
 * {@code Tensor leaf = torch.ones(1).requires_grad_(true);} then, in a loop, {@code try (PointerScope s = new
 * PointerScope()) { leaf.grad_fn(); }}: 16 bytes allocated and never freed an iteration (about 32 of resident size
 * under glibc's {@code malloc}, whose smallest block is 32 bytes). The tests count such leaks: a JVM with tcmalloc
 * preloaded reads tcmalloc's count of allocated bytes around windows of calls of each kind a training run makes
 * ({@code PerCallNativeHeapTest}); the old {@code grad_fn()} leak showed there as 16 and 32 bytes a call.
 *
 * <h2>Limits</h2>
 * <ul>
 *   <li>{@code node.name()} of such a node is the function's {@code name()} and {@code Backward}, such as
 *       {@code AReLUBackward}; with hooks it is the carrier's, {@code CatBackward0}.
 *       {@link io.github.arelu.autograd.JavaFunction#functionOf} tells which function made an output's node.</li>
 *   <li>Forward must return new tensors: outputs that are inputs or views of inputs (in-place functions)
 *       are refused. Save inputs, not outputs: a saved output (or a view of one) would keep its own node
 *       alive, and is refused; its detached alias ({@code out.detach()}) is accepted, for a backward that is not
 *       itself differentiated.</li>
 *   <li>With hooks, the node's own backward is the carrier's: hooks run only inside libtorch's engine, so calling
 *       the node directly ({@code output.grad_fn().apply(gradients)}, outside {@code backward()} and
 *       {@code torch::autograd::grad}) runs {@code cat}'s backward and returns slices of the gradient, not the
 *       function's gradients. With the node's own virtual table it returns the function's.</li>
 *   <li>Backward calls of one node from several threads (a retained graph) run one at a time, as libtorch's own
 *       nodes do.</li>
 *   <li>Per call the carrier costs a few small libtorch operations (a {@code cat} of zero- and one-element
 *       tensors, setting edges) and one upcall in backward (two JNI upcalls with hooks); see
 *       {@code jmh/README.md} for figures.</li>
 *   <li>An exception in backward reaches the caller of {@code backward()} as a {@code RuntimeException} whose
 *       message carries the original's class and message (JavaCPP passes text, not the exception object).</li>
 *   <li>Virtual threads: libtorch keeps grad mode and its other thread-local state per OS thread. {@code apply}
 *       runs forward (grad mode off) on one OS thread throughout, also on a virtual thread that blocks in it:
 *       there inside a call of the native library that calls back ({@code arelu_call_back}), since a native
 *       frame keeps a virtual thread on its carrier; without the native library, {@code apply} refuses virtual
 *       threads. So a forward that blocks holds its carrier meanwhile (JFR's {@code jdk.VirtualThreadPinned}),
 *       and one that waits for other virtual threads can starve the scheduler, which has as many carriers as
 *       cores. Your own code that sets thread-local libtorch state ({@code NoGradGuard},
 *       {@code InferenceMode}) and then blocks on a virtual thread meets the same problem.</li>
 * </ul>
 */
package io.github.arelu.autograd;
