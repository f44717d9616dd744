package io.github.arelu;

import java.io.File;
import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URI;
import java.net.URL;
import java.util.Collections;
import java.util.Locale;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads bytedeco's libtorch so that only bytedeco's libraries end up in the process.
 *
 * <p>Why this exists: JavaCPP extracts bytedeco's native libraries into its cache one at a time, loading
 * each right after extracting it, in the order {@code c10, torch, torch_cpu}. With an empty cache,
 * {@code libtorch.so} is loaded while its {@code libtorch_cpu.so} is not yet beside it, so the dynamic
 * loader searches the system; on a machine with a libtorch development package (Debian's
 * {@code libtorch-dev} puts an unversioned {@code libtorch_cpu.so} in the default search path) it takes
 * that one, of another version, and the process crashes in libtorch's static initializers. Without such
 * a package the early load simply fails and JavaCPP goes on, which is why most machines never see it.
 *
 * <p>{@link #load()} first extracts every native file of the presets libtorch needs (pytorch and
 * OpenBLAS, for this platform and its extension, such as {@code -gpu}) into JavaCPP's cache, then loads
 * libtorch: every library then finds its dependencies beside it ({@code $ORIGIN}). Extraction is skipped
 * for files already cached with the same size and time stamp, so later runs pay nothing.
 *
 * <p>It must run before the JVM initializes any bytedeco pytorch class, and a class initializes its
 * superclass first: {@code new AReLU()} or a user's {@code Module} subclass already loads libtorch. So
 * programs that may run on such machines call {@code LibTorch.load()} as the first statement of
 * {@code main}; the library calls it itself before it loads its own kernels.
 */
public final class LibTorch {

    private static final System.Logger LOG = System.getLogger("io.github.arelu");

    /** The presets whose native files libtorch's libraries need at load time, each with its JNI library. */
    private static final String[][] PRESETS = {{"openblas", "jniopenblas_nolapack"}, {"pytorch", "jnitorch"}};

    private static volatile boolean loaded;

    private LibTorch() {
    }

    /**
     * Extracts bytedeco's libtorch (and OpenBLAS) native files, then loads libtorch. Idempotent and
     * thread-safe; after the first call it costs a volatile read.
     *
     * @throws UnsatisfiedLinkError when libtorch cannot be loaded (for instance no native jar for this
     *     platform on the class path), with JavaCPP's message
     */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (LibTorch.class) {
            if (loaded) {
                return;
            }
            if (cachesLibraries()) {
                extractNativeFiles();
            }
            Loader.load(torch.class);
            loaded = true;
        }
    }

    /** JavaCPP loads from its cache unless told not to ({@code org.bytedeco.javacpp.cacheLibraries=false}). */
    private static boolean cachesLibraries() {
        String value = System.getProperty("org.bytedeco.javacpp.cachelibraries", "true");
        value = System.getProperty("org.bytedeco.javacpp.cacheLibraries", value).toLowerCase(Locale.ROOT);
        return value.isEmpty() || value.equals("true") || value.equals("t");
    }

    private static void extractNativeFiles() {
        String platform = Loader.getPlatform();
        String extension = System.getProperty("org.bytedeco.javacpp.platform.extension", "");
        int found = 0;
        for (String[] preset : PRESETS) {
            found += extractDirectory(preset[0], platform, preset[1]) ? 1 : 0;
            if (!extension.isEmpty()) {
                extractDirectory(preset[0], platform + extension, preset[1]);
            }
        }
        if (found < PRESETS.length) {
            LOG.log(System.Logger.Level.WARNING, "LibTorch.load(): bytedeco's native files of pytorch and "
                    + "OpenBLAS for " + platform + " are not all on the class or module path; libtorch may then load "
                    + "libraries of another version from the system");
        }
    }

    /**
     * Extracts the files of a preset's native directory, each as JavaCPP's own loading extracts it (the same
     * cache path, whatever the cache options: {@code org.bytedeco.javacpp.cachedir.nosubdir} moves files,
     * not directories), so that JavaCPP then finds them cached. The directory is found through its JNI library,
     * a file, since a jar need not list directories (fat jars made without directory entries do not). The
     * class literal below only loads the class, it does not initialize it, so nothing native is loaded yet.
     *
     * @return whether the directory was found
     */
    private static boolean extractDirectory(String preset, String platform, String jniLibrary) {
        String directory = "org/bytedeco/" + preset + "/" + platform + "/";
        URL marker = find(directory + System.mapLibraryName(jniLibrary));
        if (marker == null) {
            return false;
        }
        try {
            if (marker.openConnection() instanceof JarURLConnection connection) {
                connection.setUseCaches(false); // our own JarFile, closed here, not the JVM's shared one
                String jar = connection.getJarFileURL().toExternalForm();
                try (JarFile file = connection.getJarFile()) {
                    for (JarEntry entry : Collections.list(file.entries())) {
                        String name = entry.getName();
                        // The files the libraries need beside them; not the headers and build files below.
                        if (name.startsWith(directory) && name.indexOf('/', directory.length()) < 0
                                && !entry.isDirectory()) {
                            cache(URI.create("jar:" + jar + "!/" + name).toURL());
                        }
                    }
                }
            } else {
                // An unpacked class path directory: the files already lie together.
                for (URL url : Loader.findResources(torch.class, "/" + directory)) {
                    cache(url);
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            // JavaCPP's own loading would hit the same problem and report it; say where it started.
            LOG.log(System.Logger.Level.WARNING, "could not extract " + directory + " into JavaCPP's cache ("
                    + e + "); libtorch may then load libraries of another version from the system", e);
        }
        return true;
    }

    /**
     * A resource of bytedeco's native jars. On the class path {@code Class.getResource} finds it; on the module
     * path that searches the class's own module only, while the native jars are modules of their own
     * ({@code org.bytedeco.pytorch.linux.x86_64}), whose platform directories (no packages: "linux-x86_64") the
     * class loader finds.
     */
    private static URL find(String resource) {
        URL url = torch.class.getResource("/" + resource);
        ClassLoader loader = torch.class.getClassLoader();
        return url != null || loader == null ? url : loader.getResource(resource);
    }

    private static void cache(URL url) throws IOException {
        File extracted = Loader.cacheResource(url);
        LOG.log(System.Logger.Level.DEBUG, "extracted {0} to {1}", url, extracted);
    }
}
