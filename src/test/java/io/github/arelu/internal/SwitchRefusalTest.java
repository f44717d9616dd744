package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * A switch with a value that is none of its words is refused by an IllegalArgumentException naming it at every use
 * it concerns, the second as the first: thrown from a static initializer, it had reached the first caller as an
 * ExceptionInInitializerError and every later one as a NoClassDefFoundError without the reason. The per-call hooks
 * switch is refused where nodes use the library's table too, which never read it.
 */
class SwitchRefusalTest {

    @Test
    void theCudaSwitchIsRefusedAtEveryModuleAndEveryCallThatTakesItsDefault() throws Exception {
        String refusal = "java.lang.IllegalArgumentException: -Darelu.cuda.fused must be true or false, got 'yes'";
        List<String> lines = probe("-Darelu.cuda.fused=yes");
        assertEquals(List.of("module: " + refusal, "functional: " + refusal, "no grad: ok", "grad: ok",
                "module: " + refusal, "functional: " + refusal, "no grad: ok", "grad: ok"), lines);
    }

    @Test
    void theNodeSwitchesAreRefusedAtEveryCallThatMayRecordANode() throws Exception {
        for (String[] bad : new String[][] {{"io.github.arelu.autograd.node", "hook", "hooks or table"},
            {"io.github.arelu.autograd.perCallHooks", "1", "true or false"}}) {
            String refusal = "java.lang.IllegalArgumentException: -D" + bad[0] + " must be " + bad[2] + ", got '"
                    + bad[1] + "'";
            List<String> lines = probe("-D" + bad[0] + "=" + bad[1]);
            assertEquals(List.of("module: ok", "functional: ok", "no grad: ok", "grad: " + refusal,
                    "module: ok", "functional: ok", "no grad: ok", "grad: " + refusal), lines);
        }
    }

    private static List<String> probe(String option) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                option));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            command.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        command.add(SwitchProbe.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the child JVM did not end: " + output);
        assertEquals(0, process.exitValue(), output);
        return output.lines().filter(l -> l.matches("(module|functional|no grad|grad): .*")).toList();
    }
}
