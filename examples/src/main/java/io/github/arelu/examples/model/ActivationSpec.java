package io.github.arelu.examples.model;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import org.bytedeco.pytorch.CELUImpl;
import org.bytedeco.pytorch.ELUImpl;
import org.bytedeco.pytorch.GELUImpl;
import org.bytedeco.pytorch.LeakyReLUImpl;
import org.bytedeco.pytorch.MishImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.PReLUImpl;
import org.bytedeco.pytorch.RReLUImpl;
import org.bytedeco.pytorch.ReLU6Impl;
import org.bytedeco.pytorch.ReLUImpl;
import org.bytedeco.pytorch.SELUImpl;
import org.bytedeco.pytorch.SiLUImpl;
import org.bytedeco.pytorch.SigmoidImpl;
import org.bytedeco.pytorch.SoftplusImpl;
import org.bytedeco.pytorch.TanhImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * One activation the comparison can put in a network: how to make its module for a layer of a given channel
 * count (with libtorch's default options, as the paper's code uses PyTorch's defaults; only channel-wise
 * activations use the count) and how to call it.
 *
 * <p>bytedeco's activation modules share no Java interface with {@code forward(Tensor)}, hence the pair of
 * factory and forward function rather than a common supertype.
 *
 * @param functional the same function on parameters passed in rather than the module's, or null where we
 *     have none (see {@link Functional})
 */
public record ActivationSpec<M extends Module>(String name, LongFunction<M> factory,
        BiFunction<M, Tensor, Tensor> forward, Functional functional) {

    /**
     * An activation as a function of its input and of its parameters, for a network run on weights of its own
     * (MAML's adapted weights, {@link ConvMnist#forward(Tensor, java.util.List)}).
     */
    @FunctionalInterface
    public interface Functional {

        /** Applies the activation, taking its parameters from {@code parameters} in its module's order. */
        Tensor apply(Tensor input, Iterator<Tensor> parameters);
    }

    /** An activation whose module does not depend on the layer's channel count, without a functional form. */
    private static <M extends Module> ActivationSpec<M> of(String name, Supplier<M> factory,
            BiFunction<M, Tensor, Tensor> forward) {
        return of(name, factory, forward, null);
    }

    private static <M extends Module> ActivationSpec<M> of(String name, Supplier<M> factory,
            BiFunction<M, Tensor, Tensor> forward, Functional functional) {
        return new ActivationSpec<>(name, channels -> factory.get(), forward, functional);
    }

    /** Every activation, in the order the paper's tables list them where it has them. */
    public static final List<ActivationSpec<?>> ALL = List.of(
            of("AReLU", AReLU::new, AReLU::forward,
                    (input, parameters) -> AReLUFunctional.arelu(input, parameters.next(), parameters.next())),
            // One alpha and one beta per channel of the layer (beyond the paper, like PReLU's num_parameters).
            new ActivationSpec<>("AReLU-channelwise", AReLU::channelwise, AReLU::forward, null),
            of("ReLU", ReLUImpl::new, ReLUImpl::forward, (input, parameters) -> torch.relu(input)),
            of("ReLU6", ReLU6Impl::new, ReLU6Impl::forward),
            of("LeakyReLU", LeakyReLUImpl::new, LeakyReLUImpl::forward),
            of("PReLU", PReLUImpl::new, PReLUImpl::forward,
                    (input, parameters) -> torch.prelu(input, parameters.next())),
            // RReLU samples its negative slope while training and uses the mean slope in eval mode; the
            // network's train()/eval() reaches it because it is registered as a submodule.
            of("RReLU", RReLUImpl::new, RReLUImpl::forward),
            of("ELU", ELUImpl::new, ELUImpl::forward),
            of("CELU", CELUImpl::new, CELUImpl::forward),
            of("SELU", SELUImpl::new, SELUImpl::forward),
            of("GELU", GELUImpl::new, GELUImpl::forward),
            of("Sigmoid", SigmoidImpl::new, SigmoidImpl::forward),
            of("Tanh", TanhImpl::new, TanhImpl::forward),
            of("Softplus", SoftplusImpl::new, SoftplusImpl::forward),
            of("SiLU", SiLUImpl::new, SiLUImpl::forward),
            of("Mish", MishImpl::new, MishImpl::forward));

    /** Other names people use for the same function. */
    private static final Map<String, String> ALIASES = Map.of("swish", "SiLU");

    /** The default comparison: the paper's AReLU against the two rectifiers it is closest to. */
    public static final String DEFAULT_SELECTION = "AReLU,ReLU,PReLU";

    /**
     * Registers a fresh module of this activation for a layer of {@code channels} channels (dimension 1) in
     * {@code parent} under {@code slotName} (so the parent's parameters, train/eval mode and optimizer include
     * it) and returns the function that applies it.
     */
    public UnaryOperator<Tensor> addTo(Module parent, String slotName, long channels) {
        M module = parent.register_module(slotName, factory.apply(channels));
        return input -> forward.apply(module, input);
    }

    /** Case-insensitive lookup of one name or alias. */
    public static ActivationSpec<?> byName(String name) {
        String wanted = ALIASES.getOrDefault(name.trim().toLowerCase(Locale.ROOT), name.trim());
        for (ActivationSpec<?> spec : ALL) {
            if (spec.name.equalsIgnoreCase(wanted)) {
                return spec;
            }
        }
        throw new IllegalArgumentException("unknown activation '" + name.trim() + "'; known: " + knownNames()
                + " (or 'all'; Swish is an alias of SiLU)");
    }

    /**
     * Parses a comma-separated list such as {@code AReLU,ReLU,PReLU}, or {@code all}.
     *
     * @throws IllegalArgumentException for an empty list, an unknown name or a name given twice
     */
    public static List<ActivationSpec<?>> parseList(String commaSeparated) {
        if (commaSeparated.trim().equalsIgnoreCase("all")) {
            return ALL;
        }
        Map<String, ActivationSpec<?>> selected = new LinkedHashMap<>();
        for (String name : commaSeparated.split(",", -1)) {
            if (name.isBlank()) {
                throw new IllegalArgumentException("empty activation name in '" + commaSeparated + "'; known: "
                        + knownNames());
            }
            ActivationSpec<?> spec = byName(name);
            if (selected.put(spec.name, spec) != null) {
                throw new IllegalArgumentException("activation " + spec.name + " is listed twice in '"
                        + commaSeparated + "'");
            }
        }
        return new ArrayList<>(selected.values());
    }

    public static String knownNames() {
        return String.join(", ", ALL.stream().map(ActivationSpec::name).toList());
    }
}
