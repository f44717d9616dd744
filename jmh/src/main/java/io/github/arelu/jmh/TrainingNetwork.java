package io.github.arelu.jmh;

import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.Trainer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A network of the examples with one activation, and its SGD (momentum 0.9, lr 1e-4) as the examples'
 * {@code compare} makes it: what {@link TrainingStepBenchmark} and {@link Steps} time, one step at a time.
 */
final class TrainingNetwork {
    private final MnistNetwork network;
    private final Optimizer optimizer;

    /** Initial weights from libtorch's generator as it stands. */
    TrainingNetwork(MnistNetwork.Kind kind, String activation) {
        network = kind.create(ActivationSpec.byName(activation), 10);
        optimizer = Trainer.OptimizerKind.SGD.create(network, 1e-4);
    }

    /** Initial weights from {@code seed}, as {@code compare}'s runs make them. */
    TrainingNetwork(MnistNetwork.Kind kind, String activation, long seed) {
        network = Trainer.newNetwork(kind, ActivationSpec.byName(activation), 10, seed);
        optimizer = Trainer.OptimizerKind.SGD.create(network, 1e-4);
    }

    /** One SGD step on the batch, its tensors freed at once (in a scope of its own), as the examples' training does. */
    void step(Tensor images, Tensor labels) {
        try (PointerScope scope = new PointerScope()) {
            optimizer.zero_grad();
            torch.nll_loss(network.forward(images), labels).backward();
            optimizer.step();
        }
    }
}
