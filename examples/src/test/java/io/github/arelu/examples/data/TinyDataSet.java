package io.github.arelu.examples.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small MNIST-format data sets written to a directory, for command tests that must not wait for real data. */
public final class TinyDataSet {

    private TinyDataSet() {
    }

    /**
     * {@code trainCount} training and {@code testCount} test images of 28x28 pixels in a fixed pattern, labels
     * {@code 0 .. classes - 1} repeating.
     */
    public static void write(Path directory, int trainCount, int testCount, int classes) throws IOException {
        for (String split : new String[] {"train", "t10k"}) {
            int count = split.equals("train") ? trainCount : testCount;
            byte[] pixels = new byte[count * 28 * 28];
            byte[] labels = new byte[count];
            for (int i = 0; i < pixels.length; i++) {
                pixels[i] = (byte) (i * 7);
            }
            for (int i = 0; i < count; i++) {
                labels[i] = (byte) (i % classes);
            }
            Files.write(directory.resolve(split + "-images-idx3-ubyte"),
                    IdxFileTest.idx(3, new int[] {count, 28, 28}, pixels));
            Files.write(directory.resolve(split + "-labels-idx1-ubyte"), IdxFileTest.idx(1, new int[] {count}, labels));
        }
    }
}
