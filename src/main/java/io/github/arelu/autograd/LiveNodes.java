package io.github.arelu.autograd;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.github.arelu.internal.Scopes;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.PointerConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The graph nodes of {@link JavaFunction}s that are alive, and how we learn that libtorch dropped them.
 *
 * <p>A node's record (function, saved tensors, and in the fallback its hooks' Java objects) must stay
 * strongly reachable for as long as the node may run, and no longer. libtorch gives no callback when a node
 * dies; {@link #nodeDiedAt} is called instead by the node's destructor in our virtual table
 * ({@link CarrierTable}), or, with hooks, {@link #nodeDied} by the deleting destructor of the node's own
 * pre-hook object ({@link HookPeers}). In the fallback to JavaCPP's peers as hooks, each node points at a <em>lifetime
 * sentinel</em> instead: a zero-element leaf tensor made with {@code from_blob} over a fake address that
 * encodes the node's key, whose storage deleter calls back into Java. The sentinel is held by its
 * AccumulateGrad node, which the carrier node points to, so its storage dies exactly when the carrier node
 * is destroyed.
 */
final class LiveNodes {

    private static final System.Logger LOG = System.getLogger("io.github.arelu.autograd");
    private static final Map<Long, GradientNode> BY_KEY = new ConcurrentHashMap<>();
    private static final Map<Long, GradientNode> BY_NODE_ADDRESS = new ConcurrentHashMap<>();
    /** Keys are multiples of 16, so the fake addresses look like aligned ones. */
    private static final AtomicLong NEXT_KEY = new AtomicLong(16);
    /** One deleter for every sentinel: a JavaCPP callback is a scarce native trampoline. Never freed. */
    private static final SentinelDeleter DELETER;

    static {
        try (PointerScope scope = new PointerScope()) {
            DELETER = Scopes.retained(new SentinelDeleter());
        }
    }

    private LiveNodes() {
    }

    /** Registers a record before its sentinel exists (the deleter may run as soon as it does); returns its key. */
    static long register(GradientNode record) {
        long key = NEXT_KEY.getAndAdd(16);
        BY_KEY.put(key, record);
        return key;
    }

    /** Makes the record findable from its libtorch node (for {@link JavaFunction#functionOf}). */
    static void indexNode(long nodeAddress, GradientNode record) {
        BY_NODE_ADDRESS.put(nodeAddress, record);
    }

    static GradientNode byNodeAddress(long nodeAddress) {
        return BY_NODE_ADDRESS.get(nodeAddress);
    }

    static int count() {
        return BY_KEY.size();
    }

    /** A zero-element float leaf requiring grad whose storage reports the death of the node that holds it. */
    static Tensor lifetimeSentinel(long key) {
        // Never dereferenced: the tensor has no elements. Its only purpose is the deleter call.
        Pointer data = new Pointer() {
            {
                address = key;
            }
        };
        return torch.from_blob(data, new long[] {0}, DELETER).requires_grad_(true);
    }

    /** The node at {@code nodeAddress} died: drops its record, if it has one. */
    static void nodeDiedAt(long nodeAddress) {
        GradientNode record = BY_NODE_ADDRESS.get(nodeAddress);
        if (record != null) {
            nodeDied(record.key());
        }
    }

    /**
     * The node registered under {@code key} died: drops its record (hooks, saved tensors, function). The record
     * leaves the registry at once (libtorch may give the node's address to a new node as soon as this returns);
     * its release goes through {@link #release}.
     */
    static void nodeDied(long key) {
        GradientNode record = BY_KEY.remove(key);
        if (record != null) {
            BY_NODE_ADDRESS.remove(record.nodeAddress(), record);
            record.forgetNode();
            release(record);
        }
    }

    /**
     * Releases a dead node's record, and the records of the nodes that die of it, one after another. Releasing
     * saved tensors can destroy the nodes that made them (a chain of calls, each saving the last one's output,
     * as a network's layers do), whose deaths call back in here from inside libtorch's destructor: releasing them
     * there would recurse once per node down the chain, and a graph of a few hundred calls dropped without
     * backward overflowed the stack inside an upcall, which ends the process. So a death during a release on the
     * same thread is only queued, and the outermost release works the queue off, as libtorch deletes its own
     * chains of nodes iteratively.
     */
    private static void release(GradientNode record) {
        Releases releases = RELEASES.get();
        releases.pending.add(record);
        if (releases.running) {
            return;
        }
        releases.running = true;
        try {
            for (GradientNode next = releases.pending.poll(); next != null; next = releases.pending.poll()) {
                try {
                    next.releaseAll();
                } catch (RuntimeException | Error e) {
                    // One record's failure must not keep the rest of the queue alive.
                    LOG.log(System.Logger.Level.ERROR, "releasing a JavaFunction graph node failed", e);
                }
            }
        } finally {
            releases.running = false;
        }
    }

    /** This thread's records waiting to be released, and whether a release is running on it. */
    private static final class Releases {
        final ArrayDeque<GradientNode> pending = new ArrayDeque<>();
        boolean running;
    }

    private static final ThreadLocal<Releases> RELEASES = ThreadLocal.withInitial(Releases::new);

    /** Runs inside libtorch's storage destructors: it must never throw (that would terminate the process). */
    private static final class SentinelDeleter extends PointerConsumer {
        @Override
        public void call(Pointer data) {
            try {
                nodeDied(data.address());
            } catch (Throwable e) {
                LOG.log(System.Logger.Level.ERROR, "releasing a JavaFunction graph node failed", e);
            }
        }
    }
}
