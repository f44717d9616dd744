package io.github.arelu.examples.train;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import io.github.arelu.AReLUFunctional;
import io.github.arelu.examples.data.TaskSampler;
import io.github.arelu.examples.model.ActivationSpec;
import io.github.arelu.examples.model.ConvMnist;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * MAML (Finn et al., 2017) on ConvMNIST, as the AReLU paper's meta-learning experiment runs it: for each
 * task, a few SGD steps on its support set from the shared initial weights (fast adaptation), then the loss
 * of the adapted weights on its query set; the mean query loss over a batch of tasks trains the initial
 * weights with Adam.
 *
 * <p>The network runs functionally: {@link ConvMnist#forward(Tensor, List)}, the same network on weights
 * passed as tensors, so each adaptation step makes new tensors {@code w - lr * grad} that stay connected to
 * the initial weights. Second-order MAML builds the inner gradients with {@code create_graph}, so the outer
 * gradient differentiates through them, AReLU's backward included ({@link AReLUFunctional} records its
 * fused node with differentiable ops in that case); first-order MAML treats the inner gradients as
 * constants. The initial weights are the ConvMNIST module's own, so they are initialized as in the other
 * experiments.
 */
public final class MetaLearner {

    /**
     * Activations with a {@link ActivationSpec#functional() functional form}: AReLU through
     * {@link AReLUFunctional}, libtorch's ReLU and PReLU.
     */
    public static final List<String> ACTIVATIONS = ActivationSpec.ALL.stream()
            .filter(activation -> activation.functional() != null).map(ActivationSpec::name).toList();

    /** The adaptation hyper-parameters; the paper's code uses 5 steps at lr 0.005, second order. */
    public record Adaptation(int steps, double learningRate, boolean firstOrder) {
        public Adaptation {
            if (steps < 1 || !(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw new IllegalArgumentException("adaptation needs at least 1 step and a positive learning rate, got "
                        + steps + " and " + learningRate);
            }
        }
    }

    private final ConvMnist network;
    /** The initial weights: the network's parameters, which the meta optimizer updates. */
    private final List<Tensor> initialWeights;
    private final Optimizer metaOptimizer;
    private final Adaptation adaptation;
    /** The largest total norm a meta-gradient keeps ({@link Double#POSITIVE_INFINITY}: none, the paper's code). */
    private final double maxMetaGradientNorm;

    /**
     * A ConvMNIST with {@code ways} outputs and {@code activation}, initialized from {@code seed}.
     *
     * @throws IllegalArgumentException for an activation outside {@link #ACTIVATIONS}
     */
    public MetaLearner(ActivationSpec<?> activation, int ways, long seed, Adaptation adaptation, double metaLearningRate) {
        this(activation, ways, seed, adaptation, metaLearningRate, Double.POSITIVE_INFINITY);
    }

    /**
     * As above, with each meta-gradient rescaled to a total norm of at most {@code maxMetaGradientNorm} before
     * Adam's step (libtorch's {@code clip_grad_norm_}; not in the paper's code).
     *
     * @throws IllegalArgumentException for an activation outside {@link #ACTIVATIONS}, or a norm that is not
     *         positive
     */
    public MetaLearner(ActivationSpec<?> activation, int ways, long seed, Adaptation adaptation, double metaLearningRate,
            double maxMetaGradientNorm) {
        requireSupported(activation);
        if (!(maxMetaGradientNorm > 0)) {
            throw new IllegalArgumentException("a meta-gradient norm limit must be positive, got " + maxMetaGradientNorm);
        }
        this.adaptation = adaptation;
        this.maxMetaGradientNorm = maxMetaGradientNorm;
        torch.manual_seed(seed);
        network = new ConvMnist(activation, ways);
        List<Tensor> weights = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            for (Tensor parameter : network.parameters().get()) {
                // Kept beyond the scope: the same parameters the module and the optimizer hold.
                weights.add(new Tensor(parameter).retainReference());
            }
        }
        initialWeights = List.copyOf(weights);
        metaOptimizer = new Adam(network.parameters(), new AdamOptions(metaLearningRate));
    }

    /** @throws IllegalArgumentException for an activation outside {@link #ACTIVATIONS}, naming them */
    public static void requireSupported(ActivationSpec<?> activation) {
        if (!ACTIVATIONS.contains(activation.name())) {
            throw new IllegalArgumentException("meta learning supports " + String.join(", ", ACTIVATIONS) + ", not "
                    + activation.name());
        }
    }

    /**
     * What one meta step saw.
     *
     * @param queryAccuracy query accuracy (%) of the adapted networks on the step's tasks, before the step
     * @param metaGradientNorm the meta-gradient's total (Euclidean) norm over all initial weights, before any
     *        clipping: a run whose norm jumps by orders of magnitude is one that clipping may save
     */
    public record StepResult(double queryAccuracy, double metaGradientNorm) {
    }

