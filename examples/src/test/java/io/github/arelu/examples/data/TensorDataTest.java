package io.github.arelu.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/** Pixels become inputs as {@code --normalize} says: MNIST's normalization, or [0, 1] as the paper's code. */
class TensorDataTest {

    @Test
    void pixelsAreScaledThenNormalizedOrLeftInTheUnitRange() {
        byte[] pixels = new byte[28 * 28];
        pixels[0] = (byte) 255;
        pixels[1] = (byte) 51;
        MnistData data = new MnistData(pixels, new byte[] {3}, 28, 28);
        float[] unit = firstThree(TensorData.of(data, MnistData.CLASSES, TensorData.Normalization.none));
        assertArrayEquals(new float[] {1f, 51 / 255f, 0f}, unit);
        float[] mnist = firstThree(TensorData.of(data, MnistData.CLASSES));
        assertArrayEquals(new float[] {(1f - TensorData.MEAN) / TensorData.STD, (51 / 255f - TensorData.MEAN)
            / TensorData.STD, -TensorData.MEAN / TensorData.STD}, mnist);
    }

    private static float[] firstThree(TensorData tensors) {
        float[] values = new float[3];
        new FloatPointer(tensors.images().contiguous().data_ptr_float()).get(values);
        return values;
    }
}
