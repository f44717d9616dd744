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

/**
 * The library as a named module: its classes and bytedeco's jars on the module path (bytedeco's jars carry
 * module descriptors; the native ones are added by name, as bytedeco's own modules need), the program on the
 * class path. The module exports the API packages and not the internal one, and AReLU runs its fused kernels.
 */
class ModulePathTest {

    @Test
    void theLibraryRunsAsTheModuleIoGithubArelu() throws Exception {
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
                "-cp", program));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            command.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
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
    }
}
