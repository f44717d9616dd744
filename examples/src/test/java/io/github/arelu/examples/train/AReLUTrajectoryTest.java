package io.github.arelu.examples.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import io.github.arelu.AReLU;
import io.github.arelu.examples.data.TensorData;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.MnistNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The AReLU parameters that training records: the layers' own values, at the start and after every epoch. */
class AReLUTrajectoryTest {

    @Test
    void summaryIsTheLayersMeanMinMaxAndShareOutsideTheClamp() {
        try (PointerScope scope = new PointerScope()) {
            Module parent = new Module("parent");
            AReLU channelwise = parent.register_module("wide", AReLU.channelwise(5));
            AReLU scalar = parent.register_module("narrow", new AReLU());
            try (NoGradGuard noGrad = new NoGradGuard()) {
                channelwise.alpha().copy_(Tensor.create(new float[] {-0.5f, 0.005f, 0.5f, 0.98f, 1.25f}, 5));
                channelwise.beta().copy_(Tensor.create(new float[] {1, 2, 3, 4, 5}, 5));
                scalar.alpha().fill_(new org.bytedeco.pytorch.Scalar(1.5));
            }

            List<AReLUTrajectory> trajectories = new AReLUTrajectory.Recorder(parent).trajectories();

            assertEquals(List.of("wide", "narrow"), trajectories.stream().map(AReLUTrajectory::layer).toList());
            AReLUTrajectory wide = trajectories.get(0);
            assertEquals(5, wide.channels());
            AReLUTrajectory.Summary alpha = wide.alpha().get(0);
            assertEquals(channelwise.alpha().mean().item_double(), alpha.mean(), 1e-7);
            assertEquals(-0.5, alpha.min(), 1e-7);
            assertEquals(1.25, alpha.max(), 1e-7);
            assertEquals(3.0 / 5, alpha.outsideClamp(), 0.0, "-0.5, 0.005 and 1.25 lie outside [0.01, 0.99]");
            AReLUTrajectory.Summary beta = wide.beta().get(0);
            assertEquals(List.of(3.0, 1.0, 5.0), List.of(beta.mean(), beta.min(), beta.max()));
            assertTrue(Double.isNaN(beta.outsideClamp()), "beta has no clamp");

            AReLUTrajectory narrow = trajectories.get(1);
            assertEquals(1, narrow.channels());
            assertEquals(new AReLUTrajectory.Summary(1.5, 1.5, 1.5, 1.0), narrow.alpha().get(0));
            assertEquals(AReLU.DEFAULT_BETA, narrow.beta().get(0).mean(), 0.0);

            // On the bounds in float (0.99f lies above the double 0.99): inside, as the forward pass sees it.
            try (NoGradGuard noGrad = new NoGradGuard()) {
                channelwise.alpha().copy_(Tensor.create(new float[] {0.01f, 0.99f, 0.5f, 0.99f, 0.01f}, 5));
            }
            assertEquals(0.0, new AReLUTrajectory.Recorder(parent).trajectories().get(0).alpha().get(0).outsideClamp());
        }
    }

