package io.github.arelu.examples.train;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * How a {@link Trainer}'s process combines its gradients with others': {@link #singleProcess()} trains on
 * whole batches alone; a data-parallel group (such as {@code dist.DataParallel}) gives each process a
 * {@link #shard} of every batch and sums the gradients over the processes, so that every step is the one a
 * single process would make on the whole batch.
 *
 * <p>Every process of a group calls the methods in the same order, as collectives require.
 */
public interface GradientSync {

    /** The part {@code [offset, offset + length)} of a batch that this process trains or evaluates on. */
    record Shard(int offset, int length) {

        /**
         * Rank {@code rank}'s part of a batch of {@code size} in a group of {@code worldSize}: consecutive
         * parts whose lengths differ by one at most.
         */
        public static Shard of(int rank, int worldSize, int size) {
            int start = (int) ((long) rank * size / worldSize);
            int end = (int) ((long) (rank + 1) * size / worldSize);
            return new Shard(start, end - start);
        }
    }

    /** This process's number in the group, 0 to {@link #worldSize()} - 1; 0 for a process alone. */
    int rank();

    /** How many processes train together; 1 for a process alone. */
    int worldSize();

    /** This process's part of a batch of {@code batchSize} images. */
    Shard shard(int batchSize);

    /**
     * Makes every process start from the same parameters and buffers (rank 0's), and gives every process but
     * rank 0 a stream of libtorch's generator of its own, so that random activations (RReLU's slopes) differ
     * from shard to shard.
     */
    void startFrom(Module network);

    /**
     * Gives every process rank 0's buffers. BatchNorm's running statistics are the only buffers that training
     * changes, and each process updates them from its own part of each batch; a test pass split over the
     * processes must use one model's, as PyTorch's DistributedDataParallel broadcasts rank 0's.
     */
    void shareBuffers(Module network);

    /**
     * Replaces each parameter's gradient by its sum over the processes and returns the whole batch's mean
     * loss. Each process's gradients come from its shard's mean loss times its share of the batch.
     *
     * @param scaledShardLoss the loss this process's backward pass ran on; null when its shard is empty
     */
    double sumGradients(Module network, Tensor scaledShardLoss);

    /** The sum of {@code value} over the processes. */
    long sum(long value);

    /** Seconds spent combining gradients so far (waiting for the slowest process included). */
    double communicationSeconds();

    /** Returns once every process has called it, so that none leaves while another is mid-collective. */
    void finish();

    /** Training alone: whole batches, the gradients as they are. */
    static GradientSync singleProcess() {
        return SingleProcess.INSTANCE;
    }
}
