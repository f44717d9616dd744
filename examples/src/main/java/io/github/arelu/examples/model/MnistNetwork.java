package io.github.arelu.examples.model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The two networks of the paper's MNIST experiments, a small ResNet and a small VGG-style plain stack (for the
 * paper's claim about mainstream architectures), each with one activation type throughout. All end in
 * log-softmax, to be trained with NLL loss as the paper's code does.
 */
public abstract class MnistNetwork extends Module {

    /** Which network; ConvMNIST and LinearMNIST are the paper's code's class names. */
    public enum Kind {
        ConvMNIST, LinearMNIST, ResNet, VGG;

        public MnistNetwork create(ActivationSpec<?> activation, int classes) {
            return switch (this) {
                case ConvMNIST -> new ConvMnist(activation, classes);
                case LinearMNIST -> new FullyConnected(activation, classes);
                case ResNet -> new Residual(activation, classes);
                case VGG -> new Plain(activation, classes);
            };
        }

        /** Whether the network has convolutions (for oneDNN, which only they use). */
        public boolean convolutional() {
            return this != LinearMNIST;
        }

        /**
         * Whether the network has BatchNorm, which in data-parallel training normalizes each process's part of
         * a batch with that part's statistics: the group's numbers are then not one process's.
         */
        public boolean batchNorm() {
            return this == ResNet || this == VGG;
        }
    }

    protected MnistNetwork(String name) {
        super(name);
    }

    /** Log-probabilities {@code [N, classes]} for images {@code [N, 1, 28, 28]}. */
    public abstract Tensor forward(Tensor images);

    /** LinearMNIST: 784 -> 512 -> activation -> classes. */
    static final class FullyConnected extends MnistNetwork {
        private final LinearImpl hidden;
        private final UnaryOperator<Tensor> activation;
        private final LinearImpl classifier;

        FullyConnected(ActivationSpec<?> activation, int classes) {
            super("LinearMNIST");
            hidden = register_module("hidden", new LinearImpl(28 * 28, 512));
            this.activation = activation.addTo(this, "activation", 512);
            classifier = register_module("classifier", new LinearImpl(512, classes));
        }

        @Override
        public Tensor forward(Tensor images) {
            Tensor x = activation.apply(hidden.forward(images.flatten(1, -1)));
            return classifier.forward(x).log_softmax(1);
        }
    }

    /**
     * A small ResNet for 28x28 images: a 3x3 stem convolution to 16 channels, three stages of two basic blocks
     * at 16, 32 and 64 channels (the first block of stages 2 and 3 halves the resolution, with a 1x1 convolution
     * on its shortcut), BatchNorm after every convolution, global average pooling and a linear classifier: 13
     * activation layers (the stem's and two per block).
     */
    static final class Residual extends MnistNetwork {
        private final Conv2dImpl stem;
        private final BatchNorm2dImpl stemNorm;
        private final UnaryOperator<Tensor> stemActivation;
        private final BasicBlock[] blocks;
        private final LinearImpl classifier;

        Residual(ActivationSpec<?> activation, int classes) {
            super("ResNet");
            stem = register_module("stem", conv(1, 16, 3, 1));
            stemNorm = register_module("stemNorm", new BatchNorm2dImpl(new BatchNormOptions(16)));
            stemActivation = activation.addTo(this, "stemActivation", 16);
            long[][] plan = {{16, 16, 1}, {16, 16, 1}, {16, 32, 2}, {32, 32, 1}, {32, 64, 2}, {64, 64, 1}};
            blocks = new BasicBlock[plan.length];
            for (int i = 0; i < plan.length; i++) {
                blocks[i] = register_module("block" + (i + 1),
                        new BasicBlock(activation, plan[i][0], plan[i][1], plan[i][2]));
            }
            classifier = register_module("classifier", new LinearImpl(64, classes));
        }

        @Override
        public Tensor forward(Tensor images) {
            Tensor x = stemActivation.apply(stemNorm.forward(stem.forward(images)));
            for (BasicBlock block : blocks) {
                x = block.forward(x);
            }
            return classifier.forward(torch.adaptive_avg_pool2d(x, 1, 1).flatten(1, -1)).log_softmax(1);
        }
    }