    /**
     * One meta step: adapts to each task and backpropagates its query loss into the initial weights (one
     * task's graph at a time, so memory stays that of one task), then one Adam step on their mean, clipped to
     * the norm limit if one was given.
     */
    public StepResult metaStep(List<TaskSampler.Task> tasks) {
        metaOptimizer.zero_grad();
        long correct = 0;
        long queries = 0;
        for (TaskSampler.Task task : tasks) {
            try (PointerScope scope = new PointerScope()) {
                List<Tensor> adapted = adapt(task, !adaptation.firstOrder());
                Tensor logProbabilities = network.forward(task.queryImages(), adapted);
                torch.nll_loss(logProbabilities, task.queryLabels()).div(new Scalar((double) tasks.size())).backward();
                correct += correct(logProbabilities, task.queryLabels());
                queries += task.queryLabels().size(0);
            }
        }
        double norm = metaGradientNorm();
        if (maxMetaGradientNorm != Double.POSITIVE_INFINITY) {
            torch.clip_grad_norm_(network.parameters(), maxMetaGradientNorm);
        }
        metaOptimizer.step();
        return new StepResult(100.0 * correct / queries, norm);
    }

    /** The total norm of the initial weights' gradients, summed in double over the weights. */
    private double metaGradientNorm() {
        double squares = 0;
        try (PointerScope scope = new PointerScope()) {
            for (Tensor weight : initialWeights) {
                double norm = weight.grad().norm().item_double();
                squares += norm * norm;
            }
        }
        return Math.sqrt(squares);
    }

    /** Query accuracy (%) after adaptation on {@code tasks}, leaving the initial weights as they are. */
    public double evaluate(List<TaskSampler.Task> tasks) {
        long correct = 0;
        long queries = 0;
        for (TaskSampler.Task task : tasks) {
            try (PointerScope scope = new PointerScope()) {
                List<Tensor> adapted = adapt(task, false);
                try (NoGradGuard noGrad = new NoGradGuard()) {
                    correct += correct(network.forward(task.queryImages(), adapted), task.queryLabels());
                    queries += task.queryLabels().size(0);
                }
            }
        }
        return 100.0 * correct / queries;
    }

    /** The initial weights; after {@link #metaStep} their {@code grad()} holds the meta-gradient. */
    List<Tensor> initialWeights() {
        return initialWeights;
    }

    /** Draws {@code count} tasks; the caller scopes their tensors. */
    public static List<TaskSampler.Task> sample(TaskSampler sampler, int count, Random random) {
        List<TaskSampler.Task> tasks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            tasks.add(sampler.sample(random));
        }
        return tasks;
    }

    /**
     * The weights after {@link Adaptation#steps} SGD steps on the task's support set. With
     * {@code differentiable} the steps are part of the graph (second order); otherwise each gradient is a
     * constant, and the adapted weights depend on the initial ones only through {@code w - constant}.
     */
    List<Tensor> adapt(TaskSampler.Task task, boolean differentiable) {
        List<Tensor> weights = initialWeights;
        Scalar learningRate = new Scalar(adaptation.learningRate());
        for (int step = 0; step < adaptation.steps(); step++) {
            Tensor loss = torch.nll_loss(network.forward(task.supportImages(), weights), task.supportLabels());
            TensorVector gradients = torch.grad(new TensorVector(loss), new TensorVector(weights.toArray(new Tensor[0])),
                    new TensorVector(), new BoolOptional(differentiable), differentiable, false);
            List<Tensor> next = new ArrayList<>();
            for (int i = 0; i < weights.size(); i++) {
                next.add(weights.get(i).sub(gradients.get(i).mul(learningRate)));
            }
            // get(i) points into the vector: it must not be collected (and freed) before the last mul has read it.
            Reference.reachabilityFence(gradients);
            weights = next;
        }
        return weights;
    }

    /**
     * How many query images the adapted network classifies correctly.
     *
     * @throws NonFiniteResultException when its output for some image is NaN or infinite: the argmax of a NaN
     *     row is a class all the same, so an accuracy from it would be a number without meaning
     */
    private static long correct(Tensor logProbabilities, Tensor labels) {
        long nonFinite = logProbabilities.isfinite().all(1).logical_not().sum().item_long();
        if (nonFinite > 0) {
            throw new NonFiniteResultException(String.format(Locale.ROOT, "the adapted network's output is NaN or "
                    + "infinite for %d of %d query images; meta-training stopped, since every figure from it would be "
                    + "meaningless. Try a smaller meta or adaptation learning rate.", nonFinite, labels.size(0)));
        }
        return logProbabilities.argmax(new LongOptional(1), false).eq(labels).sum().item_long();
    }
}
