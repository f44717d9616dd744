package io.github.arelu.autograd;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.annotation.Virtual;

/**
 * The C++ hook objects that graph nodes own, made without a JavaCPP peer (and its JNI weak reference) per
 * node, and the signal that a node died.
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
 * template), and each node gets a hook object of our own making, {@code {vtable, obj, key}}: {@code obj} is
 * the template's reference, valid for as long as the template lives, so the template's {@code operator()}
 * calls the shared Java hook, which finds the node it serves with libtorch's {@code get_current_node()}.
 * The virtual table is a copy of the template's with one entry changed: the deleting destructor, which
 * libtorch calls when the node dies, is an upcall here that reports the {@code key} (the node's record, see
 * {@link LiveNodes}) and frees the object. A node's death needs nothing else, no sentinel tensor.
 *
 * <p>This relies on the peer's layout, which is checked once, when this class loads: JavaCPP and bytedeco's
 * PyTorch presets are the releases whose generated peers and headers were read
 * ({@link VerifiedVersions}); the bases hold nothing but a virtual-table pointer (JavaCPP's own
 * {@code sizeof}), so the peer is {@code {vptr, obj}}; the bases declare a virtual destructor first (slots 0
 * and 1 of the table, the Itanium C++ ABI's complete and deleting destructors) and exactly two virtual
 * functions after it (what the presets map as {@code @Virtual}); two peers of one class share a table and
 * hold distinct references. Otherwise nodes fall back to one JavaCPP peer per hook and the lifetime
 * sentinel, logged once.
 */
final class HookPeers {

    private static final System.Logger LOG = System.getLogger("io.github.arelu.autograd");
    /** Our hook object: the virtual-table pointer, JavaCPP's {@code obj}, the node's key (0: none). */
    private static final long HOOK_BYTES = 3 * Long.BYTES;
    private static final long KEY_OFFSET = 2 * Long.BYTES;
    /**
     * Our hook object as malloc returns it and our destructor receives it: sized once here, where the handles
     * are linked, rather than with {@code reinterpret} per node, a restricted method whose caller check costs
     * microseconds a call until the JIT has compiled its caller.
     */
    private static final AddressLayout HOOK = ValueLayout.ADDRESS.withTargetLayout(
            MemoryLayout.sequenceLayout(HOOK_BYTES, ValueLayout.JAVA_BYTE));
    /** Offset to top and type info, then the destructors and the two other virtual functions. */
    private static final int TABLE_PREFIX = 2;
    private static final int TABLE_SLOTS = 4;
    private static final int DELETING_DESTRUCTOR = 1;

    /** Why shared peers are not used, or null when they are. */
    private static final String UNAVAILABLE;
    private static final MethodHandle MALLOC;
    private static final MethodHandle FREE;
    /** Our virtual tables, as virtual-table pointers, by kind: {@link GradientNode#HOOK_BASES}' order. */
    private static final long[] TABLES;
    /** Hook objects made and not yet deleted by libtorch: what the nodes alive hold, two each. */
    private static final AtomicLong LIVE = new AtomicLong();
    /** The templates' JNI weak references ({@code obj}), by kind. */
    private static final long[] REFERENCES;

