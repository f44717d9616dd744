package io.github.arelu.examples.data;

import org.bytedeco.pytorch.Tensor;

/**
 * A data set held as two libtorch tensors for the whole run, so a batch is one {@code index_select} and the
 * pixels are scaled and normalized once rather than on every epoch.
 *
 * @param images float32 {@code [N, 1, rows, columns]}: pixels scaled to [0, 1], then normalized as a
 *     {@link Normalization} says
 * @param labels int64 {@code [N]}
 */
public record TensorData(Tensor images, Tensor labels, int classes) {

    /**
     * MNIST's pixel mean and standard deviation, as the paper's meta-learning script normalizes with
     * ({@code transforms.Normalize((0.1307,), (0.3081,))}); kept for Fashion-MNIST too so the protocol is
     * not tuned to the data set.
     */
    public static final float MEAN = 0.1307f;
    public static final float STD = 0.3081f;

    /** What becomes of the pixels once scaled to [0, 1]. */
    public enum Normalization {
        /** Normalized with MNIST's {@link #MEAN} and {@link #STD}, as the paper's meta-learning script does. */
        mnist,
        /** Left in [0, 1], as the paper's activation comparison and transfer feed them. */
        none
    }

    /** {@link #of(MnistData, int, Normalization)} with MNIST's normalization. */
    public static TensorData of(MnistData data, int classes) {
        return of(data, classes, Normalization.mnist);
    }

    /**
     * Copies {@code data} into tensors. Call it outside any {@code PointerScope} (or keep the result with
     * {@code retainReference()}): the tensors live as long as the experiment.
     */
    public static TensorData of(MnistData data, int classes, Normalization normalization) {
        int pixelsPerImage = data.pixelsPerImage();
        float[] normalized = new float[data.count() * pixelsPerImage];
        byte[] pixels = data.pixels();
        boolean mnist = normalization == Normalization.mnist;
        for (int i = 0; i < normalized.length; i++) {
            float unit = Byte.toUnsignedInt(pixels[i]) / 255f;
            normalized[i] = mnist ? (unit - MEAN) / STD : unit;
        }
        long[] labels = new long[data.count()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = data.labels()[i];
        }
        Tensor images = Tensor.create(normalized, data.count(), 1, data.rows(), data.columns());
        return new TensorData(images, Tensor.create(labels, labels.length), classes);
    }

    public int count() {
        return (int) labels.size(0);
    }
}
