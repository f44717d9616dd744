package io.github.arelu.autograd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.Supplier;

import io.github.arelu.internal.NativeLibrary;

/**
 * Runs code on one OS thread from its start to its end, also when it is called on a virtual thread.
 *
 * <p>libtorch keeps grad mode per OS thread. {@link JavaFunction#apply} switches it off for a function's forward
 * and back on afterwards; a virtual thread that blocks inside forward (a lock, a sleep, I/O) may go on on another
 * OS thread, its carrier, so grad mode would be switched back on there and stay off on the first carrier, for
 * every virtual thread that runs there next: their operations would record no graph, and gradients would be
 * missing without an error. A virtual thread cannot leave its carrier while a native frame is on its stack, so
 * on a virtual thread the code runs inside a call of the native library ({@code arelu_call_back}) that calls
 * back into Java. For virtual threads only: {@link JavaFunction#apply} runs platform threads' forwards directly.
 */
final class OneCarrier {

    /** {@code void arelu_call_back(void (*)(void))}, or null when the native library is unavailable. */
    private static final MethodHandle CALL_BACK;
    /** The function pointer it calls: {@link #runPending}. */
    private static final MemorySegment UPCALL;
    /** Why virtual threads cannot be kept on one carrier here, or null when they can. */
    private static final String UNAVAILABLE;
    /** The innermost {@link #call} of this thread, for the upcall to run. */
    private static final ThreadLocal<Pending<?>> PENDING = new ThreadLocal<>();

    static {
        MethodHandle callBack = null;
        MemorySegment upcall = null;
        String unavailable = null;
        try {
            Linker linker = Linker.nativeLinker();
            callBack = linker.downcallHandle(NativeLibrary.symbol("arelu_call_back"),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
            upcall = linker.upcallStub(MethodHandles.lookup().findStatic(OneCarrier.class, "runPending",
                    MethodType.methodType(void.class)), FunctionDescriptor.ofVoid(), Arena.global());
        } catch (Throwable e) {
            callBack = null;
            unavailable = e.getMessage() != null ? e.getMessage() : e.toString();
        }
        CALL_BACK = callBack;
        UPCALL = upcall;
        UNAVAILABLE = unavailable;
    }

    private OneCarrier() {
    }

    /**
     * {@code body.get()} on this virtual thread, run on one OS thread throughout; what it throws is thrown here.
     *
     * @throws IllegalStateException where the native library is unavailable
     */
    static <T> T call(Supplier<T> body, String what) {
        if (CALL_BACK == null) {
            throw new IllegalStateException(what + " on a virtual thread needs AReLU's native library ("
                    + UNAVAILABLE + "): libtorch keeps grad mode per OS thread, and a virtual thread that blocks "
                    + "in forward may continue on another one, leaving grad mode off behind it; call it on a "
                    + "platform thread");
        }
        Pending<T> pending = new Pending<>(body);
        Pending<?> outer = PENDING.get();
        PENDING.set(pending);
        try {
            CALL_BACK.invokeExact(UPCALL);
        } catch (Throwable e) {
            throw new IllegalStateException("arelu_call_back failed", e);
        } finally {
            if (outer == null) {
                PENDING.remove();
            } else {
                PENDING.set(outer);
            }
        }
        return pending.result();
    }

    /** The upcall: runs this thread's pending body. Nothing may leave it (an upcall that throws ends the JVM). */
    private static void runPending() {
        try {
            Pending<?> pending = PENDING.get();
            if (pending != null) {
                pending.run();
            }
        } catch (Throwable e) {
            // Pending.run keeps what the body throws; this is only a last guard. Without a pending body, the
            // caller finds it did not run and says so.
        }
    }

    /** A body, then its result or what it threw. */
    private static final class Pending<T> {
        private final Supplier<T> body;
        private T result;
        private Throwable failure;
        private boolean ran;

        Pending(Supplier<T> body) {
            this.body = body;
        }

        void run() {
            try {
                result = body.get();
            } catch (Throwable e) {
                failure = e;
            }
            ran = true;
        }

        T result() {
            if (!ran) {
                throw new IllegalStateException("arelu_call_back returned without calling back");
            }
            if (failure != null) {
                // As it would leave the body on a platform thread, checked exceptions thrown past javac too.
                throw OneCarrier.<RuntimeException>unchecked(failure);
            }
            return result;
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E unchecked(Throwable e) throws E {
        throw (E) e;
    }
}
