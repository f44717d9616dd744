package io.github.arelu.examples.cli;

import io.github.arelu.examples.model.MnistNetwork;
import io.github.arelu.examples.train.LibTorchSettings;
import io.github.arelu.examples.train.Trainer;

/**
 * The process-wide libtorch settings an experiment's options ask for, which {@link Main} applies once, after
 * the options are checked and before the experiment runs.
 *
 * @param oneDnn what {@code --onednn} asks for; auto checks oneDNN on {@code network}'s convolutions at
 *     each of {@code batches}
 * @param batches the batch sizes this process will put through the network: oneDNN picks its kernels by
 *     shape, and a larger check than the run's batches costs time and memory for nothing
 */
record ProcessSettings(int threads, OneDnnCheck.Mode oneDnn, MnistNetwork.Kind network, Trainer.BatchSizes batches) {

    /** {@code threads} libtorch threads and libtorch's own convolutions, without asking oneDNN. */
    static ProcessSettings withoutOneDnn(int threads) {
        return new ProcessSettings(threads, OneDnnCheck.Mode.off, MnistNetwork.Kind.ConvMNIST,
                Trainer.BatchSizes.NONE);
    }

    void apply() {
        LibTorchSettings.applyDefaults(threads);
        OneDnnCheck.apply(oneDnn, network, batches);
    }
}
