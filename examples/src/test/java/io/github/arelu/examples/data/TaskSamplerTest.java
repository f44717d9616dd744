package io.github.arelu.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** N-way K-shot tasks: the right classes under labels 0..N-1, support and query disjoint, seeded. */
class TaskSamplerTest {

    /** 10 classes with 7 images each, except class 9 with 2; every image's pixels hold its index. */
    private static MnistData data() {
        int count = 9 * 7 + 2;
        byte[] labels = new byte[count];
        byte[] pixels = new byte[count * 4];
        for (int i = 0; i < count; i++) {
            labels[i] = (byte) (i < 63 ? i % 9 : 9);
            pixels[i * 4] = (byte) i;
        }
        return new MnistData(pixels, labels, 2, 2);
    }

    @Test
    void tasksHoldWaysClassesRelabelledInDrawOrderWithDisjointSupportAndQuery() {
        MnistData data = data();
        TensorData tensors = TensorData.of(data, MnistData.CLASSES);
        TaskSampler sampler = new TaskSampler(data, tensors, 5, 2, 3);
        Random random = new Random(1);
        Set<Integer> classesSeen = new HashSet<>();
        for (int t = 0; t < 50; t++) {
            try (PointerScope scope = new PointerScope()) {
                TaskSampler.Task task = sampler.sample(random);
                assertEquals(5, new HashSet<>(java.util.Arrays.stream(task.classes()).boxed().toList()).size());
                assertArrayEquals(new long[] {0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, longs(task.supportLabels()));
                assertArrayEquals(new long[] {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}, longs(task.queryLabels()));
                Set<Long> indices = new HashSet<>();
                for (int k = 0; k < task.supportIndices().length; k++) {
                    assertEquals(task.classes()[k / 2], data.labels()[(int) task.supportIndices()[k]]);
                    assertTrue(indices.add(task.supportIndices()[k]));
                }
                for (int k = 0; k < task.queryIndices().length; k++) {
                    assertEquals(task.classes()[k / 3], data.labels()[(int) task.queryIndices()[k]]);
                    assertTrue(indices.add(task.queryIndices()[k]), "image in support and query, or twice");
                }
                // The images are those of the indices: the first pixel holds the index.
                assertTrue(firstPixels(task.queryImages()).equal(firstPixels(tensors.images()).index_select(0,
                        Tensor.create(task.queryIndices(), task.queryIndices().length))));
                assertTrue(firstPixels(task.supportImages()).equal(firstPixels(tensors.images()).index_select(0,
                        Tensor.create(task.supportIndices(), task.supportIndices().length))));
                for (int c : task.classes()) {
                    classesSeen.add(c);
                }
            }
        }
        assertEquals(Set.of(0, 1, 2, 3, 4, 5, 6, 7, 8), classesSeen, "class 9 has too few images for a task");
    }

    @Test
    void aSeedGivesTheSameTasks() {
        MnistData data = data();
        TaskSampler sampler = new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 3, 1, 1);
        TaskSampler.Task first = sampler.sample(new Random(5));
        TaskSampler.Task second = sampler.sample(new Random(5));
        assertArrayEquals(first.supportIndices(), second.supportIndices());
        assertArrayEquals(first.queryIndices(), second.queryIndices());
        assertFalse(java.util.Arrays.equals(first.supportIndices(), sampler.sample(new Random(6)).supportIndices()));
    }

    @Test
    void tooFewClassesWithEnoughImagesIsAnError() {
        MnistData data = data();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 10, 2, 1));
        assertTrue(e.getMessage().contains("; 9 classes have them"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 5, 0, 1));
        // shots + queries past int's range: no class has that many images (it wrapped negative, and all had).
        e = assertThrows(IllegalArgumentException.class,
                () -> new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 5, 1_100_000_000, 1_100_000_000));
        assertTrue(e.getMessage().contains("with 2200000000 images per class need 5 classes with that many images; "
                + "0 classes have them"), e.getMessage());
    }

    /** Class 9 has exactly shots + queries = 2 images: enough, so 10-way tasks are possible and include it. */
    @Test
    void aClassWithExactlyShotsPlusQueriesImagesIsUsed() {
        MnistData data = data();
        TaskSampler.Task task = new TaskSampler(data, TensorData.of(data, MnistData.CLASSES), 10, 1, 1)
                .sample(new Random(1));
        assertEquals(10, task.classes().length);
        assertTrue(java.util.Arrays.stream(task.classes()).anyMatch(id -> id == 9),
                java.util.Arrays.toString(task.classes()));
    }

    @Test
    void labelsOutsideTheClassesAreAnError() {
        MnistData bad = new MnistData(new byte[4 * 4], new byte[] {0, 1, 12, 2}, 2, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TaskSampler(bad, TensorData.of(bad, MnistData.CLASSES), 2, 1, 1));
        assertTrue(e.getMessage().contains("label 12 of image 2"), e.getMessage());
    }

    private static Tensor firstPixels(Tensor images) {
        return images.flatten(1, -1).select(1, 0);
    }

    private static long[] longs(Tensor tensor) {
        long[] values = new long[(int) tensor.numel()];
        for (int i = 0; i < values.length; i++) {
            values[i] = tensor.get(i).item_long();
        }
        return values;
    }
}
