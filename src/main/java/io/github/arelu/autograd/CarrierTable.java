package io.github.arelu.autograd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import io.github.arelu.internal.HostMemory;
import io.github.arelu.internal.LoadedLibraries;
import io.github.arelu.internal.NativeLibrary;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The carrier node's own virtual table: a copy of {@code CatBackward0}'s in which {@code apply}, {@code name}
 * and the two destructors are ours, so that libtorch's engine calls the Java backward directly, names the
 * node after its function ({@code AReLUBackward}, as PyTorch names a custom function's node) and tells us
 * when the node dies. This is how nodes are made when it is available; otherwise they fall back to hooks
 * ({@link HookPeers}), logged once.
 *
 * <p>Why: with hooks, every backward of a node crosses into Java twice through JavaCPP (the pre-hook runs the
 * backward, the post-hook hands its gradients over), asks libtorch which node is running, copies its inputs
 * for the post-hook and runs {@code CatBackward0}'s own backward on an undefined gradient, and every forward
 * adds two hooks. With our table a node's backward is one upcall, and forward writes one pointer.
 *
 * <p>How: the entries are functions of the native library ({@code arelu_node_functions}), since libtorch
 * calls them with a C++ member's calling convention and {@code apply} must raise a C++ exception when the
 * Java backward fails (an exception must not leave a Java upcall); they call the two upcalls here. What is
 * assumed and checked once, when this class loads: the JavaCPP and preset versions whose headers were read
 * ({@link VerifiedVersions}); that a node {@code cat} makes has
 * the virtual table that libtorch exports as {@code CatBackward0}'s (found with {@code dladdr}, so the
 * library is the very {@code libtorch_cpu} this process runs); the slot of {@code apply}, found by its
 * exported symbol. The destructors are slots 0 and 1 by the Itanium C++ ABI, since {@code Node} declares its
 * virtual destructor before any other virtual function; {@code apply}, declared last, ends the table, so
 * the copy ends there. {@code name()} is the next slot after the destructors, which is checked by calling it
 * on a carrier: it must give what bytedeco's {@code Node.name()} gives, in a {@code std::string} laid out as
 * libstdc++'s; otherwise nodes keep the carrier's name. {@code -D}{@value NodeSwitches#NODE}{@code =hooks} forces the hooks, for comparisons.
 */
final class CarrierTable {

    private static final System.Logger LOG = System.getLogger("io.github.arelu.autograd");
    private static final String TABLE_SYMBOL = "_ZTVN5torch8autograd9generated12CatBackward0E";
    private static final String APPLY_SYMBOL =
            "_ZN5torch8autograd9generated12CatBackward05applyEOSt6vectorIN2at6TensorESaIS5_EE";
    /** {@code torch::autograd::get_current_node()}: the node the engine evaluates on this thread, or null. */
    private static final String CURRENT_NODE_SYMBOL = "_ZN5torch8autograd16get_current_nodeEv";
    /** Offset to top and type info precede the functions; a virtual-table pointer points past them. */
    private static final int TABLE_PREFIX = 2;
    /** More functions than {@code Node} has (13 in libtorch 2.10): where the search for apply gives up. */
    private static final int MOST_SLOTS = 64;
    private static final int COMPLETE_DESTRUCTOR = 0;
    private static final int DELETING_DESTRUCTOR = 1;
    private static final int NAME = 2;
    /** libstdc++'s std::string: data pointer, length, then a 16-byte local buffer for short strings. */
    private static final int STRING_BYTES = 32;
    private static final int STRING_LOCAL = 16;
    /** arelu_node_functions' status when another copy of this library registered first (ARELU_ERR_ALREADY_REGISTERED). */
    private static final int ALREADY_REGISTERED = 7;

    /** Why nodes use hooks, or null when they use our table. */
    private static final String UNAVAILABLE;
    /** CatBackward0's virtual-table pointer and ours. */
    private static final long CARRIER_TABLE;
    private static final long OUR_TABLE;
    /**
     * {@code arelu_shared_ptr_points_to} and the address of {@link #CURRENT_NODE_SYMBOL}, which returns a {@code
     * std::shared_ptr} (not for Java to take or release); null and 0 where nodes use hooks.
     */
    private static final MethodHandle POINTS_TO;
    private static final MemorySegment CURRENT_NODE;
    /** Nodes with our table that libtorch has not destroyed yet. */
    private static final AtomicLong LIVE = new AtomicLong();

    static {
        String reason = null;
        long[] tables = null;
        if (NodeSwitches.hooksAskedFor()) {
            reason = "-D" + NodeSwitches.NODE + "=hooks";
        } else {
            try {
                reason = VerifiedVersions.problem();
                if (reason == null) {
                    tables = ourTable();
                }
            } catch (Throwable e) {
                reason = e.getMessage() != null ? e.getMessage() : e.toString();
            }
        }
        UNAVAILABLE = tables == null && reason == null ? "unknown" : reason;
        CARRIER_TABLE = tables == null ? 0 : tables[0];
        OUR_TABLE = tables == null ? 0 : tables[1];
        CURRENT_NODE = tables == null ? MemorySegment.NULL : MemorySegment.ofAddress(tables[2]);
        POINTS_TO = tables == null ? null : Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(tables[3]),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        if (UNAVAILABLE != null && !UNAVAILABLE.startsWith("-D")) {
            LOG.log(System.Logger.Level.WARNING, "JavaFunction nodes call their backward through hooks, "
                    + "two JNI upcalls per node: " + UNAVAILABLE);
        }
    }

    private CarrierTable() {
    }

    /** Whether nodes get our table; false means hooks. */
    static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Why nodes use hooks, or null. */
    static String unavailableReason() {
        return UNAVAILABLE;
    }

    /** How many nodes with our table libtorch holds. */
    static long liveNodes() {
        return LIVE.get();
    }

    /** Gives {@code node}, just made by {@code cat}, our table; its record must be findable by address. */
    static void install(long node) {
        long table = HostMemory.ALL.get(ValueLayout.JAVA_LONG, node);
        if (table != CARRIER_TABLE) {
            throw new IllegalStateException("the carrier node's virtual table is not CatBackward0's");
        }
        LIVE.incrementAndGet();
        HostMemory.ALL.set(ValueLayout.JAVA_LONG, node, OUR_TABLE);
    }

    /**
     * Whether libtorch's engine is evaluating the node at {@code node} on this thread, rather than a caller having
     * called it directly ({@code grad_fn().apply(...)}, possibly inside another node's backward). The engine frees a
     * node's saved variables after its backward for the nodes of its own graph task only, and a direct call frees
     * nothing. (A direct call made while the engine evaluates the same node, from one of its hooks, counts as the
     * engine's.)
     */
    static boolean evaluatedByEngine(long node) {
        int answer;
        try {
            answer = (int) POINTS_TO.invokeExact(CURRENT_NODE, MemorySegment.ofAddress(node));
        } catch (Throwable e) {
            throw new IllegalStateException("arelu_shared_ptr_points_to failed", e);
        }
        if (answer < 0) {
            throw new IllegalStateException("torch::autograd::get_current_node failed");
        }
        return answer == 1;
    }

    /** {@code apply}: the node's backward. Must not throw; a non-zero result makes libtorch raise the message. */
    private static int apply(MemorySegment node, MemorySegment gradients, MemorySegment results,
            MemorySegment message, long capacity) {
        try {
            GradientNode.apply(node.address(), gradients.address(), results.address());
            return 0;
        } catch (Throwable e) {
            try {
                putCString(e.getMessage() != null ? e.getMessage() : e.getClass().getName(), message, capacity);
            } catch (Throwable unwritable) {
                // Nothing may leave an upcall (the JVM would end). The native side left the message empty, and
                // then raises its own ("a Java autograd function's backward failed").
            }
            return 1;
        }
    }

    /**
     * {@code text} as a NUL-terminated UTF-8 string of at most {@code capacity} bytes: a NUL inside it written as
     * {@code \0} (C would end the text there), and a text too long cut before a character, never inside one.
     */
    static void putCString(String text, MemorySegment buffer, long capacity) {
        if (capacity <= 0) {
            return;
        }
        byte[] bytes = text.replace("\0", "\\0").getBytes(StandardCharsets.UTF_8);
        int length = GradientNode.fittedLength(bytes, (int) Math.min(Integer.MAX_VALUE, capacity - 1));
        MemorySegment target = buffer.reinterpret(capacity);
        MemorySegment.copy(bytes, 0, target, ValueLayout.JAVA_BYTE, 0, length);
        target.set(ValueLayout.JAVA_BYTE, length, (byte) 0);
    }

    /** {@code name()}: the function's name and "Backward", as PyTorch names a custom function's node. */
    private static void name(MemorySegment node, MemorySegment buffer, long capacity) {
        try {
            GradientNode record = LiveNodes.byNodeAddress(node.address());
            putCString((record == null ? "JavaFunction" : record.function().name()) + "Backward", buffer, capacity);
        } catch (Throwable e) {
            try {
                putCString("JavaFunctionBackward", buffer, capacity);
            } catch (Throwable unwritable) {
                // Nothing may leave an upcall; the native side started the name empty.
            }
        }
    }

    /** The node is being destroyed (libtorch's destructor runs next). Must not throw. */
    private static void died(MemorySegment node) {
        try {
            LIVE.decrementAndGet();
            LiveNodes.nodeDiedAt(node.address());
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.ERROR, "releasing a JavaFunction graph node failed", e);
        }
    }

    /**
     * CatBackward0's virtual-table pointer, our copy's, and the addresses of {@link #CURRENT_NODE_SYMBOL} (exported
     * by the same library) and of {@code arelu_shared_ptr_points_to}, by which apply asks it; throws naming what is
     * not as expected.
     */
    private static long[] ourTable() throws Throwable {
        Linker linker = Linker.nativeLinker();
        long carrier;
        boolean nameSlotChecked;
        try (PointerScope scope = new PointerScope()) {
            Tensor leaf = torch.empty(0).requires_grad_(true);
            Node node = torch.cat(new TensorVector(leaf)).grad_fn();
            carrier = MemorySegment.ofAddress(node.address()).reinterpret(Long.BYTES).get(ValueLayout.JAVA_LONG, 0);
            nameSlotChecked = nameSlotGives(linker, carrier, node.address(), node.name().getString());
        }
        long apply;
        long currentNode;
        try (Arena arena = Arena.ofConfined()) {
            // Which library and symbol the table belongs to: Dl_info {fname, fbase, sname, saddr}.
            MemorySegment info = arena.allocate(4 * Long.BYTES);
            MethodHandle dladdr = LoadedLibraries.libc(linker, "dladdr", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            if ((int) dladdr.invokeExact(MemorySegment.ofAddress(carrier), info) == 0) {
                throw new IllegalStateException("dladdr knows no library of the carrier node's virtual table");
            }
            String library = string(info.get(ValueLayout.ADDRESS, 0));
            String symbol = string(info.get(ValueLayout.ADDRESS, 2 * Long.BYTES));
            long start = info.get(ValueLayout.JAVA_LONG, 3 * Long.BYTES);
            if (!TABLE_SYMBOL.equals(symbol) || start != carrier - TABLE_PREFIX * Long.BYTES) {
                throw new IllegalStateException("the carrier node's virtual table is " + symbol + " in " + library
                        + ", not " + TABLE_SYMBOL);
            }
            apply = LoadedLibraries.address(library, APPLY_SYMBOL);
            currentNode = LoadedLibraries.address(library, CURRENT_NODE_SYMBOL);
        }
        long[] table = MemorySegment.ofAddress(carrier - TABLE_PREFIX * Long.BYTES)
                .reinterpret((long) (TABLE_PREFIX + MOST_SLOTS) * Long.BYTES).toArray(ValueLayout.JAVA_LONG);
        int applySlot = -1;
        for (int slot = DELETING_DESTRUCTOR + 1; slot < MOST_SLOTS && applySlot < 0; slot++) {
            if (table[TABLE_PREFIX + slot] == apply) {
                applySlot = slot;
            }
        }
        if (applySlot < 0 || table[0] != 0 || table[1] == 0) {
            throw new IllegalStateException("CatBackward0's virtual table does not have the expected layout");
        }

        MethodHandle applyUpcall = MethodHandles.lookup().findStatic(CarrierTable.class, "apply",
                MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, MemorySegment.class,
                        MemorySegment.class, long.class));
        MethodHandle diedUpcall = MethodHandles.lookup().findStatic(CarrierTable.class, "died",
                MethodType.methodType(void.class, MemorySegment.class));
        MemorySegment applyStub = linker.upcallStub(applyUpcall, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG), Arena.global());
        MemorySegment diedStub = linker.upcallStub(diedUpcall, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS),
                Arena.global());
        MethodHandle nameUpcall = MethodHandles.lookup().findStatic(CarrierTable.class, "name",
                MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class, long.class));
        MemorySegment nameStub = linker.upcallStub(nameUpcall, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), Arena.global());
        MethodHandle functions = linker.downcallHandle(NativeLibrary.symbol("arelu_node_functions"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        long[] ours = new long[4];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, ours.length);
            int status = (int) functions.invokeExact(applyStub, nameStub, diedStub,
                    MemorySegment.ofAddress(table[TABLE_PREFIX + COMPLETE_DESTRUCTOR]),
                    MemorySegment.ofAddress(table[TABLE_PREFIX + DELETING_DESTRUCTOR]), out);
            if (status == ALREADY_REGISTERED) {
                // The loaded library's callbacks serve one copy of this library per process: the first.
                throw new IllegalStateException("another copy of this library in the process (one of another class "
                        + "loader) registered the native node functions first");
            }
            if (status != 0) {
                throw new IllegalStateException("arelu_node_functions failed with status " + status);
            }
            MemorySegment.copy(out, ValueLayout.JAVA_LONG, 0, ours, 0, ours.length);
        }
        long[] copy = java.util.Arrays.copyOf(table, TABLE_PREFIX + applySlot + 1);
        copy[TABLE_PREFIX + applySlot] = ours[0];
        copy[TABLE_PREFIX + COMPLETE_DESTRUCTOR] = ours[1];
        copy[TABLE_PREFIX + DELETING_DESTRUCTOR] = ours[2];
        if (nameSlotChecked) {
            copy[TABLE_PREFIX + NAME] = ours[3];
        }
        MemorySegment segment = Arena.global().allocate(ValueLayout.JAVA_LONG, copy.length);
        MemorySegment.copy(copy, 0, segment, ValueLayout.JAVA_LONG, 0, copy.length);
        return new long[] {carrier, segment.address() + TABLE_PREFIX * Long.BYTES, currentNode,
            NativeLibrary.symbol("arelu_shared_ptr_points_to").address()};
    }

    /**
     * Whether the function in slot {@link #NAME} of the table at {@code table}, called on {@code node} as
     * {@code std::string name() const} (the returned string through a hidden pointer, then {@code this}),
     * gives {@code expected} as libstdc++ lays a string out.
     */
    private static boolean nameSlotGives(Linker linker, long table, long node, String expected) throws Throwable {
        long function = MemorySegment.ofAddress(table).reinterpret((NAME + 1) * Long.BYTES)
                .get(ValueLayout.JAVA_LONG, NAME * Long.BYTES);
        MethodHandle name = linker.downcallHandle(MemorySegment.ofAddress(function),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        byte[] bytes = expected.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= STRING_LOCAL) {
            // A longer name would be on the heap, to be freed with libstdc++'s operator delete: not checked.
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment string = arena.allocate(STRING_BYTES, Long.BYTES);
            name.invokeExact(string, MemorySegment.ofAddress(node));
            long data = string.get(ValueLayout.JAVA_LONG, 0);
            long length = string.get(ValueLayout.JAVA_LONG, Long.BYTES);
            return data == string.address() + STRING_LOCAL && length == bytes.length
                    && java.util.Arrays.equals(bytes, string.asSlice(STRING_LOCAL, length).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    private static String string(MemorySegment text) {
        return text.address() == 0 ? "an unnamed symbol" : text.reinterpret(4096).getString(0);
    }
}
