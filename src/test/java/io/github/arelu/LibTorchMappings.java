package io.github.arelu;

import java.io.IOException;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * A fresh JVM's view of libtorch, for {@link LibTorchTest}: loads it as a program's main does, then prints
 * {@code sum 2.0} (libtorch computed), {@code cache <dir>} (JavaCPP's cache) and {@code mapped <path>} for
 * every libtorch and c10 library mapped into the process.
 */
public final class LibTorchMappings {

    private LibTorchMappings() {
    }

    public static void main(String[] args) throws IOException {
        LibTorch.load();
        System.out.println("sum " + torch.ones(2).sum().item_double());
        System.out.println("cache " + Loader.getCacheDir().toPath().toRealPath());
        for (String path : LibTorchTest.mappedLibTorch()) {
            System.out.println("mapped " + path);
        }
    }
}
