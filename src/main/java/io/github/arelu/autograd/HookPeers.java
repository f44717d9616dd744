package io.github.arelu.autograd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The C++ hook objects that graph nodes own, made without a JavaCPP peer (and its JNI weak reference) per
 * node.
 *
 * <p>Why: a Java subclass of {@code FunctionPreHook} or {@code FunctionPostHook} is backed by a C++ peer
 * that JavaCPP generates, {@code class JavaCPP_..._FunctionPreHook : public FunctionPreHook { jobject obj; ... }},
 * whose {@code obj} is a JNI weak global reference to the Java object; its virtual {@code operator()} calls
 * the Java {@code apply} through that reference. JavaCPP deletes the reference only in its Java-side
 * deallocator, and libtorch, which owns the hooks it is given, deletes the peer with the peer's implicit
 * destructor: one weak reference per hook stays behind forever (the JNI weak-handle table grows by two
 * entries a recorded call, and every garbage collection walks it).
 *
 * <p>What we do instead: one Java hook object of each kind lives as long as the process (its peer is the
 * template), and each node gets a bitwise copy of the template peer, allocated with C++'s global
 * {@code operator new}: the same virtual table, so libtorch calls the same {@code operator()} and later
 * deletes the copy with the peer's destructor, and the same weak reference, which stays valid because the
 * template's Java object never dies. A copy holds no reference of its own, so deleting it leaves nothing
 * behind. The shared Java hook finds the node it serves with libtorch's {@code get_current_node()}.
 *
 * <p>This relies on the peer's layout: the base's virtual-table pointer then {@code obj}, 16 bytes, with an
 * implicit destructor. That is checked once, when this class loads: JavaCPP's version is the one whose
 * generated peers were read ({@value #VERIFIED_JAVACPP}), the bases hold nothing but a virtual-table pointer
 * (JavaCPP's own {@code sizeof}), two peers of one class share a virtual table and hold distinct references,
 * and {@code operator new} is found. Otherwise the nodes fall back to one JavaCPP peer per hook, logged once.
 */
final class HookPeers {

    /** The JavaCPP release whose generated @Virtual peers (Generator: class body, deallocator) were checked. */
    static final String VERIFIED_JAVACPP = "1.5.13";
    /** Forces one JavaCPP peer per hook (the fallback), for comparisons. */
    static final String PER_CALL_PROPERTY = "io.github.arelu.autograd.perCallHooks";

    private static final System.Logger LOG = System.getLogger("io.github.arelu.autograd");
    /** Base class with only a virtual-table pointer, then {@code jobject obj}. */
    private static final long PEER_BYTES = 2 * Long.BYTES;

    /** Why shared peers are not used, or null when they are. */
    private static final String UNAVAILABLE;
    /** {@code void* operator new(size_t)}, from the process's global scope (tcmalloc's when it is preloaded). */
    private static final MethodHandle OPERATOR_NEW;

    static {
        String reason = null;
        MethodHandle operatorNew = null;
        try {
            reason = layoutProblem();
            if (reason == null) {
                operatorNew = globalOperatorNew();
                if (operatorNew == null) {
                    reason = "C++'s operator new (_Znwm) was not found";
                }
            }
        } catch (Throwable e) {
            reason = "checking JavaCPP's hook peers failed: " + e;
        }
        if (Boolean.getBoolean(PER_CALL_PROPERTY)) {
            reason = "-D" + PER_CALL_PROPERTY + "=true";
        }
        UNAVAILABLE = reason;
        OPERATOR_NEW = reason == null ? operatorNew : null;
        if (reason != null) {
            LOG.log(System.Logger.Level.WARNING, "JavaFunction nodes use one JavaCPP hook peer per call, whose JNI "
                    + "weak references JavaCPP " + javacppVersion() + " may never delete: " + reason);
        }
    }

    private HookPeers() {
    }

    /** Whether nodes get copies of shared peers; false means one JavaCPP peer per hook. */
    static boolean shared() {
        return UNAVAILABLE == null;
    }

    /**
     * A new C++ object that is a copy of {@code template}'s peer, for libtorch to own (it deletes it with the
     * node). {@code template} must stay strongly reachable for as long as any copy may run.
     */
    static Pointer copyOf(Pointer template) {
        long copy;
        try {
            copy = ((MemorySegment) OPERATOR_NEW.invokeExact(PEER_BYTES)).address();
        } catch (Throwable e) {
            throw new IllegalStateException("operator new failed", e);
        }
        if (copy == 0) {
            throw new OutOfMemoryError("operator new returned null for a hook");
        }
        MemorySegment.copy(peer(template.address()), 0, peer(copy), 0, PEER_BYTES);
        return new Pointer() {
            {
                address = copy;
            }
        };
    }

    private static MemorySegment peer(long address) {
        return MemorySegment.ofAddress(address).reinterpret(PEER_BYTES);
    }

    /** Null when the peers of {@link GradientNode}'s hook classes look as read in JavaCPP's generator. */
    private static String layoutProblem() {
        String version = javacppVersion();
        if (!VERIFIED_JAVACPP.equals(version)) {
            return "JavaCPP " + version + " is not the checked " + VERIFIED_JAVACPP;
        }
        for (Class<? extends Pointer> base : GradientNode.HOOK_BASES) {
            if (Loader.sizeof(base) != Long.BYTES) {
                return base.getSimpleName() + " is " + Loader.sizeof(base) + " bytes, not one virtual-table pointer";
            }
        }
        // In a scope of our own: closing it deletes the twins' peers and references, as JavaCPP should.
        try (PointerScope scope = new PointerScope()) {
            for (Pointer[] twins : GradientNode.twinHooks()) {
                long[] a = words(twins[0]);
                long[] b = words(twins[1]);
                if (a[0] == 0 || a[0] != b[0]) {
                    return "two " + twins[0].getClass().getSimpleName() + " peers have different virtual tables";
                }
                if (a[1] == 0 || b[1] == 0 || a[1] == b[1]) {
                    return "two " + twins[0].getClass().getSimpleName() + " peers do not hold distinct references";
                }
            }
        }
        return null;
    }

    private static String javacppVersion() {
        try {
            return Loader.getVersion();
        } catch (java.io.IOException e) {
            return "of unknown version";
        }
    }

    private static long[] words(Pointer peer) {
        MemorySegment bytes = peer(peer.address());
        return new long[] {bytes.get(ValueLayout.JAVA_LONG, 0), bytes.get(ValueLayout.JAVA_LONG, Long.BYTES)};
    }

    /**
     * {@code operator new} as libtorch's JNI library sees it, hence the one its {@code operator delete} pairs
     * with: the process's global scope first ({@code dlsym(RTLD_DEFAULT, ...)}: a preloaded allocator such as
     * tcmalloc), else that library's own dependencies (libstdc++), as the dynamic linker binds its references.
     */
    private static MethodHandle globalOperatorNew() throws Throwable {
        Linker linker = Linker.nativeLinker();
        MemorySegment symbol = MemorySegment.NULL;
        MemorySegment dlsymAddress = linker.defaultLookup().find("dlsym").orElse(null);
        if (dlsymAddress != null) {
            MethodHandle dlsym = linker.downcallHandle(dlsymAddress,
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            try (Arena arena = Arena.ofConfined()) {
                symbol = (MemorySegment) dlsym.invokeExact(MemorySegment.NULL, arena.allocateFrom("_Znwm"));
            }
        }
        if (symbol.address() == 0) {
            String jniTorch = Loader.load(org.bytedeco.pytorch.global.torch.class);
            if (jniTorch == null) {
                return null;
            }
            symbol = SymbolLookup.libraryLookup(Path.of(jniTorch), Arena.global()).find("_Znwm")
                    .orElse(MemorySegment.NULL);
        }
        if (symbol.address() == 0) {
            return null;
        }
        // Never calls back into Java: no thread-state transition needed.
        return linker.downcallHandle(symbol, FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                Linker.Option.critical(false));
    }
}
