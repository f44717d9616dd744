package io.github.arelu.examples.model;

import java.util.Iterator;
import java.util.List;
import java.util.function.UnaryOperator;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * ConvMNIST, the paper's convolutional network: three blocks of convolution, 2x2 max-pooling and activation,
 * with 10, 20 and 40 channels and kernels 5, 5 and 3, unpadded, then a linear classifier. A 28x28 input
 * shrinks 28 -> 24 -> 12, 12 -> 8 -> 4, 4 -> 2 -> 1, so the last block leaves exactly 40 features.
 *
 * <p>The architecture is written once, in {@link #forward(Tensor, Layers)}; {@link #forward(Tensor)} runs it
 * on this module's layers, {@link #forward(Tensor, List)} on parameters passed in, as MAML's fast adaptation
 * needs.
 */
public final class ConvMnist extends MnistNetwork {

    /** Input channels, output channels and kernel size of each block. */
    private static final long[][] BLOCKS = {{1, 10, 5}, {10, 20, 5}, {20, 40, 3}};
    private static final long FEATURES = 40;

    private final ActivationSpec<?> activation;
    private final Conv2dImpl[] convolutions = new Conv2dImpl[BLOCKS.length];
    @SuppressWarnings("unchecked")
    private final UnaryOperator<Tensor>[] activations = new UnaryOperator[BLOCKS.length];
    private final LinearImpl classifier;

    /** ConvMNIST with {@code activation} after every block and {@code classes} outputs. */
    public ConvMnist(ActivationSpec<?> activation, int classes) {
        super("ConvMNIST");
        this.activation = activation;
        // Modules are made in forward order, so a seed gives the same weights whatever the activation, and
        // parameters() lists them in the order forward(Tensor, List) takes them.
        for (int block = 0; block < BLOCKS.length; block++) {
            long[] shape = BLOCKS[block];
            convolutions[block] = register_module("conv" + (block + 1), new Conv2dImpl(shape[0], shape[1],
                    new LongPointer(shape[2], shape[2])));
            activations[block] = activation.addTo(this, "activation" + (block + 1), shape[1]);
        }
        classifier = register_module("classifier", new LinearImpl(FEATURES, classes));
    }

    /** The layers {@link #forward(Tensor, Layers)} runs: each block's convolution and activation, the classifier. */
    private interface Layers {
        Tensor convolve(int block, Tensor x);

        Tensor activate(int block, Tensor x);

        Tensor classify(Tensor features);
    }

    /** The architecture: log-probabilities {@code [N, classes]} for images {@code [N, 1, 28, 28]}. */
    private static Tensor forward(Tensor images, Layers layers) {
        Tensor x = images;
        for (int block = 0; block < BLOCKS.length; block++) {
            x = layers.activate(block, maxPool2(layers.convolve(block, x)));
        }
        return layers.classify(x.flatten(1, -1)).log_softmax(1);
    }

    @Override
    public Tensor forward(Tensor images) {
        return forward(images, new Layers() {
            @Override
            public Tensor convolve(int block, Tensor x) {
                return convolutions[block].forward(x);
            }

            @Override
            public Tensor activate(int block, Tensor x) {
                return activations[block].apply(x);
            }

            @Override
            public Tensor classify(Tensor features) {
                return classifier.forward(features);
            }
        });
    }

    /**
     * This network's function on other parameters: {@code parameters} in the order of {@link #parameters()}
     * (each convolution's weight and bias, its activation's parameters, ..., the classifier's weight and
     * bias), such as weights adapted by a few gradient steps that stay connected to this module's own.
     *
     * @throws UnsupportedOperationException when the activation has no {@link ActivationSpec#functional()} form
     */
    public Tensor forward(Tensor images, List<Tensor> parameters) {
        ActivationSpec.Functional functional = activation.functional();
        if (functional == null) {
            throw new UnsupportedOperationException(activation.name() + " has no functional form");
        }
        // Taken in forward order, which is the order of parameters().
        Iterator<Tensor> next = parameters.iterator();
        return forward(images, new Layers() {
            @Override
            public Tensor convolve(int block, Tensor x) {
                Tensor weight = next.next();
                Tensor bias = next.next();
                return torch.conv2d(x, weight, new TensorOptional(bias), new long[] {1, 1}, new long[] {0, 0},
                        new long[] {1, 1}, 1);
            }

            @Override
            public Tensor activate(int block, Tensor x) {
                return functional.apply(x, next);
            }

            @Override
            public Tensor classify(Tensor features) {
                Tensor weight = next.next();
                Tensor bias = next.next();
                return torch.linear(features, weight, bias);
            }
        });
    }

    private static Tensor maxPool2(Tensor x) {
        return torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
    }
}
