package io.github.arelu.autograd;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.arelu.internal.Scopes;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.TensorVector;

/**
 * Empty native tensor vectors, kept for the next call instead of freed: every call of a {@link JavaFunction}
 * needs two (the carrier's inputs, the saved tensors).
 *
 * <p>Why: JavaCPP registers each native object it owns with its deallocator, and while
 * {@code org.bytedeco.javacpp.maxPhysicalBytes} is positive (its default) each registration reads the
 * process's resident size from {@code /proc/self/statm}, a system call that cost 1 to 5 us on the hosts
 * measured (jmh/README.md). A vector taken from here was registered once, when first made.
 *
 * <p>A vector is given back empty, so it holds no tensor while it waits; at most {@link #MOST_KEPT} wait,
 * about as many as the nodes alive at once in a large graph, and the rest are freed.
 */
final class TensorVectorPool {

    static final int MOST_KEPT = 4096;

    private static final ConcurrentLinkedQueue<TensorVector> KEPT = new ConcurrentLinkedQueue<>();
    private static final AtomicInteger KEPT_COUNT = new AtomicInteger();

    private TensorVectorPool() {
    }

    /** An empty vector, owned by the caller until {@link #giveBack}; no scope of the caller's holds it. */
    static TensorVector take() {
        TensorVector vector = KEPT.poll();
        if (vector != null) {
            KEPT_COUNT.decrementAndGet();
            return vector;
        }
        try (PointerScope scope = new PointerScope()) {
            return Scopes.retained(new TensorVector());
        }
    }

    /** Empties {@code vector} (releasing its tensors) and keeps it for a later {@link #take}, or frees it. */
    static void giveBack(TensorVector vector) {
        vector.clear();
        if (KEPT_COUNT.incrementAndGet() <= MOST_KEPT) {
            KEPT.offer(vector);
        } else {
            KEPT_COUNT.decrementAndGet();
            vector.releaseReference();
        }
    }
}
