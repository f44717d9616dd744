package io.github.arelu.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.Loader;

/**
 * The native library of {@code native/} ({@code native/include/arelu.h}, a C ABI): found, loaded once, its ABI
 * version checked, and its symbols bound for the {@link FusedKernels} (which keep their own method handles, so
 * a call does not come back here) and its status codes turned into exceptions.
 *
 * <p>The library ships in the jar under {@code io/github/arelu/<platform>/libarelu.so} and is extracted
 * through JavaCPP's Loader cache, the same cache bytedeco's own libraries use. libtorch is loaded first:
 * our library needs {@code libgomp.so.1}, and the dynamic linker then reuses the OpenMP runtime libtorch
 * already loaded instead of starting a second one. The system property {@code arelu.library.path} points
 * at another build of the library (for native development).
 */
public final class NativeLibrary {

    private static final System.Logger LOG = System.getLogger("io.github.arelu");
    private static final int ABI_VERSION = 10;
    /** Whether a call that asked for the CUDA kernels without getting them has been logged. */
    private static final AtomicBoolean CUDA_FALLBACK_LOGGED = new AtomicBoolean();

    /** Why the library could not load, or null when it did. */
    private static final String UNAVAILABLE_REASON;
    private static final NativeLibrary INSTANCE;

    static {
        NativeLibrary library = null;
        String reason = null;
        try {
            library = new NativeLibrary(locate());
        } catch (Throwable e) {
            reason = e.getMessage() != null ? e.getMessage() : e.toString();
        }
        INSTANCE = library;
        UNAVAILABLE_REASON = reason;
        if (library == null) {
            LOG.log(System.Logger.Level.WARNING, "AReLU fused native kernels are unavailable ({0}); "
                    + "AReLU uses the composed libtorch path instead", reason);
        }
    }

    private final Path path;
    private final SymbolLookup symbols;
    private final MethodHandle errorString;
    private final boolean cudaAvailable;
    /** The kernels of each element type ({@link ElementType}'s order); CUDA's null without CUDA kernels. */
    private final FusedKernels[] cpu;
    private final FusedKernels[] cuda;

    private NativeLibrary(Path path) throws Throwable {
        this.path = path;
        this.symbols = open(path);
        int version = (int) bind("arelu_abi_version", FunctionDescriptor.of(JAVA_INT)).invokeExact();
        if (version != ABI_VERSION) {
            throw new UnsatisfiedLinkError(path + " has ABI version " + version + ", expected " + ABI_VERSION);
        }
        errorString = bind("arelu_error_string", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        // CUDA entry points exist in every build; a build without nvcc answers ARELU_ERR_NO_CUDA.
        cudaAvailable = (int) bind("arelu_cuda_available", FunctionDescriptor.of(JAVA_INT)).invokeExact() == 1;
        ElementType[] types = ElementType.values();
        cpu = new FusedKernels[types.length];
        cuda = new FusedKernels[types.length];
        for (ElementType type : types) {
            cpu[type.ordinal()] = new CpuKernels(this, type);
            cuda[type.ordinal()] = cudaAvailable ? new CudaKernels(this, type) : null;
        }
    }

    /**
     * The library's symbols. FFM's lookup says only "Cannot open library" when the dynamic loader refuses a file
     * (not an ELF file, another architecture, a missing dependency, a noexec mount); the JVM's own loading of the
     * same file, which fails the same way, gives the loader's reason.
     */
    private static SymbolLookup open(Path path) {
        try {
            return SymbolLookup.libraryLookup(path, Arena.global());
        } catch (IllegalArgumentException e) {
            String reason;
            try {
                System.load(path.toString());
                reason = e.getMessage();
            } catch (UnsatisfiedLinkError loader) {
                reason = loader.getMessage();
            }
            throw new IllegalStateException(reason != null && reason.contains(path.toString()) ? reason
                    : "cannot load " + path + ": " + reason, e);
        }
    }

    /** The loaded library, or null when it is unavailable (the reason is logged once). */
    static NativeLibrary instance() {
        return INSTANCE;
    }

    /** Why the library is unavailable, or null. */
    static String unavailableReason() {
        return UNAVAILABLE_REASON;
    }

    /** Whether the library has CUDA kernels and sees a CUDA device. */
    boolean cudaAvailable() {
        return cudaAvailable;
    }

    /**
     * The kernels of {@code type} on the CPU, or on CUDA; null when the library did not load, or for CUDA when
     * it has no CUDA kernels or sees no device.
     */
    static FusedKernels kernels(ElementType type, boolean cuda) {
        NativeLibrary library = INSTANCE;
        if (library == null) {
            return null;
        }
        FusedKernels kernels = (cuda ? library.cuda : library.cpu)[type.ordinal()];
        if (kernels == null && cuda && !CUDA_FALLBACK_LOGGED.getAndSet(true)) {
            LOG.log(System.Logger.Level.WARNING, "AReLU's fused CUDA kernels were asked for (setFusedCuda(true), "
                    + "arelu(..., true) or -Darelu.cuda.fused=true), but " + library.path + " cannot run them here: "
                    + "it was built without nvcc, or the current CUDA device is older than the architectures it was "
                    + "built for; CUDA inputs use the composed libtorch path instead");
        }
        return kernels;
    }

    /**
     * The address of the library's symbol {@code name}, for the rest of this module (the autograd package's
     * graph nodes).
     *
     * @throws IllegalStateException naming why when the library did not load or lacks the symbol
     */
    public static MemorySegment symbol(String name) {
        NativeLibrary library = INSTANCE;
        if (library == null) {
            throw new IllegalStateException("the native library is unavailable: " + UNAVAILABLE_REASON);
        }
        return library.symbols.find(name).orElseThrow(
                () -> new IllegalStateException("symbol " + name + " missing from " + library.path));
    }

    /** A downcall handle for the symbol {@code name}. */
    MethodHandle bind(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = symbols.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("symbol " + name + " missing from " + path));
        return Linker.nativeLinker().downcallHandle(symbol, descriptor);
    }