    @Test
    void networksWithoutAReLUHaveNoTrajectories() {
        try (PointerScope scope = new PointerScope()) {
            MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ResNet, ActivationSpec.byName("PReLU"), 10, 1);
            assertEquals(List.of(), new AReLUTrajectory.Recorder(network).trajectories());
        }
    }

    /** After training, the last point of each layer's trajectory is that layer's parameter as the network has it. */
    @Test
    void fitRecordsTheStartAndEveryEpochUpToTheNetworksFinalValues() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            TensorData train = new TensorData(torch.randn(24, 1, 28, 28), torch.randint(10, new long[] {24}), 10);
            TensorData test = new TensorData(torch.randn(8, 1, 28, 28), torch.randint(10, new long[] {8}), 10);
            MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ResNet,
                    ActivationSpec.byName("AReLU-channelwise"), 10, 5);
            int epochs = 2;

            Trainer.History history = new Trainer(8, ProgressBar.silent()).fit(network, Trainer.OptimizerKind.SGD,
                    0.5, epochs, train, test, new Random(5), "test");

            assertEquals(13, history.parameters().size());
            StringTensorDict parameters = network.named_parameters();
            int checked = 0;
            for (AReLUTrajectory trajectory : history.parameters()) {
                assertEquals(epochs + 1, trajectory.alpha().size());
                assertEquals(epochs + 1, trajectory.beta().size());
                assertEquals(AReLU.DEFAULT_ALPHA, trajectory.alpha().get(0).mean(), 1e-6);
                assertEquals(AReLU.DEFAULT_BETA, trajectory.beta().get(0).max(), 1e-6);
                for (long i = 0; i < parameters.size(); i++) {
                    String name = parameters.get(i).key().getString();
                    Tensor value = parameters.get(i).value();
                    AReLUTrajectory.Summary last;
                    if (name.equals(trajectory.layer() + ".alpha")) {
                        last = trajectory.alpha().get(epochs);
                    } else if (name.equals(trajectory.layer() + ".beta")) {
                        last = trajectory.beta().get(epochs);
                    } else {
                        continue;
                    }
                    assertEquals(trajectory.channels(), value.numel(), name);
                    assertEquals(value.mean().item_double(), last.mean(), 1e-6, name);
                    assertEquals(value.min().item_double(), last.min(), 0.0, name);
                    assertEquals(value.max().item_double(), last.max(), 0.0, name);
                    checked++;
                }
            }
            assertEquals(26, checked, "every layer's alpha and beta");
            assertNotEquals(AReLU.DEFAULT_BETA, history.parameters().get(12).beta().get(epochs).mean(),
                    "the last layer's beta has moved at lr 0.5");
        }
    }
    /**
     * {@code withAlphaProjection}: an alpha past the clamp, which gets no gradient and so stays where it is in
     * the paper's AReLU, is back inside [0.01, 0.99] after training with the projection, in every layer.
     */
    @Test
    void alphaProjectionBringsAnAlphaPastTheClampBackAndIsOffByDefault() {
        for (boolean projection : new boolean[] {false, true}) {
            try (PointerScope scope = new PointerScope()) {
                torch.manual_seed(3);
                TensorData train = new TensorData(torch.randn(24, 1, 28, 28), torch.randint(10, new long[] {24}), 10);
                TensorData test = new TensorData(torch.randn(8, 1, 28, 28), torch.randint(10, new long[] {8}), 10);
                MnistNetwork network = Trainer.newNetwork(MnistNetwork.Kind.ConvMNIST, ActivationSpec.byName("AReLU"),
                        10, 5);
                List<AReLUTrajectory.Parameters> layers = List.copyOf(AReLUTrajectory.layers(network).values());
                assertEquals(3, layers.size(), "ConvMNIST's three AReLU layers");
                try (NoGradGuard noGrad = new NoGradGuard()) {
                    layers.get(0).alpha().fill_(new org.bytedeco.pytorch.Scalar(1.5));
                    layers.get(2).alpha().fill_(new org.bytedeco.pytorch.Scalar(-0.25));
                }

                Trainer.History history = new Trainer(8, ProgressBar.silent()).withAlphaProjection(projection)
                        .fit(network, Trainer.OptimizerKind.SGD, 0.01, 1, train, test, new Random(5), "test");

                double first = layers.get(0).alpha().item_double();
                double last = layers.get(2).alpha().item_double();
                if (projection) {
                    assertEquals(0.99, first, 0.02, "projected onto the upper bound, then free to move");
                    assertEquals(0.01, last, 0.02, "projected onto the lower bound, then free to move");
                    for (AReLUTrajectory trajectory : history.parameters()) {
                        assertEquals(0.0, trajectory.alpha().get(1).outsideClamp(), trajectory.layer());
                    }
                } else {
                    assertEquals(1.5, first, 1e-7, "the paper's AReLU: no gradient past the clamp, so no change");
                    assertEquals(-0.25, last, 1e-7);
                    assertEquals(1.0, history.parameters().get(0).alpha().get(1).outsideClamp());
                }
                assertNotEquals(AReLU.DEFAULT_ALPHA, layers.get(1).alpha().item_double(),
                        "the alpha inside the clamp trains either way");
            }
        }
    }
}
