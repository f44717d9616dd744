package io.github.arelu.autograd;

import java.io.IOException;

import org.bytedeco.javacpp.Loader;

/**
 * The JavaCPP and bytedeco PyTorch releases whose generated code and headers were read for the native
 * objects this package makes by hand ({@link CarrierTable}'s virtual table, {@link HookPeers}' hook objects):
 * with any other release both step aside, for the hooks or JavaCPP's own peers.
 */
final class VerifiedVersions {

    /** The JavaCPP release whose generated @Virtual peers (Generator: class body, deallocator) were checked. */
    static final String JAVACPP = "1.5.13";
    /** The presets whose Node, FunctionPreHook and FunctionPostHook declarations were checked. */
    static final String PYTORCH = "2.10.0-1.5.13";

    private VerifiedVersions() {
    }

    /** Null when the loaded releases are the checked ones; else which one is not. */
    static String problem() {
        String javacpp = version(null, null);
        if (!JAVACPP.equals(javacpp)) {
            return "JavaCPP " + javacpp + " is not the checked " + JAVACPP;
        }
        String pytorch = version("org.bytedeco", "pytorch");
        if (!PYTORCH.equals(pytorch)) {
            return "bytedeco's pytorch " + pytorch + " is not the checked " + PYTORCH;
        }
        return null;
    }

    /** JavaCPP's version ({@code group} null) or an artifact's, as JavaCPP's loader reads it. */
    static String version(String group, String artifact) {
        try {
            return group == null ? Loader.getVersion() : Loader.getVersion(group, artifact);
        } catch (IOException e) {
            return "of unknown version";
        }
    }
}
