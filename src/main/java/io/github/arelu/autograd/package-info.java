/**
 * Autograd functions written in Java for bytedeco's libtorch presets: {@link io.github.arelu.autograd.JavaFunction}
 * records one node of libtorch's autograd graph per call, whose forward and backward are Java code (for
 * instance calls of fused native kernels). Nothing here knows about AReLU; {@code io.github.arelu} is one user.
 *
 * <h2>How the node is built</h2>
 * bytedeco maps libtorch's graph API but cannot subclass {@code torch::autograd::Node}. A call therefore
 * takes a "carrier" node from a tiny libtorch operation ({@code cat} of zero-element tensors), clears its
 * input metadata, points its next edges at the inputs' gradient edges ({@code set_next_edges}), makes it the
 * {@code grad_fn} of the outputs ({@code create_gradient_edge}), and adds a Java pre-hook and post-hook
 * ({@code FunctionPreHook}, {@code FunctionPostHook}: JavaCPP classes whose virtual calls reach Java). The
 * pre-hook runs the Java backward and hands the carrier an undefined gradient, so its own backward produces
 * nothing; the post-hook hands libtorch the Java gradients. Everything else (graph traversal, gradient
 * accumulation, {@code retain_graph}, {@code create_graph}, {@code torch::autograd::grad}, threads) is
 * libtorch's own engine.
 *
 * <h2>Lifetime</h2>
 * The C++ hooks belong to the node and die with it. Their Java objects, the function and its
 * {@link io.github.arelu.autograd.FunctionContext} are held by a registry until libtorch destroys the node;
 * saved tensors are freed when libtorch would free its own saved variables: right after the node's backward
 * unless the graph is kept ({@code retain_graph}, which the pre-hook reads from libtorch's current graph task),
 * or when the node is destroyed. The node's destruction is observed through the storage deleter of a
 * zero-element sentinel tensor behind the node's last edge (see {@code LiveNodes}). A graph dropped without
 * backward, a module closed, {@code System.gc()} and several threads need nothing from the caller;
 * {@link io.github.arelu.autograd.JavaFunction#liveNodeCount()} shows how many nodes are alive.
 *
 * <h2>Limits</h2>
 * <ul>
 *   <li>{@code node.name()} of such a node is the carrier's, {@code CatBackward0};
 *       {@link io.github.arelu.autograd.JavaFunction#functionOf} tells which function made it.</li>
 *   <li>Forward must return new tensors: outputs that are inputs or views of inputs (in-place functions)
 *       are refused. Save inputs, not outputs: a saved output would keep its own node alive.</li>
 *   <li>Per call the carrier costs a few small libtorch operations (about 10-20 microseconds on one CPU core
 *       here) and one weak JNI reference per hook that JavaCPP never deletes (about 10 bytes each, two per
 *       recorded call).</li>
 *   <li>An exception in backward reaches the caller of {@code backward()} as a {@code RuntimeException} whose
 *       message carries the original's class and message (JavaCPP passes text, not the exception object).</li>
 * </ul>
 */
package io.github.arelu.autograd;
