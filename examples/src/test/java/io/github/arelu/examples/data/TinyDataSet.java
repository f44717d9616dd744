package io.github.arelu.examples.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small MNIST-format data sets written to a directory, for command tests that must not wait for real data. */
public final class TinyDataSet {

    /** Pixel i of a split is {@code i * PATTERN} (mod 256), unless a test asks for other images. */
    private static final int PATTERN = 7;

    private TinyDataSet() {
    }

    /**
     * {@code trainCount} training and {@code testCount} test images of 28x28 pixels in a fixed pattern, labels
     * {@code 0 .. classes - 1} repeating.
     */
    public static void write(Path directory, int trainCount, int testCount, int classes) throws IOException {
        writeSplit(directory, "train", trainCount, classes, 28, PATTERN);
        writeSplit(directory, "t10k", testCount, classes, 28, PATTERN);
    }

    /**
     * One split, {@code train} or {@code t10k}: {@code count} images of {@code size x size} pixels, pixel i
     * being {@code i * pattern} (mod 256), labels {@code 0 .. classes - 1} repeating; replaces its files.
     */
    public static void writeSplit(Path directory, String split, int count, int classes, int size, int pattern)
            throws IOException {
        byte[] pixels = new byte[count * size * size];
        byte[] labels = new byte[count];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * pattern);
        }
        for (int i = 0; i < count; i++) {
            labels[i] = (byte) (i % classes);
        }
        Files.write(directory.resolve(split + "-images-idx3-ubyte"),
                IdxFileTest.idx(3, new int[] {count, size, size}, pixels));
        Files.write(directory.resolve(split + "-labels-idx1-ubyte"), IdxFileTest.idx(1, new int[] {count}, labels));
    }
}
