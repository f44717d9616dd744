package io.github.arelu.autograd;

import io.github.arelu.internal.Switches;

/**
 * The two {@code -D} switches of this package, read once and checked at every {@link JavaFunction#apply} with an
 * input that requires grad: a value that is none of a switch's words is refused, by an {@code IllegalArgumentException} naming
 * it, whichever kind of node this process makes (the per-call hooks switch too where nodes use our table and never
 * read it).
 */
final class NodeSwitches {

    /** {@code hooks}: make nodes with hooks instead of our table; {@code table} (the default): ours where it can. */
    static final String NODE = "io.github.arelu.autograd.node";
    /** {@code true}: one JavaCPP peer per hook (the fallback), for comparisons. */
    static final String PER_CALL_HOOKS = "io.github.arelu.autograd.perCallHooks";

    private static final Switches.Setting NODE_SETTING = Switches.read(NODE, "hooks", "table");
    private static final Switches.Setting PER_CALL_HOOKS_SETTING = Switches.read(PER_CALL_HOOKS, "true", "false");

    private NodeSwitches() {
    }

    /**
     * @throws IllegalArgumentException where either switch has a value that is none of its words, naming it
     */
    static void check() {
        NODE_SETTING.get();
        PER_CALL_HOOKS_SETTING.get();
    }

    /** Whether {@code -Dio.github.arelu.autograd.node=hooks} asks for hooks; false where a switch is refused. */
    static boolean hooksAskedFor() {
        return "hooks".equals(NODE_SETTING.word());
    }

    /** Whether {@code -Dio.github.arelu.autograd.perCallHooks=true} asks for them; false where it is refused. */
    static boolean perCallHooksAskedFor() {
        return "true".equals(PER_CALL_HOOKS_SETTING.word());
    }
}
