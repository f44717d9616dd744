package io.github.arelu.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What a measurement ran on, for the header lines of the programs that print tables ({@link Soak}, {@link Steps}). */
final class Host {

    private Host() {
    }

    /** The CPU's model name and the widest vector instructions it has (the kernels' speed depends on them). */
    static String cpuModel() throws IOException {
        return cpuModel(Files.readAllLines(Path.of("/proc/cpuinfo")));
    }

    /** {@link #cpuModel()} from the lines of /proc/cpuinfo. */
    static String cpuModel(List<String> lines) {
        for (String line : lines) {
            if (line.startsWith("model name")) {
                String flags = lines.stream().filter(l -> l.startsWith("flags")).findFirst().orElse("");
                return line.substring(line.indexOf(':') + 1).trim()
                        + (flags.contains("avx512f") ? " (AVX-512)" : flags.contains("avx2") ? " (AVX2)" : "");
            }
        }
        return "unknown CPU";
    }

    /** The malloc this JVM runs on: tcmalloc where the launcher preloaded it. */
    static String allocator() {
        return System.getenv().getOrDefault("LD_PRELOAD", "").contains("tcmalloc") ? "tcmalloc" : "glibc malloc";
    }
}
