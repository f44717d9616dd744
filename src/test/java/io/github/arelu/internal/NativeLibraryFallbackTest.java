package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A native library that the dynamic loader refuses: AReLU logs once why, in the loader's words, and computes
 * the reference's values and gradients with libtorch's operations.
 */
class NativeLibraryFallbackTest {

    @Test
    void aFileThatIsNoLibraryIsNamedWithTheLoadersReason(@TempDir Path work) throws Exception {
        Path junk = Files.writeString(work.resolve("libarelu.so"), "not a shared library\n".repeat(200));
        String output = ChildJvm.run(FallbackProbe.class, "-Darelu.library.path=" + junk);
        List<String> lines = output.lines().toList();
        String reason = lines.stream().filter(l -> l.startsWith("reason ")).findFirst().orElse("no reason line");
        // The dynamic loader's words, not only FFM's "Cannot open library".
        assertTrue(reason.contains(junk.toString()) && reason.contains("invalid ELF header"), output);
        assertTrue(lines.contains("path COMPOSED"), output);
        // Logged once, with the reason.
        assertEquals(1, lines.stream().filter(l -> l.contains("fused native kernels are unavailable")).count(), output);
        String difference = lines.stream().filter(l -> l.startsWith("difference ")).findFirst()
                .orElseThrow(() -> new AssertionError(output));
        assertEquals(0.0, Double.parseDouble(difference.substring("difference ".length())), 1e-6, output);
    }
}
