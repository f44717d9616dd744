package io.github.arelu.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * No kind of call leaves native memory behind: {@link NativeHeapProgram} counts, in a JVM with tcmalloc preloaded,
 * the bytes malloc'd and not freed per call. {@link PerCallResidueTest} counts what this library makes (nodes, hooks,
 * JavaCPP peers); this counts everything else too, such as the 16 bytes that bytedeco leaks for each empty {@code
 * std::shared_ptr} it returns, which the node once paid on every call with a leaf input or parameters shaped {@code
 * [C, 1, 1]}. The smallest block malloc hands out is 8 bytes, so a leak moves the median window by 8 bytes a call or
 * more; the JVM's own mallocs move it by well under one.
 */
class PerCallNativeHeapTest {

    private static final Path TCMALLOC = Path.of("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4");
    private static final double MOST_BYTES_PER_CALL = 2.0;
    private static final Pattern LINE = Pattern.compile("(.+): median (-?[0-9.]+) windows (.*)");
    private static final int KINDS = 8;

    @Test
    void noKindOfCallLeavesNativeMemoryBehind() throws Exception {
        assumeTrue(Files.exists(TCMALLOC), "tcmalloc is not installed (" + TCMALLOC + "; bin/setup installs it)");
        // Serial GC, C1 only and compilation in the foreground: the fewest mallocs of the JVM's own in the windows.
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xbatch", "-Xmx256m", "-cp", System.getProperty("java.class.path")));
        String node = System.getProperty(NodeSwitches.NODE);
        if (node != null) {
            command.add("-D" + NodeSwitches.NODE + "=" + node);
        }
        command.add(NativeHeapProgram.class.getName());
        Path log = Files.createTempFile("native-heap", ".log");
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put("LD_PRELOAD", TCMALLOC.toString());
            Process process = builder.start();
            boolean ended = process.waitFor(300, TimeUnit.SECONDS);
            if (!ended) {
                process.destroyForcibly().waitFor();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            assertTrue(ended, "the child JVM did not end in 300 s:\n" + output);
            assertEquals(0, process.exitValue(), String.join(" ", command) + "\n" + output);
            checkEveryKind(output);
        } finally {
            Files.delete(log);
        }
    }

    /** The child ran with this JVM's kind of node, and every kind's median window is under the limit. */
    private static void checkEveryKind(String output) {
        System.out.print(output); // the windows, for the record
        // The child must make its nodes as this JVM does (the build's second test run asks for hooks).
        String nodes = CarrierTable.available() ? "our virtual table" : "hooks";
        assertTrue(output.lines().anyMatch(("nodes with " + nodes)::equals), "expected nodes with " + nodes + ":\n"
                + output);
        int kinds = 0;
        for (String line : output.lines().toList()) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                kinds++;
                assertTrue(Double.parseDouble(m.group(2)) < MOST_BYTES_PER_CALL, m.group(1) + " leaves "
                        + m.group(2) + " bytes of native heap per call (windows: " + m.group(3) + ")\n" + output);
            }
        }
        assertEquals(KINDS, kinds, "kinds of call measured:\n" + output);
    }
}
