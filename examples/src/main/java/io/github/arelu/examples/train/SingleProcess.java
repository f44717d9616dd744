package io.github.arelu.examples.train;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/** {@link GradientSync#singleProcess()}: one process trains on every batch, nothing to combine. */
final class SingleProcess implements GradientSync {

    static final SingleProcess INSTANCE = new SingleProcess();

    private SingleProcess() {
    }

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int worldSize() {
        return 1;
    }

    @Override
    public Shard shard(int batchSize) {
        return new Shard(0, batchSize);
    }

    @Override
    public void startFrom(Module network) {
    }

    @Override
    public void shareBuffers(Module network) {
    }

    @Override
    public double sumGradients(Module network, Tensor scaledShardLoss) {
        return scaledShardLoss.item_double();
    }

    @Override
    public long sum(long value) {
        return value;
    }

    @Override
    public double communicationSeconds() {
        return 0;
    }

    @Override
    public void finish() {
    }
}
