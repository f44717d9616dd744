package io.github.arelu.examples;

import io.github.arelu.LibTorch;
import io.github.arelu.examples.train.LibTorchSettings;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Loads libtorch the safe way before any test class and applies the examples' libtorch settings, as the
 * programs' main methods do (META-INF/services).
 */
public final class LibTorchFirst implements LauncherSessionListener {

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        LibTorch.load();
        LibTorchSettings.applyDefaults();
    }
}
