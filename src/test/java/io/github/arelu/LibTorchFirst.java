package io.github.arelu;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Loads libtorch through {@link LibTorch#load()} before any test class is loaded, as a program's main
 * should: a test that touches a bytedeco class first would otherwise load libtorch the unsafe way on a
 * machine with a system libtorch and an empty JavaCPP cache (registered in META-INF/services).
 */
public final class LibTorchFirst implements LauncherSessionListener {

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        LibTorch.load();
    }
}
