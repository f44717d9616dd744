package io.github.arelu.examples.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** ConvMNIST's two forwards, on its modules and on parameters passed in, are one function. */
class ConvMnistTest {

    @Test
    void theForwardOnPassedParametersIsTheModulesForward() {
        for (ActivationSpec<?> activation : ActivationSpec.ALL) {
            if (activation.functional() == null) {
                continue;
            }
            try (PointerScope scope = new PointerScope()) {
                torch.manual_seed(5);
                ConvMnist network = new ConvMnist(activation, 7);
                Tensor images = torch.randn(6, 1, 28, 28);
                Tensor modules = network.forward(images);
                Tensor functional = network.forward(images, List.of(network.parameters().get()));
                assertEquals(List.of(6L, 7L), List.of(modules.size(0), modules.size(1)), activation.name());
                double difference = modules.sub(functional).abs().max().item_double();
                assertTrue(difference <= 1e-6, activation.name() + ": the forwards differ by " + difference);
                // Other parameters give another function: the functional forward really uses what it is given.
                List<Tensor> doubled = List.of(network.parameters().get()).stream()
                        .map(parameter -> parameter.detach().mul(new org.bytedeco.pytorch.Scalar(2.0))).toList();
                assertTrue(network.forward(images, doubled).sub(modules).abs().max().item_double() > 1e-3,
                        activation.name());
            }
        }
    }

    @Test
    void activationsWithoutAFunctionalFormSayWhich() {
        try (PointerScope scope = new PointerScope()) {
            ConvMnist network = new ConvMnist(ActivationSpec.byName("GELU"), 10);
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> network.forward(torch.randn(1, 1, 28, 28), List.of(network.parameters().get())));
            assertEquals("GELU has no functional form", e.getMessage());
        }
    }
}
