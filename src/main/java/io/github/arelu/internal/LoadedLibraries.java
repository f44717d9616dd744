package io.github.arelu.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Symbols of a library this process has already loaded (libtorch's, which JavaCPP loaded), found through the
 * dynamic loader without loading anything: {@code dlopen} with {@code RTLD_NOLOAD}, {@code dlsym}, and the
 * handle released at once. Why: libtorch's exported C++ functions that bytedeco's binding serves badly are
 * called through {@code java.lang.foreign} instead, from the very library the process runs.
 */
public final class LoadedLibraries {

    private static final int RTLD_LAZY = 1;
    private static final int RTLD_NOLOAD = 4;

    private LoadedLibraries() {
    }

    /**
     * The address of {@code symbol} in the loaded {@code library}.
     *
     * @param library a path, or a file name the loaded library has (its soname), such as {@code libtorch_cpu.so}
     * @param symbol an exported (mangled) symbol
     * @return its address
     * @throws IllegalStateException naming what is missing: no such loaded library, or no such symbol in it
     */
    public static long address(String library, String symbol) {
        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle dlopen = libc(linker, "dlopen", FunctionDescriptor.of(ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MethodHandle dlsym = libc(linker, "dlsym", FunctionDescriptor.of(ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MethodHandle dlclose = libc(linker, "dlclose", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS));
            MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(library),
                    RTLD_LAZY | RTLD_NOLOAD);
            if (handle.address() == 0) {
                throw new IllegalStateException("no loaded library " + library);
            }
            long address = ((MemorySegment) dlsym.invokeExact(handle, arena.allocateFrom(symbol))).address();
            if ((int) dlclose.invokeExact(handle) != 0) {
                throw new IllegalStateException("dlclose of " + library + " failed");
            }
            if (address == 0) {
                throw new IllegalStateException(library + " does not export " + symbol);
            }
            return address;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("looking up " + symbol + " in " + library + " failed", e);
        }
    }

    /** A downcall handle for the C library's function {@code name}. */
    public static MethodHandle libc(Linker linker, String name, FunctionDescriptor descriptor) {
        MemorySegment address = linker.defaultLookup().find(name)
                .orElseThrow(() -> new IllegalStateException(name + " is not in the C library"));
        return linker.downcallHandle(address, descriptor);
    }
}
