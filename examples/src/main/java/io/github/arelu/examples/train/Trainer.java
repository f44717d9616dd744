package io.github.arelu.examples.train;

import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.DoubleStream;

import io.github.arelu.AReLU;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Trains and evaluates {@link MnistNetwork}s the way the paper's code does: mini-batches of shuffled
 * training images, NLL loss on log-softmax outputs, and a pass over the test set after every epoch.
 *
 * <p>Everything random is seeded: libtorch's global generator (weight initialization, RReLU's slopes) by
 * {@link #newNetwork} (and, in a data-parallel group, per rank by {@link GradientSync#startFrom}) and the batch
 * order by the {@link Random} the caller passes, so a seed gives the same result on the CPU every time.
 *
 * <p>A trainer changes no process-wide setting: programs set libtorch up once at their start
 * ({@link LibTorchSettings}). How its process shares batches and gradients with others is its
 * {@link GradientSync}.
 */
public final class Trainer {

    /** SGD uses momentum 0.9 like the paper's code; Adam uses libtorch's defaults. */
    public enum OptimizerKind {
        SGD, Adam;

        static final double SGD_MOMENTUM = 0.9;

        /** How summaries name it: {@code SGD (momentum 0.9)} or {@code Adam}. */
        public String description() {
            return this == SGD ? "SGD (momentum " + SGD_MOMENTUM + ")" : "Adam";
        }

        public Optimizer create(MnistNetwork network, double learningRate) {
            return switch (this) {
                case SGD -> {
                    SGDOptions options = new SGDOptions(learningRate);
                    options.momentum().put(SGD_MOMENTUM);
                    yield new SGD(network.parameters(), options);
                }
                case Adam -> new Adam(network.parameters(), new AdamOptions(learningRate));
            };
        }
    }

    /**
     * Per-epoch record of one training run; accuracies are percentages on the test set.
     *
     * @param imagesPerSecond training images per second of training, averaged over epochs; the test pass
     *     after each epoch is not part of it
     * @param seconds wall time of the whole run, test passes included
     * @param parameters every AReLU layer's alpha and beta at the start and after each epoch (empty for
     *     networks without AReLU and for runs stored without them)
     */
    public record History(double[] trainLoss, double[] testAccuracy, double imagesPerSecond, double seconds,
            List<AReLUTrajectory> parameters) {

        public History {
            parameters = List.copyOf(parameters);
        }

        /** A run without parameter trajectories. */
        public History(double[] trainLoss, double[] testAccuracy, double imagesPerSecond, double seconds) {
            this(trainLoss, testAccuracy, imagesPerSecond, seconds, List.of());
        }

        public double firstEpochAccuracy() {
            return testAccuracy[0];
        }

        public double bestAccuracy() {
            double best = Double.NEGATIVE_INFINITY;
            for (double accuracy : testAccuracy) {
                best = Math.max(best, accuracy);
            }
            return best;
        }

        public double finalLoss() {
            return trainLoss[trainLoss.length - 1];
        }
    }

    /** The most test images one forward pass of an evaluation takes. */
    private static final int EVALUATION_BATCH = 1000;
    /** Untimed steps of {@link #warmUp}. */
    static final int WARM_UP_STEPS = 10;

    private final int batchSize;
    private final ProgressBar progress;
    /** How this process's gradients combine with other processes' (or stay its own). */
    private final GradientSync sync;
    private long trainingNanos;
    private double allReduceSeconds;
    private boolean alphaProjection;

    /** A trainer for a process that trains alone. */
    public Trainer(int batchSize, ProgressBar progress) {
        this(batchSize, progress, GradientSync.singleProcess());
    }

    /**
     * A trainer whose batches of {@code batchSize} are shared out by {@code sync}: in a data-parallel group,
     * every batch is split over the ranks and their gradients summed, giving the update one process would make.
     */
    public Trainer(int batchSize, ProgressBar progress, GradientSync sync) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        this.progress = progress;
        this.sync = sync;
    }

    /**
     * Whether {@link #fit} projects every AReLU layer's alpha onto [0.01, 0.99] after each optimizer step
     * ({@link AReLU#projectAlphas}), the opt-in remedy for alpha that a step carries past the clamp;
     * off (the default) trains the paper's AReLU.
     *
     * @return this trainer
     */
    public Trainer withAlphaProjection(boolean enabled) {
        alphaProjection = enabled;
        return this;
    }

    /** Seconds spent in training passes over all {@link #fit} calls so far, without the test passes. */
    public double trainingSeconds() {
        return trainingNanos / 1e9;
    }

    /** The part of {@link #trainingSeconds} spent all-reducing gradients (0 when training alone). */
    public double allReduceSeconds() {
        return allReduceSeconds;
    }

    /**
     * {@link #newNetwork(MnistNetwork.Kind, ActivationSpec, int, long)} with every AReLU layer's alpha and beta
     * starting at {@code areluAlpha} and {@code areluBeta}: AReLU's parameters draw nothing from the generator, so
     * the other weights are those of the paper's initialization.
     */
    public static MnistNetwork newNetwork(MnistNetwork.Kind kind, ActivationSpec<?> activation, int classes, long seed,
            double areluAlpha, double areluBeta) {
        MnistNetwork network = newNetwork(kind, activation, classes, seed);
        if (areluAlpha != AReLU.DEFAULT_ALPHA || areluBeta != AReLU.DEFAULT_BETA) {
            try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                Scalar alpha = new Scalar(areluAlpha);
                Scalar beta = new Scalar(areluBeta);
                AReLUTrajectory.layers(network).values().forEach(layer -> {
                    layer.alpha().fill_(alpha);
                    layer.beta().fill_(beta);
                });
            }
        }
        return network;
    }

    /** A network whose initial weights depend only on {@code seed}, {@code kind} and {@code classes}. */
    public static MnistNetwork newNetwork(MnistNetwork.Kind kind, ActivationSpec<?> activation, int classes, long seed) {
        torch.manual_seed(seed);
        return kind.create(activation, classes);
    }

    /**
     * Trains a throwaway network with {@code activation} for a few untimed steps on the first batch of
     * {@code train}, so that one-time costs (loading and linking native code, compiling the Java path) stay
     * out of the first timed epoch's images/s: whichever activation ran first used to pay them. Results are
     * unchanged, as {@link #newNetwork} seeds libtorch's generator for every real run.
     */
    public void warmUp(MnistNetwork.Kind kind, ActivationSpec<?> activation, TensorData train) {
        if (train.count() == 0) {
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork network = kind.create(activation, train.classes());
            repeatSteps(network, OptimizerKind.SGD.create(network, 1e-4), firstBatch(train), WARM_UP_STEPS);
        }
    }

    /** Images per second of training steps and of evaluation, as {@link #measure} found them. */
    public record Throughput(double training, double evaluation) {

        /** Seconds of {@code epochs} epochs on {@code trainCount} images, each followed by a test pass. */
        public double secondsFor(int epochs, int trainCount, int testCount) {
            return epochs * (trainCount / training + testCount / evaluation);
        }
    }

    /**
     * How fast a throwaway network with {@code activation} trains with {@code optimizerKind} and evaluates here:
     * after a {@link #warmUp}, {@code timedSteps} steps on the first batch of {@code train}, then one evaluation
     * pass over the first (up to) {@value #EVALUATION_BATCH} images of {@code test}. For telling the user
     * how long an experiment will take before it starts; libtorch's generator is not reseeded, so call it
     * before the seeded runs or accept that it draws from the generator.
     */
    public Throughput measure(MnistNetwork.Kind kind, ActivationSpec<?> activation, OptimizerKind optimizerKind,
            TensorData train, TensorData test, int timedSteps) {
        if (timedSteps < 1 || train.count() == 0 || test.count() == 0) {
            throw new IllegalArgumentException("measuring needs at least one step, training and test images; got "
                    + timedSteps + " steps, " + train.count() + " training and " + test.count() + " test images");
        }
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork network = kind.create(activation, train.classes());
            Optimizer optimizer = optimizerKind.create(network, 1e-4);
            Batch batch = firstBatch(train);
            repeatSteps(network, optimizer, batch, WARM_UP_STEPS);
            long start = System.nanoTime();
            repeatSteps(network, optimizer, batch, timedSteps);
            double training = (double) timedSteps * batch.size() / ((System.nanoTime() - start) / 1e9);
            TensorData evaluationImages = new TensorData(test.images().narrow(0, 0, Math.min(EVALUATION_BATCH,
                    test.count())), test.labels().narrow(0, 0, Math.min(EVALUATION_BATCH, test.count())), test.classes());
            start = System.nanoTime();
            try {
                evaluate(network, evaluationImages);
            } catch (NonFiniteResultException e) {
                throw e.in("a timing run of " + activation.name() + " at lr 1e-4");
            }
            double evaluation = evaluationImages.count() / ((System.nanoTime() - start) / 1e9);
            return new Throughput(training, evaluation);
        }
    }

    /**
     * The numbers of images that a trainer's forward passes take in one process, for checks that depend on the
     * shapes (oneDNN picks its convolution kernels by shape).
     *
     * @param training those of a training step (forward and backward, in training mode), in ascending order
     * @param evaluation those of a test batch (forward only, in eval mode, without gradients), in ascending order
     */
    public record BatchSizes(Set<Integer> training, Set<Integer> evaluation) {

        /** No forward passes at all. */
        public static final BatchSizes NONE = new BatchSizes(Set.of(), Set.of());

        public BatchSizes {
            training = Collections.unmodifiableSortedSet(new TreeSet<>(training));
            evaluation = Collections.unmodifiableSortedSet(new TreeSet<>(evaluation));
        }

        /**
         * Those of a trainer of {@code batchSize} in rank {@code rank} of {@code worldSize} processes on
         * {@code trainImages} training and {@code testImages} test images: the steps of {@link #fit} (of which
         * {@link #warmUp}'s and {@link #measure}'s are the first) and the test batches of its evaluations (of
         * which, in a process alone, {@link #measure}'s is the first, and {@link #accuracy}'s are all).
         */
        public static BatchSizes of(int trainImages, int testImages, int batchSize, int rank, int worldSize) {
            Set<Integer> training = new TreeSet<>();
            addShare(training, Math.min(batchSize, trainImages), rank, worldSize);
            // An epoch's last step takes the images that are left.
            if (trainImages > batchSize && trainImages % batchSize != 0) {
                addShare(training, trainImages % batchSize, rank, worldSize);
            }
            Set<Integer> evaluation = new TreeSet<>();
            int testShare = GradientSync.Shard.of(rank, worldSize, testImages).length();
            if (testShare > 0) {
                evaluation.add(Math.min(EVALUATION_BATCH, testShare));
            }
            if (testShare > EVALUATION_BATCH && testShare % EVALUATION_BATCH != 0) {
                evaluation.add(testShare % EVALUATION_BATCH);
            }
            return new BatchSizes(training, evaluation);
        }

        /** Those of both. */
        public BatchSizes and(BatchSizes other) {
            Set<Integer> allTraining = new TreeSet<>(training);
            allTraining.addAll(other.training);
            Set<Integer> allEvaluation = new TreeSet<>(evaluation);
            allEvaluation.addAll(other.evaluation);
            return new BatchSizes(allTraining, allEvaluation);
        }

        /** A rank's shard of a step of {@code images}; a rank whose shard is empty runs no forward pass. */
        private static void addShare(Set<Integer> sizes, int images, int rank, int worldSize) {
            int share = GradientSync.Shard.of(rank, worldSize, images).length();
            if (share > 0) {
                sizes.add(share);
            }
        }
    }

    /**
     * The first mini-batch of a data set, or this rank's shard of it.
     *
     * @param size the whole batch's size
     * @param share the shard's part of the whole batch (1 when training alone)
     */
    private record Batch(Tensor images, Tensor labels, int size, double share) {
    }

    private Batch firstBatch(TensorData train) {
        int size = Math.min(batchSize, train.count());
        GradientSync.Shard shard = sync.shard(size);
        return new Batch(train.images().narrow(0, shard.offset(), shard.length()),
                train.labels().narrow(0, shard.offset(), shard.length()), size, (double) shard.length() / size);
    }

    private void repeatSteps(MnistNetwork network, Optimizer optimizer, Batch batch, int steps) {
        for (int step = 0; step < steps; step++) {
            try (PointerScope stepScope = new PointerScope()) {
                step(network, optimizer, batch.images(), batch.labels(), batch.share());
            }
        }
    }

    /**
     * Trains {@code network} for {@code epochs} epochs with a new optimizer at {@code learningRate},
     * evaluating on {@code test} and recording its AReLU layers' parameters after each.
     *
     * @throws IllegalArgumentException when {@code train} or {@code test} holds no images: no step to take,
     *     or an accuracy of 0 / 0
     * @throws NonFiniteResultException when a training loss, or the network's output for a test image, is NaN
     *     or infinite
     */
    public History fit(MnistNetwork network, OptimizerKind optimizerKind, double learningRate, int epochs,
            TensorData train, TensorData test, Random shuffle, String label) {
        if (train.count() == 0 || test.count() == 0) {
            throw new IllegalArgumentException("training needs training and test images; got " + train.count()
                    + " training and " + test.count() + " test images");
        }
        sync.startFrom(network);
        Optimizer optimizer = optimizerKind.create(network, learningRate);
        AReLUTrajectory.Recorder parameters = new AReLUTrajectory.Recorder(network);
        // Grown epoch by epoch rather than sized by epochs: a huge --epochs is a run stopped by hand, not a
        // request for arrays of that size up front.
        DoubleStream.Builder losses = DoubleStream.builder();
        DoubleStream.Builder accuracies = DoubleStream.builder();
        double throughputSum = 0;
        long start = System.nanoTime();
        for (int epoch = 0; epoch < epochs; epoch++) {
            progress.start(label + " epoch " + (epoch + 1) + "/" + epochs, train.count());
            long trainingStart = System.nanoTime();
            double allReduceBefore = sync.communicationSeconds();
            double loss;
            long trainingTime;
            double communicationSeconds;
            double accuracy;
            try {
                loss = trainEpoch(network, optimizer, train, shuffle);
                trainingTime = System.nanoTime() - trainingStart;
                communicationSeconds = sync.communicationSeconds() - allReduceBefore;
                accuracy = evaluate(network, test);
            } catch (NonFiniteResultException e) {
                progress.interrupt();
                throw e.in(label + ", epoch " + (epoch + 1));
            }
            trainingNanos += trainingTime;
            allReduceSeconds += communicationSeconds;
            double throughput = train.count() / (trainingTime / 1e9);
            losses.add(loss);
            accuracies.add(accuracy);
            parameters.sample();
            throughputSum += throughput;
            progress.finish(train.count(), throughput,
                    String.format(Locale.ROOT, "loss %.4f, test accuracy %.2f %%", loss, accuracy));
        }
        return new History(losses.build().toArray(), accuracies.build().toArray(), throughputSum / epochs,
                (System.nanoTime() - start) / 1e9, parameters.trajectories());
    }

    /**
     * One pass over {@code train} in a shuffled order; returns the mean training loss per image. In a
     * data-parallel group every rank draws the same order (the same seed) and trains on its shard of
     * each batch. With {@link #withAlphaProjection alpha projection}, every AReLU layer's alpha is projected onto
     * its clamp range after every step.
     *
     * @throws NonFiniteResultException the moment a batch's loss is NaN or infinite (in a group, every rank
     *     sees the same summed loss, so all of them stop)
     */
    double trainEpoch(MnistNetwork network, Optimizer optimizer, TensorData train, Random shuffle) {
        network.train(true);
        int count = train.count();
        double lossSum = 0;
        try (PointerScope epochScope = new PointerScope()) {
            Tensor order = Tensor.create(shuffledIndices(count, shuffle), count);
            for (int start = 0; start < count; start += batchSize) {
                int size = Math.min(batchSize, count - start);
                // Each step's tensors are freed at once; left to the GC they pile up and slow libtorch down.
                try (PointerScope stepScope = new PointerScope()) {
                    GradientSync.Shard shard = sync.shard(size);
                    Tensor batch = order.narrow(0, start + shard.offset(), shard.length());
                    Tensor images = train.images().index_select(0, batch);
                    Tensor labels = train.labels().index_select(0, batch);
                    double loss = step(network, optimizer, images, labels, (double) shard.length() / size);
                    if (alphaProjection) {
                        AReLU.projectAlphas(network);
                    }
                    if (!Double.isFinite(loss)) {
                        throw new NonFiniteResultException(String.format(java.util.Locale.ROOT,
                                "the training loss is %s at the batch of images %d to %d of %d; training stopped, "
                                + "since every later figure would be meaningless.%s", loss, start + 1, start + size,
                                count, whatToTry(" Try a smaller learning rate.")));
                    }
                    lossSum += loss * size;
                }
                progress.update(start + size, lossSum / (start + size));
            }
        }
        return lossSum / count;
    }

    /**
     * One SGD or Adam step on one batch, or on this rank's shard of it, which is {@code share} of the batch;
     * returns the whole batch's mean loss. A shard's mean loss is scaled by its share before the backward
     * pass, so the sum over the ranks of the gradients is the gradient of the batch's mean loss.
     */
    private double step(MnistNetwork network, Optimizer optimizer, Tensor images, Tensor labels, double share) {
        optimizer.zero_grad();
        // A shard is empty when a last batch has fewer images than there are ranks: no loss, zero gradients.
        Tensor loss = images.size(0) == 0 ? null : torch.nll_loss(network.forward(images), labels);
        Tensor scaledLoss = loss == null || share == 1 ? loss : loss.mul(new Scalar(share));
        if (scaledLoss != null) {
            scaledLoss.backward();
        }
        double batchLoss = sync.sumGradients(network, scaledLoss);
        optimizer.step();
        return batchLoss;
    }

    /** {@link #accuracy} on the whole of {@code test}; in a group each rank counts its shard of it. */
    private double evaluate(MnistNetwork network, TensorData test) {
        // Each process scores its part of the test set: with one model's BatchNorm statistics, rank 0's.
        sync.shareBuffers(network);
        GradientSync.Shard shard = sync.shard(test.count());
        Score score = score(network, test, shard.offset(), shard.length());
        // Every rank takes part in both sums, so that all of them stop together or none does.
        long nonFinite = sync.sum(score.nonFinite());
        long correct = sync.sum(score.correct());
        if (nonFinite > 0) {
            throw nonFiniteOutput(nonFinite, test.count());
        }
        return 100.0 * correct / test.count();
    }

    /**
     * Percentage of {@code test} that {@code network} classifies correctly, in eval mode without gradients.
     *
     * @throws NonFiniteResultException when the network's output for some image is NaN or infinite
     */
    public static double accuracy(MnistNetwork network, TensorData test) {
        Score score = score(network, test, 0, test.count());
        if (score.nonFinite() > 0) {
            throw nonFiniteOutput(score.nonFinite(), test.count());
        }
        return 100.0 * score.correct() / test.count();
    }

    /**
     * Of some test images, how many the network classifies correctly, and for how many its output is not finite:
     * the argmax of a NaN row is a class all the same, so an accuracy from such outputs would be a number
     * without meaning.
     */
    private record Score(long correct, long nonFinite) {
    }

    /** Scores the {@code count} test images from {@code first} on. */
    private static Score score(MnistNetwork network, TensorData test, int first, int count) {
        network.eval();
        long correct = 0;
        long nonFinite = 0;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (int start = first; start < first + count; start += EVALUATION_BATCH) {
                int size = Math.min(EVALUATION_BATCH, first + count - start);
                try (PointerScope batchScope = new PointerScope()) {
                    Tensor output = network.forward(test.images().narrow(0, start, size));
                    nonFinite += output.isfinite().all(1).logical_not().sum().item_long();
                    Tensor predictions = output.argmax(new LongOptional(1), false);
                    correct += predictions.eq(test.labels().narrow(0, start, size)).sum().item_long();
                }
            }
        } finally {
            network.train(true);
        }
        return new Score(correct, nonFinite);
    }

    private static NonFiniteResultException nonFiniteOutput(long nonFinite, int images) {
        return new NonFiniteResultException(String.format(java.util.Locale.ROOT, "the network's output is NaN or "
                + "infinite for %d of the %d test images; scoring stopped, since an accuracy from it would be "
                + "meaningless.%s", nonFinite, images, whatToTry(" Its weights are likely no longer finite after the "
                + "last step: try a smaller learning rate.")));
    }

    /** {@code otherwise}, unless oneDNN's convolutions are on: then the advice to try without them. */
    private static String whatToTry(String otherwise) {
        return LibTorchSettings.oneDnnEnabled() ? " oneDNN convolutions are on: bytedeco's 2.10.0 build returns NaN "
                + "from them on some machines, try without them." : otherwise;
    }

    /** A permutation of {@code 0 .. count - 1} drawn from {@code random} (Fisher-Yates). */
    static long[] shuffledIndices(int count, Random random) {
        long[] indices = new long[count];
        for (int i = 0; i < count; i++) {
            indices[i] = i;
        }
        for (int i = count - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long swap = indices[i];
            indices[i] = indices[j];
            indices[j] = swap;
        }
        return indices;
    }
}
