package io.github.arelu.probe;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * A fresh JVM's view of libtorch, for {@link LibTorchTest}: loads it as a program's main does, then prints
 * {@code sum 2.0} (libtorch computed), {@code cache <dir>} (JavaCPP's cache) and {@code mapped <path>} for
 * every libtorch and c10 library mapped into the process. In a package of its own, not the library's, so that
 * programs that run with the library on the module path ({@code ModulePathProgram}) can use it: there the
 * library's packages belong to its module.
 */
public final class LibTorchMappings {

    private static final Pattern LIBTORCH = Pattern.compile("/lib(torch[a-z_]*|c10[a-z_]*)\\.so[.0-9]*$");

    private LibTorchMappings() {
    }

    public static void main(String[] args) throws IOException {
        LibTorch.load();
        System.out.println("sum " + torch.ones(2).sum().item_double());
        System.out.println("cache " + Loader.getCacheDir().toPath().toRealPath());
        for (String path : mappedLibTorch()) {
            System.out.println("mapped " + path);
        }
    }

    /**
     * Paths of the libtorch and c10 libraries mapped into this process.
     *
     * @return each path once
     * @throws IOException when /proc/self/maps cannot be read
     */
    public static List<String> mappedLibTorch() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(line -> line.contains("/"))
                .map(line -> line.substring(line.indexOf('/')))
                .filter(path -> LIBTORCH.matcher(path).find())
                .distinct()
                .toList();
    }
}
