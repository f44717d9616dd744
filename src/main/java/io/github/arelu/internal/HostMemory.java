package io.github.arelu.internal;

import java.lang.foreign.MemorySegment;

/**
 * All of the process's memory as one segment, for the few words the library reads or writes at addresses that
 * native code hands it (a parameter's value, a graph node's virtual-table pointer).
 */
public final class HostMemory {

    /**
     * Made once: a restricted {@code reinterpret} per access checks its caller's native access with a stack walk,
     * which costs microseconds a call until the JIT has compiled the caller (some 5000 calls, the first thousands
     * of a network's steps).
     */
    public static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private HostMemory() {
    }
}
