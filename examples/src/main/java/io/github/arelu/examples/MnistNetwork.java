package io.github.arelu.examples;

import java.util.function.UnaryOperator;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The two networks of the paper's MNIST experiments, each with one activation type throughout. Both end in
 * log-softmax, to be trained with NLL loss as the paper's code does.
 */
public abstract class MnistNetwork extends Module {

    /** Which network; the names are the paper's code's class names. */
    public enum Kind {
        ConvMNIST, LinearMNIST;

        public MnistNetwork create(ActivationSpec<?> activation, int classes) {
            return switch (this) {
                case ConvMNIST -> new Convolutional(activation, classes);
                case LinearMNIST -> new FullyConnected(activation, classes);
            };
        }
    }

    protected MnistNetwork(String name) {
        super(name);
    }

    /** Log-probabilities {@code [N, classes]} for images {@code [N, 1, 28, 28]}. */
    public abstract Tensor forward(Tensor images);

    /**
     * ConvMNIST: three blocks of convolution, 2x2 max-pooling and activation, with 10, 20 and 40 channels and
     * kernels 5, 5 and 3, unpadded. A 28x28 input shrinks 28 -> 24 -> 12, 12 -> 8 -> 4, 4 -> 2 -> 1, so
     * the last block leaves exactly 40 features for the linear classifier.
     */
    static final class Convolutional extends MnistNetwork {
        private final Conv2dImpl conv1;
        private final Conv2dImpl conv2;
        private final Conv2dImpl conv3;
        private final UnaryOperator<Tensor> activation1;
        private final UnaryOperator<Tensor> activation2;
        private final UnaryOperator<Tensor> activation3;
        private final LinearImpl classifier;

        Convolutional(ActivationSpec<?> activation, int classes) {
            super("ConvMNIST");
            // Modules are made in forward order so a seed gives the same weights whatever the activation.
            conv1 = register_module("conv1", new Conv2dImpl(1, 10, new LongPointer(5L, 5L)));
            activation1 = activation.addTo(this, "activation1");
            conv2 = register_module("conv2", new Conv2dImpl(10, 20, new LongPointer(5L, 5L)));
            activation2 = activation.addTo(this, "activation2");
            conv3 = register_module("conv3", new Conv2dImpl(20, 40, new LongPointer(3L, 3L)));
            activation3 = activation.addTo(this, "activation3");
            classifier = register_module("classifier", new LinearImpl(40, classes));
        }

        @Override
        public Tensor forward(Tensor images) {
            Tensor x = activation1.apply(maxPool2(conv1.forward(images)));
            x = activation2.apply(maxPool2(conv2.forward(x)));
            x = activation3.apply(maxPool2(conv3.forward(x)));
            return classifier.forward(x.flatten(1, -1)).log_softmax(1);
        }

        private static Tensor maxPool2(Tensor x) {
            return torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
        }
    }

    /** LinearMNIST: 784 -> 512 -> activation -> classes. */
    static final class FullyConnected extends MnistNetwork {
        private final LinearImpl hidden;
        private final UnaryOperator<Tensor> activation;
        private final LinearImpl classifier;

        FullyConnected(ActivationSpec<?> activation, int classes) {
            super("LinearMNIST");
            hidden = register_module("hidden", new LinearImpl(28 * 28, 512));
            this.activation = activation.addTo(this, "activation");
            classifier = register_module("classifier", new LinearImpl(512, classes));
        }

        @Override
        public Tensor forward(Tensor images) {
            Tensor x = activation.apply(hidden.forward(images.flatten(1, -1)));
            return classifier.forward(x).log_softmax(1);
        }
    }
}
