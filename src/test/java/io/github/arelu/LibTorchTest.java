package io.github.arelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import io.github.arelu.probe.LibTorchMappings;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Only bytedeco's libtorch is in the process: every libtorch and c10 library mapped into this JVM comes
 * from JavaCPP's cache, none from the system (a system libtorch of another version is what crashed a
 * fresh machine's first run). bin/test runs this suite with an empty cache on a machine with Debian's
 * libtorch installed, the case that used to fail; the tests below start JVMs of their own with empty caches
 * in the other forms a user's setup can take.
 */
class LibTorchTest {


    @Test
    void libtorchComesOnlyFromJavaCppsCache() throws IOException {
        LibTorch.load();
        assertEquals(2.0, torch.ones(2).sum().item_double());
        assertAllFromCache(LibTorchMappings.mappedLibTorch(), Loader.getCacheDir().toPath().toRealPath());
    }

    @Test
    void loadIsIdempotent() {
        LibTorch.load();
        LibTorch.load();
        assertEquals(3.0, torch.ones(3).sum().item_double());
    }

    /** {@code cachedir.nosubdir}: JavaCPP puts every file straight into the cache directory. */
    @Test
    void anEmptyCacheWithoutSubdirectories(@TempDir Path cache) throws Exception {
        String output = runFreshJvm(System.getProperty("java.class.path"), cache,
                "-Dorg.bytedeco.javacpp.cachedir.nosubdir=true");
        assertChildLoadedFromCache(output);
    }

    /**
     * A fat jar, or bytedeco's native jar repacked, without directory entries (as {@code zip -D} and some build
     * tools make them): the native directory cannot be listed, only its files found.
     */
    @Test
    void aNativeJarWithoutDirectoryEntries(@TempDir Path work) throws Exception {
        List<String> classPath = new ArrayList<>(Arrays.asList(System.getProperty("java.class.path")
                .split(File.pathSeparator)));
        int replaced = 0;
        for (int i = 0; i < classPath.size(); i++) {
            String entry = classPath.get(i);
            if (entry.contains(File.separator + "org" + File.separator + "bytedeco" + File.separator + "pytorch")
                    && entry.endsWith("-" + Loader.getPlatform() + ".jar")) {
                Path stripped = work.resolve(Path.of(entry).getFileName());
                copyWithoutDirectoryEntries(Path.of(entry), stripped);
                classPath.set(i, stripped.toString());
                replaced++;
            }
        }
        assertEquals(1, replaced, "bytedeco's pytorch jar for " + Loader.getPlatform() + " on the class path: "
                + classPath);
        Path cache = Files.createDirectory(work.resolve("cache"));
        String output = runFreshJvm(String.join(File.pathSeparator, classPath), cache);
        assertChildLoadedFromCache(output);
    }

    private static void assertAllFromCache(List<String> mapped, Path cache) {
        assertFalse(mapped.stream().noneMatch(path -> path.endsWith("/libtorch_cpu.so")),
                "libtorch_cpu.so is not mapped at all: " + mapped);
        for (String path : mapped) {
            assertTrue(Path.of(path).startsWith(cache), path + " is mapped from outside JavaCPP's cache " + cache
                    + "; all mapped libtorch libraries: " + mapped);
        }
    }

    /** What {@link LibTorchMappings} printed: libtorch computed, and every library came from the cache. */
    private static void assertChildLoadedFromCache(String output) {
        List<String> lines = output.lines().toList();
        assertTrue(lines.contains("sum 2.0"), output);
        Path cache = lines.stream().filter(l -> l.startsWith("cache ")).map(l -> Path.of(l.substring(6)))
                .findFirst().orElseThrow(() -> new AssertionError("no cache line: " + output));
        assertAllFromCache(lines.stream().filter(l -> l.startsWith("mapped ")).map(l -> l.substring(7)).toList(),
                cache);
    }

    /** Runs {@link LibTorchMappings} in a new JVM with an empty cache; asserts it exits with 0. */
    private static String runFreshJvm(String classPath, Path cache, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-cp", classPath,
                "-Dorg.bytedeco.javacpp.cachedir=" + cache));
        Collections.addAll(command, options);
        command.add(LibTorchMappings.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(300, TimeUnit.SECONDS), "the child JVM did not end: " + output);
        assertEquals(0, process.exitValue(), String.join(" ", command) + "\n"
                + output.substring(Math.max(0, output.length() - 8000)));
        return output;
    }

    /**
     * Copies a jar's files and leaves out its directory entries. Entries are stored, not compressed again
     * (their CRCs and sizes are the original's): a few seconds for libtorch's 330 MB.
     */
    private static void copyWithoutDirectoryEntries(Path from, Path to) throws IOException {
        try (ZipFile in = new ZipFile(from.toFile());
                OutputStream file = Files.newOutputStream(to);
                ZipOutputStream out = new ZipOutputStream(file)) {
            for (ZipEntry entry : Collections.list(in.entries())) {
                if (entry.isDirectory()) {
                    continue;
                }
                ZipEntry copy = new ZipEntry(entry.getName());
                copy.setMethod(ZipEntry.STORED);
                copy.setSize(entry.getSize());
                copy.setCompressedSize(entry.getSize());
                copy.setCrc(entry.getCrc());
                out.putNextEntry(copy);
                try (InputStream data = in.getInputStream(entry)) {
                    data.transferTo(out);
                }
                out.closeEntry();
            }
        }
    }
}
