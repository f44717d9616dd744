package io.github.arelu.examples.train;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * One AReLU layer's alpha and beta over a training run: a {@link Summary} of each at the start and after every
 * epoch. For the paper's scalar AReLU a summary's mean, min and max are the value itself; for channel-wise
 * AReLU they are over the channels.
 *
 * @param layer the layer's name in its network, such as {@code block3.activation1}
 * @param channels the number of alphas (and betas): 1 for the scalar form
 * @param alpha the raw (unclamped) alpha: index 0 at the start, index e after epoch e
 * @param beta the raw beta, indexed like {@code alpha}
 */
public record AReLUTrajectory(String layer, long channels, List<Summary> alpha, List<Summary> beta) {

    /** AReLU's forward pass clamps alpha to {@code [CLAMP_LOW, CLAMP_HIGH]}; outside it alpha gets no gradient. */
    public static final double CLAMP_LOW = 0.01;
    public static final double CLAMP_HIGH = 0.99;

    public AReLUTrajectory {
        alpha = List.copyOf(alpha);
        beta = List.copyOf(beta);
    }

    /**
     * One parameter tensor at one moment.
     *
     * @param outsideClamp for alpha, the fraction of its values outside {@code [CLAMP_LOW, CLAMP_HIGH]}: the
     *     channels that the clamp freezes; NaN for beta, which has no clamp
     */
    public record Summary(double mean, double min, double max, double outsideClamp) {

        /** Summarizes a parameter's current values; {@code clamped} for alpha. */
        static Summary of(Tensor parameter, boolean clamped) {
            try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                Tensor values = parameter.detach().to(torch.ScalarType.Double).flatten();
                // Clamped in the parameter's own dtype, as the forward pass does: a float alpha on the bound
                // (0.99f, which is above the double 0.99) is inside.
                Tensor inRange = parameter.detach().clamp(new ScalarOptional(new Scalar(CLAMP_LOW)),
                        new ScalarOptional(new Scalar(CLAMP_HIGH))).to(torch.ScalarType.Double).flatten();
                long count = values.numel();
                double sum = 0;
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                long outside = 0;
                for (long i = 0; i < count; i++) {
                    double value = values.select(0, i).item_double();
                    sum += value;
                    min = Math.min(min, value);
                    max = Math.max(max, value);
                    if (value != inRange.select(0, i).item_double()) {
                        outside++;
                    }
                }
                return new Summary(sum / count, min, max, clamped ? (double) outside / count : Double.NaN);
            }
        }
    }

    /** One AReLU layer's parameters: shallow copies, which share the registered parameters' storage. */
    record Parameters(Tensor alpha, Tensor beta) {
    }

    /**
     * The AReLU layers of {@code network} by name, in registration (forward) order: every module with
     * parameters named {@code alpha} and {@code beta} (AReLU's names; no other activation of the examples uses
     * them). The tensors belong to the caller's {@link PointerScope}, if any.
     */
    static Map<String, Parameters> layers(Module network) {
        StringTensorDict parameters = network.named_parameters();
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (long i = 0; i < parameters.size(); i++) {
            byName.put(parameters.get(i).key().getString(), parameters.get(i).value());
        }
        Map<String, Parameters> layers = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> entry : byName.entrySet()) {
            if (!entry.getKey().endsWith(".alpha")) {
                continue;
            }
            String layer = entry.getKey().substring(0, entry.getKey().length() - ".alpha".length());
            Tensor beta = byName.get(layer + ".beta");
            if (beta != null) {
                // Copies: the dictionary's entries go with it.
                layers.put(layer, new Parameters(new Tensor(entry.getValue()), new Tensor(beta)));
            }
        }
        // byName's handles point into the dictionary: it must not be freed before the copies above are made.
        Reference.reachabilityFence(parameters);
        return layers;
    }

    /** Records the {@link #layers AReLU layers} of a network as it trains; a network without AReLU gives none. */
    static final class Recorder {
        private final Module network;
        private final Map<String, List<Summary>> alphas = new LinkedHashMap<>();
        private final Map<String, List<Summary>> betas = new LinkedHashMap<>();
        private final Map<String, Long> channels = new LinkedHashMap<>();

        /** Starts recording with the network's current (initial) values. */
        Recorder(Module network) {
            this.network = network;
            sample();
        }

        /** Appends every layer's current alpha and beta. */
        void sample() {
            try (PointerScope scope = new PointerScope()) {
                layers(network).forEach((layer, parameters) -> {
                    channels.putIfAbsent(layer, parameters.alpha().numel());
                    alphas.computeIfAbsent(layer, name -> new ArrayList<>()).add(Summary.of(parameters.alpha(), true));
                    betas.computeIfAbsent(layer, name -> new ArrayList<>()).add(Summary.of(parameters.beta(), false));
                });
            }
        }

        /** The trajectories so far, in the network's registration (forward) order. */
        List<AReLUTrajectory> trajectories() {
            List<AReLUTrajectory> result = new ArrayList<>();
            alphas.forEach((layer, alpha) -> result.add(new AReLUTrajectory(layer, channels.get(layer), alpha,
                    betas.get(layer))));
            return result;
        }
    }
}
