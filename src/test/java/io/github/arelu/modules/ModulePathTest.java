package io.github.arelu.modules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import io.github.arelu.AReLU;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library as a named module: its classes and bytedeco's jars on the module path (bytedeco's jars carry
 * module descriptors; the native ones are added by name, as bytedeco's own modules need), the program on the
 * class path. The module exports the API packages and not the internal one, and AReLU runs its fused kernels.
 * With an empty JavaCPP cache, as a new user's first run: {@code LibTorch.load()} found none of bytedeco's
 * native files on the module path before, and the process crashed beside the system's libtorch.
 */
class ModulePathTest {

    @Test
    void theLibraryRunsAsTheModuleIoGithubArelu(@TempDir Path cache) throws Exception {
        String library = Path.of(AReLU.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        String program = Path.of(ModulePathProgram.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .toString();
        List<String> bytedeco = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> entry.contains(File.separator + "org" + File.separator + "bytedeco" + File.separator))
                .toList();
        assertFalse(bytedeco.isEmpty(), "no bytedeco jars on the class path: " + System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=io.github.arelu,org.bytedeco.javacpp,org.bytedeco.pytorch,ALL-UNNAMED",
                "--module-path", library + File.pathSeparator + String.join(File.pathSeparator, bytedeco),
                "--add-modules", "io.github.arelu,org.bytedeco.javacpp.linux.x86_64,org.bytedeco.openblas.linux.x86_64,"
                        + "org.bytedeco.pytorch.linux.x86_64",
                "-cp", program, "-Dorg.bytedeco.javacpp.cachedir=" + cache));
        command.add(ModulePathProgram.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the child JVM did not end: " + output);
        assertEquals(0, process.exitValue(), output);
        String lines = output.lines().filter(l -> !l.startsWith("WARNING") && !l.startsWith("[W"))
                .collect(Collectors.joining("\n"));
        assertTrue(lines.contains("module io.github.arelu"), lines);
        assertTrue(lines.contains("exports io.github.arelu true"), lines);
        assertTrue(lines.contains("exports io.github.arelu.autograd true"), lines);
        assertTrue(lines.contains("exports io.github.arelu.internal false"), lines);
        assertTrue(lines.contains("path FUSED_AUTOGRAD"), lines);
        assertTrue(lines.contains("gradients agree true"), lines);
        assertFalse(output.contains("not all on the class or module path"), output);
        Path cacheDir = cache.toRealPath();
        List<String> mapped = output.lines().filter(l -> l.startsWith("mapped ")).map(l -> l.substring(7)).toList();
        assertTrue(mapped.stream().anyMatch(path -> path.endsWith("/libtorch_cpu.so")), output);
        for (String path : mapped) {
            assertTrue(Path.of(path).startsWith(cacheDir), path + " is mapped from outside the cache " + cacheDir);
        }
    }
}
