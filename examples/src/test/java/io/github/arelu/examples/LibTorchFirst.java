package io.github.arelu.examples;

import io.github.arelu.LibTorch;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/** Loads libtorch the safe way before any test class, as the commands' main methods do (META-INF/services). */
public final class LibTorchFirst implements LauncherSessionListener {

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        LibTorch.load();
    }
}