    static {
        String reason = null;
        MethodHandle malloc = null;
        MethodHandle free = null;
        long[] tables = null;
        long[] references = null;
        try {
            reason = layoutProblem();
            if (reason == null) {
                Linker linker = Linker.nativeLinker();
                // The process's malloc and free (a preloaded allocator's when there is one): we both allocate
                // and free our hook objects, so any matching pair would do; this one is the fastest here.
                MemorySegment mallocAddress = globalSymbol(linker, "malloc");
                MemorySegment freeAddress = globalSymbol(linker, "free");
                if (mallocAddress.address() == 0 || freeAddress.address() == 0) {
                    reason = "malloc and free are not in the process's global symbol scope";
                } else {
                    malloc = linker.downcallHandle(mallocAddress,
                            FunctionDescriptor.of(HOOK, ValueLayout.JAVA_LONG), Linker.Option.critical(false));
                    free = linker.downcallHandle(freeAddress, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS),
                            Linker.Option.critical(false));
                    tables = ourTables(linker);
                    references = Arrays.stream(GradientNode.hookTemplates())
                            .mapToLong(template -> words(template.address(), 2)[1]).toArray();
                }
            }
        } catch (Throwable e) {
            reason = "checking JavaCPP's hook peers failed: " + e;
        }
        if (NodeSwitches.perCallHooksAskedFor()) {
            reason = "-D" + NodeSwitches.PER_CALL_HOOKS + "=true";
        }
        UNAVAILABLE = reason;
        MALLOC = malloc;
        FREE = free;
        TABLES = tables;
        REFERENCES = references;
        if (reason != null) {
            // Asked for on the command line, it is no surprise: said, not warned about.
            LOG.log(reason.startsWith("-D") ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                    "JavaFunction nodes use one JavaCPP hook peer per call, whose JNI "
                    + "weak references JavaCPP " + VerifiedVersions.version(null, null) + " may never delete: "
                    + reason);
        }
    }

    private HookPeers() {
    }

    /** Whether nodes get hooks of our own making; false means one JavaCPP peer per hook. */
    static boolean shared() {
        return UNAVAILABLE == null;
    }

    /**
     * A new hook object for libtorch to own, that calls the Java hook of {@link GradientNode#hookTemplates()}
     * of that kind and, when libtorch deletes it with its node, reports {@code key} to
     * {@link LiveNodes#nodeDied} (0: reports nothing).
     *
     * @param kind the index of the hook's base class in {@link GradientNode#HOOK_BASES}
     */
    static long make(int kind, long key) {
        MemorySegment hook;
        try {
            hook = (MemorySegment) MALLOC.invokeExact(HOOK_BYTES);
        } catch (Throwable e) {
            throw new IllegalStateException("malloc failed", e);
        }
        if (hook.address() == 0) {
            throw new OutOfMemoryError("no memory for a JavaFunction hook");
        }
        hook.set(ValueLayout.JAVA_LONG, 0, TABLES[kind]);
        hook.set(ValueLayout.JAVA_LONG, Long.BYTES, REFERENCES[kind]);
        hook.set(ValueLayout.JAVA_LONG, KEY_OFFSET, key);
        LIVE.incrementAndGet();
        return hook.address();
    }

    /** How many hook objects of our making libtorch holds (two per node alive). */
    static long liveHooks() {
        return LIVE.get();
    }

    /** The deleting destructor of our hook objects: libtorch destroys the node that owns {@code hook}. */
    private static void deleted(MemorySegment hook) {
        // An exception must not leave an upcall (the JVM would stop): report, then free whatever happens.
        try {
            long key = hook.get(ValueLayout.JAVA_LONG, KEY_OFFSET);
            if (key != 0) {
                LiveNodes.nodeDied(key);
            }
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.ERROR, "releasing a JavaFunction graph node failed", e);
        }
        try {
            LIVE.decrementAndGet();
            FREE.invokeExact(hook);
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.ERROR, "freeing a JavaFunction hook failed", e);
        }
    }

    /** A copy of each template's virtual table whose deleting destructor is {@link #deleted}; never freed. */
    private static long[] ourTables(Linker linker) throws ReflectiveOperationException {
        MethodHandle deleted = MethodHandles.lookup().findStatic(HookPeers.class, "deleted",
                MethodType.methodType(void.class, MemorySegment.class));
        MemorySegment destructor = linker.upcallStub(deleted, FunctionDescriptor.ofVoid(HOOK),
                Arena.global());
        long[] tables = new long[GradientNode.HOOK_BASES.size()];
        Pointer[] templates = GradientNode.hookTemplates();
        for (int kind = 0; kind < tables.length; kind++) {
            long vptr = words(templates[kind].address(), 1)[0];
            long[] table = words(vptr - TABLE_PREFIX * Long.BYTES, TABLE_PREFIX + TABLE_SLOTS);
            table[TABLE_PREFIX + DELETING_DESTRUCTOR] = destructor.address();
            MemorySegment copy = Arena.global().allocate(ValueLayout.JAVA_LONG, table.length);
            MemorySegment.copy(table, 0, copy, ValueLayout.JAVA_LONG, 0, table.length);
            tables[kind] = copy.address() + TABLE_PREFIX * Long.BYTES;
        }
        return tables;
    }

    /** Null when the peers of {@link GradientNode}'s hook classes look as read in JavaCPP's generator. */
    private static String layoutProblem() {
        String versions = VerifiedVersions.problem();
        if (versions != null) {
            return versions;
        }
        for (Class<? extends Pointer> base : GradientNode.HOOK_BASES) {
            if (Loader.sizeof(base) != Long.BYTES) {
                return base.getSimpleName() + " is " + Loader.sizeof(base) + " bytes, not one virtual-table pointer";
            }
            long virtuals = Arrays.stream(base.getDeclaredMethods()).filter(HookPeers::isVirtual).count();
            if (virtuals != TABLE_SLOTS - 2) {
                return base.getSimpleName() + " maps " + virtuals + " virtual functions, not " + (TABLE_SLOTS - 2);
            }
        }
        // In a scope of our own: closing it deletes the twins' peers and references, as JavaCPP should.
        try (PointerScope scope = new PointerScope()) {
            for (Pointer[] twins : GradientNode.twinHooks()) {
                long[] a = words(twins[0].address(), 2);
                long[] b = words(twins[1].address(), 2);
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

    private static boolean isVirtual(Method method) {
        return method.isAnnotationPresent(Virtual.class);
    }

    private static long[] words(long address, int count) {
        return MemorySegment.ofAddress(address).reinterpret((long) count * Long.BYTES)
                .toArray(ValueLayout.JAVA_LONG);
    }

    /** {@code dlsym(RTLD_DEFAULT, name)}: what the dynamic linker binds a library's reference to. */
    private static MemorySegment globalSymbol(Linker linker, String name) throws Throwable {
        MemorySegment dlsymAddress = linker.defaultLookup().find("dlsym").orElse(MemorySegment.NULL);
        if (dlsymAddress.address() == 0) {
            return MemorySegment.NULL;
        }
        MethodHandle dlsym = linker.downcallHandle(dlsymAddress,
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) dlsym.invokeExact(MemorySegment.NULL, arena.allocateFrom(name));
        }
    }
}
