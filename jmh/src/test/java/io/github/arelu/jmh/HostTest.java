package io.github.arelu.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The CPU line of the tables' headers, from /proc/cpuinfo. */
class HostTest {

    private static List<String> cpuinfo(String flags) {
        return List.of("processor\t: 0", "model name\t: Intel(R) Xeon(R) Platinum 8480+", "flags\t\t: fpu sse2 " + flags,
                "processor\t: 1");
    }

    @Test
    void theWidestVectorInstructionsAreNamed() {
        assertEquals("Intel(R) Xeon(R) Platinum 8480+ (AVX-512)", Host.cpuModel(cpuinfo("avx avx2 avx512f avx512bw")));
        assertEquals("Intel(R) Xeon(R) Platinum 8480+ (AVX2)", Host.cpuModel(cpuinfo("avx avx2")));
        assertEquals("Intel(R) Xeon(R) Platinum 8480+", Host.cpuModel(cpuinfo("avx")));
        assertEquals("unknown CPU", Host.cpuModel(List.of("processor\t: 0")));
    }
}
