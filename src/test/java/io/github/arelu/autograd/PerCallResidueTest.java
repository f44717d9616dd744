package io.github.arelu.autograd;

import static io.github.arelu.Tensors.backward;
import static io.github.arelu.Tensors.doubles;
import static io.github.arelu.Tensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Nothing of a call outlives its node: after thousands of calls whose graphs were run and released,
 * dropped without backward, or kept with {@code retain_graph} then dropped, the counts of everything made
 * per call are back where they started: live nodes (records, saved tensors), nodes with our virtual table
 * and hook objects that libtorch owns (counted as libtorch destroys them), JavaCPP peers with their JNI
 * weak references, and JavaCPP objects awaiting deallocation. Run with {@code
 * -Dio.github.arelu.autograd.node=hooks} too (the build's second test run), where nodes have hooks.
 */
class PerCallResidueTest {

    private static final int CALLS = 2000;

    /**
     * Calls of each kind of graph life in turn, each in the scope of a training step; returns how many
     * backward passes ran.
     */
    private static int calls(Tensor x, Tensor w, Tensor c) {
        int backwards = 0;
        for (int i = 0; i < CALLS; i++) {
            try (PointerScope step = new PointerScope()) {
                Tensor[] out = new JavaFunctionTest.AffineAndSquare().apply(x, w, c);
                switch (i % 3) {
                    case 0 -> {
                        backward(out[0].sum(), false);
                        backwards++;
                    }
                    case 1 -> { } // dropped without backward
                    default -> {
                        Tensor loss = out[0].add(out[1]).sum();
                        backward(loss, true);
                        backward(loss, false);
                        backwards += 2;
                    }
                }
            }
        }
        return backwards;
    }

    @Test
    void nothingMadePerCallOutlivesTheNode() {
        // Either the table, or the hooks because the build's second run asked for them.
        assertEquals("hooks".equals(System.getProperty(NodeSwitches.NODE)), !CarrierTable.available(),
                "nodes should get our virtual table unless told otherwise: " + CarrierTable.unavailableReason());
        assertTrue(HookPeers.shared(), "this platform's JavaCPP peers should pass the layout check");
        try (PointerScope scope = new PointerScope()) {
            Tensor x = doubles(1, -2, 3).requires_grad_(true);
            Tensor w = doubles(2).requires_grad_(true);
            Tensor c = doubles(1).requires_grad_(true);
            calls(x, w, c); // warm-up: classes, libtorch's lazily made objects
            x.mutable_grad().reset();
            w.mutable_grad().reset();
            int nodes = JavaFunction.liveNodeCount();
            long ownTables = CarrierTable.liveNodes();
            long hooks = HookPeers.liveHooks();
            long peers = GradientNode.hookPeersMade();
            long javacpp = Pointer.totalCount();

            int backwards = calls(x, w, c);

            assertEquals(nodes, JavaFunction.liveNodeCount(), "live JavaFunction nodes");
            assertEquals(ownTables, CarrierTable.liveNodes(), "nodes with our virtual table libtorch still holds");
            assertEquals(hooks, HookPeers.liveHooks(), "hook objects libtorch still holds");
            assertEquals(peers, GradientNode.hookPeersMade(), "JavaCPP hook peers (JNI weak references) made");
            assertEquals(javacpp, Pointer.totalCount(), "JavaCPP objects awaiting deallocation");
            // The calls did run: each backward added sum(x) = 2 to w's gradient.
            assertArrayEquals(new double[] {2.0 * backwards}, values(w.grad()), 1e-9);
        }
    }

    @Test
    void aLiveGraphHoldsItsNodesUntilItIsReleased() {
        boolean ownTable = CarrierTable.available();
        try (PointerScope scope = new PointerScope()) {
            Tensor x = doubles(1, 2).requires_grad_(true);
            long ownTables = CarrierTable.liveNodes();
            long hooks = HookPeers.liveHooks();
            int nodes = JavaFunction.liveNodeCount();
            Tensor kept;
            try (PointerScope step = new PointerScope()) {
                Tensor y = x;
                for (int i = 0; i < 5; i++) {
                    y = new JavaFunctionTest.AffineAndSquare().apply(y, doubles(1), doubles(0))[0];
                }
                kept = y.sum();
                step.detach(kept.retainReference());
            }
            // Each node has our table, or two hooks.
            assertEquals(ownTables + (ownTable ? 5 : 0), CarrierTable.liveNodes());
            assertEquals(hooks + (ownTable ? 0 : 10), HookPeers.liveHooks());
            assertEquals(nodes + 5, JavaFunction.liveNodeCount());
            kept.releaseReference();
            assertEquals(ownTables, CarrierTable.liveNodes());
            assertEquals(hooks, HookPeers.liveHooks());
            assertEquals(nodes, JavaFunction.liveNodeCount());
        }
    }
}
