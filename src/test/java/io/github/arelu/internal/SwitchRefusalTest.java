package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

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
        return ChildJvm.run(SwitchProbe.class, option).lines().filter(l -> l.matches("(module|functional|no grad|grad): .*")).toList();
    }
}
