package io.github.arelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Only bytedeco's libtorch is in the process: every libtorch and c10 library mapped into this JVM comes
 * from JavaCPP's cache, none from the system (a system libtorch of another version is what crashed a
 * fresh machine's first run). bin/test runs this suite with an empty cache on a machine with Debian's
 * libtorch installed, the case that used to fail.
 */
class LibTorchTest {

    private static final Pattern LIBTORCH = Pattern.compile("/lib(torch[a-z_]*|c10[a-z_]*)\\.so[.0-9]*$");

    @Test
    void libtorchComesOnlyFromJavaCppsCache() throws IOException {
        LibTorch.load();
        assertEquals(2.0, torch.ones(2).sum().item_double());
        Path cache = Loader.getCacheDir().toPath().toRealPath();
        List<String> mapped = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(line -> line.contains("/"))
                .map(line -> line.substring(line.indexOf('/')))
                .filter(path -> LIBTORCH.matcher(path).find())
                .distinct()
                .toList();
        assertFalse(mapped.stream().noneMatch(path -> path.endsWith("/libtorch_cpu.so")),
                "libtorch_cpu.so is not mapped at all: " + mapped);
        for (String path : mapped) {
            assertTrue(Path.of(path).startsWith(cache), path + " is mapped from outside JavaCPP's cache " + cache
                    + "; all mapped libtorch libraries: " + mapped);
        }
    }

    @Test
    void loadIsIdempotent() {
        LibTorch.load();
        LibTorch.load();
        assertEquals(3.0, torch.ones(3).sum().item_double());
    }
}