    /**
     * A downcall handle for the element-type kernel {@code name}, whose float parameters (the scales of float32
     * kernels) are taken as doubles: float32 and float64 kernels then have one Java type. The scales passed
     * are values of the element type (formed by arelu_scales), so the narrowing is exact.
     */
    MethodHandle bindWidened(String name, FunctionDescriptor descriptor) {
        MethodHandle handle = bind(name, descriptor);
        MethodType type = handle.type();
        for (int i = 0; i < type.parameterCount(); i++) {
            if (type.parameterType(i) == float.class) {
                type = type.changeParameterType(i, double.class);
            }
        }
        return MethodHandles.explicitCastArguments(handle, type);
    }

    /** A failure of the downcall itself (not a status) as an exception naming the call. */
    static RuntimeException failed(String call, Throwable e) {
        return e instanceof RuntimeException r ? r : new IllegalStateException(call + " failed", e);
    }

    /** An exception naming the failed call and the library's own message for a non-zero status. */
    RuntimeException failedStatus(int status, String call) {
        String message;
        try {
            MemorySegment text = (MemorySegment) errorString.invokeExact(status);
            message = text.reinterpret(4096).getString(0);
        } catch (Throwable e) {
            message = "status " + status;
        }
        return new IllegalStateException(call + " failed: " + message + " (status " + status + ")");
    }

    private static Path locate() throws Exception {
        String override = System.getProperty("arelu.library.path");
        // libtorch first, so that its libgomp.so.1 is the one our library binds to.
        LibTorch.load();
        if (override != null && !override.isBlank()) {
            File file = new File(override);
            if (!file.isFile()) {
                throw new IllegalStateException("arelu.library.path=" + override + " is not a file");
            }
            return file.toPath().toAbsolutePath();
        }
        String platform = Loader.getPlatform();
        // Outside any package (a platform name is no Java package name), so a module does not encapsulate it.
        String resource = "/io/github/arelu/" + platform + "/" + System.mapLibraryName("arelu");
        if (NativeLibrary.class.getResource(resource) == null) {
            throw new IllegalStateException("no native library for platform " + platform + " in the jar (looked for "
                    + resource.substring(1) + ")");
        }
        File file;
        try {
            file = Loader.cacheResource(NativeLibrary.class, resource);
        } catch (IOException e) {
            throw new IllegalStateException("could not extract " + resource.substring(1) + " into JavaCPP's cache "
                    + "(org.bytedeco.javacpp.cachedir, now " + cacheDirectory() + "): " + e, e);
        }
        if (file == null) {
            throw new IllegalStateException("JavaCPP could not extract " + resource.substring(1));
        }
        return file.toPath();
    }

    private static String cacheDirectory() {
        try {
            return Loader.getCacheDir().toString();
        } catch (IOException e) {
            return "unusable: " + e.getMessage();
        }
    }
}
