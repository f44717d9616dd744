package io.github.arelu.examples.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.bytedeco.pytorch.Tensor;

/**
 * N-way K-shot classification tasks drawn from a labelled data set, as MAML trains and evaluates on: each
 * task picks {@code ways} distinct classes at random, relabels them {@code 0 .. ways - 1} in the order
 * drawn, and takes {@code shots} support and {@code queries} query images of each class, all distinct.
 * Seeded by the {@link Random} given, so a seed gives the same tasks every time.
 */
public final class TaskSampler {

    /**
     * One task. Support and query hold the same classes under the same labels, and no image is in both.
     *
     * @param classes the original class of each new label: {@code classes[label]}
     * @param supportIndices indices into the data set of the support images, label by label
     * @param queryIndices indices into the data set of the query images, label by label
     */
    public record Task(Tensor supportImages, Tensor supportLabels, Tensor queryImages, Tensor queryLabels,
            int[] classes, long[] supportIndices, long[] queryIndices) {
    }

    private final TensorData tensors;
    private final int ways;
    private final int shots;
    private final int queries;
    /** The classes that have enough images for a task, and the indices of each one's images. */
    private final List<Integer> classIds = new ArrayList<>();
    private final List<List<Integer>> indicesByClass = new ArrayList<>();

    /**
     * @param data the images' labels, read from here
     * @param tensors the same data set as tensors, where the tasks' images are taken from
     * @throws IllegalArgumentException when {@code ways}, {@code shots} or {@code queries} is below 1, the
     *     two forms of the data set differ in size, or it has fewer than {@code ways} classes with
     *     {@code shots + queries} images each
     */
    public TaskSampler(MnistData data, TensorData tensors, int ways, int shots, int queries) {
        if (ways < 1 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("ways, shots and queries must be at least 1, got " + ways + ", " + shots
                    + " and " + queries);
        }
        if (data.count() != tensors.count()) {
            throw new IllegalArgumentException(data.count() + " labels for " + tensors.count() + " images");
        }
        this.tensors = tensors;
        this.ways = ways;
        this.shots = shots;
        this.queries = queries;
        List<List<Integer>> all = new ArrayList<>();
        for (int i = 0; i < MnistData.CLASSES; i++) {
            all.add(new ArrayList<>());
        }
        byte[] labels = data.labels();
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= MnistData.CLASSES) {
                throw new IllegalArgumentException("label " + Byte.toUnsignedInt(labels[i]) + " of image " + i
                        + " is outside 0.." + (MnistData.CLASSES - 1));
            }
            all.get(labels[i]).add(i);
        }
        // In long: shots + queries of the user's choosing may pass int's range, and every class would then qualify.
        long perClass = (long) shots + queries;
        for (int id = 0; id < all.size(); id++) {
            if (all.get(id).size() >= perClass) {
                classIds.add(id);
                indicesByClass.add(all.get(id));
            }
        }
        if (classIds.size() < ways) {
            throw new IllegalArgumentException(ways + "-way tasks with " + perClass + " images per class "
                    + "need " + ways + " classes with that many images; " + (classIds.size() == 1 ? "1 class has"
                    : classIds.size() + " classes have") + " them");
        }
    }

    /** Draws the next task from {@code random}. */
    public Task sample(Random random) {
        List<Integer> classOrder = new ArrayList<>();
        for (int i = 0; i < indicesByClass.size(); i++) {
            classOrder.add(i);
        }
        Collections.shuffle(classOrder, random);
        int[] classes = new int[ways];
        long[] support = new long[ways * shots];
        long[] query = new long[ways * queries];
        long[] supportLabels = new long[ways * shots];
        long[] queryLabels = new long[ways * queries];
        for (int label = 0; label < ways; label++) {
            List<Integer> candidates = indicesByClass.get(classOrder.get(label));
            classes[label] = classIds.get(classOrder.get(label));
            // A partial Fisher-Yates draw of shots + queries distinct images of the class.
            int[] drawn = drawDistinct(candidates.size(), shots + queries, random);
            for (int k = 0; k < shots; k++) {
                support[label * shots + k] = candidates.get(drawn[k]);
                supportLabels[label * shots + k] = label;
            }
            for (int k = 0; k < queries; k++) {
                query[label * queries + k] = candidates.get(drawn[shots + k]);
                queryLabels[label * queries + k] = label;
            }
        }
        return new Task(select(support), Tensor.create(supportLabels, supportLabels.length), select(query),
                Tensor.create(queryLabels, queryLabels.length), classes, support, query);
    }

    private Tensor select(long[] indices) {
        return tensors.images().index_select(0, Tensor.create(indices, indices.length));
    }

    private static int[] drawDistinct(int population, int count, Random random) {
        int[] pool = new int[population];
        for (int i = 0; i < population; i++) {
            pool[i] = i;
        }
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(population - i);
            int swap = pool[i];
            pool[i] = pool[j];
            pool[j] = swap;
        }
        return Arrays.copyOf(pool, count);
    }
}