    /**
     * A small VGG-style plain stack for 28x28 images, the second mainstream family: three stages of two 3x3
     * convolutions at 16, 32 and 64 channels, each followed by BatchNorm and the activation, 2x2 max pooling
     * after the first two stages, global average pooling and a linear classifier: 6 activation layers, no
     * shortcuts.
     */
    static final class Plain extends MnistNetwork {
        private final Conv2dImpl[] convs;
        private final BatchNorm2dImpl[] norms;
        private final List<UnaryOperator<Tensor>> activations = new ArrayList<>();
        private final LinearImpl classifier;

        Plain(ActivationSpec<?> activation, int classes) {
            super("VGG");
            long[] channels = {1, 16, 16, 32, 32, 64, 64};
            convs = new Conv2dImpl[channels.length - 1];
            norms = new BatchNorm2dImpl[channels.length - 1];
            for (int i = 0; i < convs.length; i++) {
                convs[i] = register_module("conv" + (i + 1), conv(channels[i], channels[i + 1], 3, 1));
                norms[i] = register_module("norm" + (i + 1), new BatchNorm2dImpl(new BatchNormOptions(channels[i + 1])));
                activations.add(activation.addTo(this, "activation" + (i + 1), channels[i + 1]));
            }
            classifier = register_module("classifier", new LinearImpl(64, classes));
        }

        @Override
        public Tensor forward(Tensor images) {
            Tensor x = images;
            for (int i = 0; i < convs.length; i++) {
                x = activations.get(i).apply(norms[i].forward(convs[i].forward(x)));
                if (i == 1 || i == 3) {
                    x = torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
                }
            }
            return classifier.forward(torch.adaptive_avg_pool2d(x, 1, 1).flatten(1, -1)).log_softmax(1);
        }
    }

    /** Two 3x3 convolutions with BatchNorm, the activation after the first and after the residual sum. */
    static final class BasicBlock extends Module {
        private final Conv2dImpl conv1;
        private final BatchNorm2dImpl norm1;
        private final UnaryOperator<Tensor> activation1;
        private final Conv2dImpl conv2;
        private final BatchNorm2dImpl norm2;
        private final Conv2dImpl shortcut;
        private final BatchNorm2dImpl shortcutNorm;
        private final UnaryOperator<Tensor> activation2;

        BasicBlock(ActivationSpec<?> activation, long in, long out, long stride) {
            super("BasicBlock");
            conv1 = register_module("conv1", conv(in, out, 3, stride));
            norm1 = register_module("norm1", new BatchNorm2dImpl(new BatchNormOptions(out)));
            activation1 = activation.addTo(this, "activation1", out);
            conv2 = register_module("conv2", conv(out, out, 3, 1));
            norm2 = register_module("norm2", new BatchNorm2dImpl(new BatchNormOptions(out)));
            boolean projected = in != out || stride != 1;
            shortcut = projected ? register_module("shortcut", conv(in, out, 1, stride)) : null;
            shortcutNorm = projected ? register_module("shortcutNorm", new BatchNorm2dImpl(new BatchNormOptions(out)))
                    : null;
            activation2 = activation.addTo(this, "activation2", out);
        }

        Tensor forward(Tensor x) {
            Tensor y = norm2.forward(conv2.forward(activation1.apply(norm1.forward(conv1.forward(x)))));
            Tensor identity = shortcut == null ? x : shortcutNorm.forward(shortcut.forward(x));
            return activation2.apply(y.add(identity));
        }
    }

    /** A bias-free convolution (BatchNorm follows) with "same" padding for odd kernels. */
    private static Conv2dImpl conv(long in, long out, long kernel, long stride) {
        Conv2dOptions options = new Conv2dOptions(in, out, new LongPointer(kernel, kernel));
        options.stride().put(0, stride).put(1, stride);
        options.padding().put(new LongPointer(kernel / 2, kernel / 2));
        options.bias().put(false);
        return new Conv2dImpl(options);
    }
}
