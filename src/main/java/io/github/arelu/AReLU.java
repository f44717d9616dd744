package io.github.arelu;

import java.util.Locale;

import io.github.arelu.internal.AReLUArguments;
import io.github.arelu.internal.TensorInfo;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DimnameListOptional;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.SharedModuleVector;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Attention-based rectified linear unit (Chen et al., "AReLU: Attention-based Rectified Linear Unit") as a
 * bytedeco PyTorch module:
 *
 * <pre>
 *   f(x) = (1 + sigmoid(beta)) * x   for x &gt; 0
 *          clamp(alpha, 0.01, 0.99) * x   for x &lt; 0
 * </pre>
 *
 * <p>{@code alpha} and {@code beta} are learnable parameters registered under those names, so
 * {@code parameters()}, {@code named_parameters()}, optimizers, {@code to(...)} and
 * {@code save}/{@code load} see them like any libtorch parameter. The scalar form (the paper's) holds one
 * value of each, stored as a tensor of shape {@code [1]}; the channel-wise form holds one per channel of
 * dimension 1, like PReLU's {@code num_parameters}.
 *
 * <p>Gradients follow the reference implementation {@code relu(x) * b - relu(-x) * a}: the gradient with
 * respect to {@code x} is 0 at exactly {@code x == 0}, and alpha receives no gradient while it lies outside
 * [0.01, 0.99]. See {@link AReLUFunctional#arelu} for how the forward pass is computed.
 *
 * <p>On CUDA the module takes the fused CUDA kernels only when {@link #setFusedCuda(boolean) told to} (default:
 * {@code -Darelu.cuda.fused=true}, else off), and the reference formula in libtorch operations otherwise.
 */
public class AReLU extends org.bytedeco.pytorch.Module {

    /** The paper's initial alpha. */
    public static final double DEFAULT_ALPHA = 0.90;
    /** The paper's initial beta. */
    public static final double DEFAULT_BETA = 2.0;

    /** The module's name in libtorch ({@code name()}), by which {@link #projectAlphas} finds AReLU layers. */
    private static final String NAME = "AReLU";

    /** The most values per parameter that {@link #toString()} shows. */
    private static final int SHOWN_CHANNELS = 8;

    // Shallow copies made right after registration: the Tensor that register_parameter returns points
    // into the module's parameter list and dangles once another parameter is registered. A shallow copy
    // shares the TensorImpl, which to(), load() and optimizer steps update in place.
    private final Tensor alpha;
    private final Tensor beta;
    private final long numParameters;
    private boolean fusedCuda = AReLUFunctional.fusedCudaDefault();

    /** The paper's AReLU: one alpha (0.90) and one beta (2.0) for the whole layer. */
    public AReLU() {
        this(1, DEFAULT_ALPHA, DEFAULT_BETA);
    }

    /**
     * One alpha and one beta for the whole layer, with the given initial values.
     *
     * @param alpha the initial raw alpha (the forward clamps it to [0.01, 0.99]); finite
     * @param beta the initial raw beta; finite
     */
    public AReLU(double alpha, double beta) {
        this(1, alpha, beta);
    }

    /**
     * One alpha and one beta per channel of dimension 1 when {@code numParameters > 1} (like
     * {@code PReLU(num_parameters)}); {@code numParameters == 1} is the paper's scalar form.
     *
     * @param numParameters 1, or the number of channels (the input's {@code size(1)})
     * @param alpha the initial raw alpha of every channel; finite
     * @param beta the initial raw beta of every channel; finite
     * @throws IllegalArgumentException when {@code numParameters < 1} or a value is not finite
     */
    public AReLU(long numParameters, double alpha, double beta) {
        super(NAME);
        if (numParameters < 1) {
            throw new IllegalArgumentException("AReLU needs numParameters >= 1, got " + numParameters);
        }
        if (!Double.isFinite(alpha) || !Double.isFinite(beta)) {
            throw new IllegalArgumentException("AReLU needs finite initial alpha and beta, got alpha="
                    + alpha + ", beta=" + beta);
        }
        this.numParameters = numParameters;
        TensorOptions options = new TensorOptions(torch.ScalarType.Float);
        this.alpha = new Tensor(register_parameter("alpha", torch.full(new long[] {numParameters},
                new Scalar(alpha), new DimnameListOptional(), options)));
        this.beta = new Tensor(register_parameter("beta", torch.full(new long[] {numParameters},
                new Scalar(beta), new DimnameListOptional(), options)));
    }

    /**
     * A channel-wise AReLU with the paper's initial values for each of {@code channels} channels.
     *
     * @param channels the number of channels of dimension 1 of the inputs
     * @return a new module with {@code channels} alphas and betas
     */
    public static AReLU channelwise(long channels) {
        return new AReLU(channels, DEFAULT_ALPHA, DEFAULT_BETA);
    }

    /**
     * Applies AReLU element-wise; see the class documentation.
     *
     * @param input the pre-activation, floating point, with this module's dtype and device; for the
     *     channel-wise form {@code input.size(1)} must be {@link #numParameters()}
     * @return AReLU of {@code input}, a new tensor
     * @throws IllegalArgumentException for an input this module cannot take, naming what was expected
     */
    public Tensor forward(Tensor input) {
        checkParameterShapes();
        return AReLUFunctional.arelu(input, alpha, beta, fusedCuda);
    }

    /**
     * A parameter replaced by a tensor of another shape ({@code set_} or {@code set_data} on it; {@link
     * #load(InputArchive)} refuses a checkpoint of another shape) would leave a module that no longer is what it was
     * built as: the scalar form broadcasting channel-wise, or the wrong channels. Refused at the module's next use.
     */
    private void checkParameterShapes() {
        if (!heldAsBuilt()) {
            throw new IllegalStateException("AReLU was built with alpha and beta of shape [" + numParameters
                    + "] but holds alpha of shape " + AReLUArguments.shapeOf(alpha) + " and beta of shape "
                    + AReLUArguments.shapeOf(beta) + ": its parameters were replaced by tensors of another shape; "
                    + "build the module with the shape it should hold (" + constructorFor(alpha.numel()) + ")");
        }
    }

    /**
     * Loads alpha and beta from a checkpoint as libtorch's {@code load} does, once their dtypes and shapes are this
     * module's. libtorch's {@code load} points a parameter at the checkpoint's memory whatever its dtype and shape: a
     * float64 checkpoint loaded into a float32 module reads each 8-byte value as a 4-byte float (garbage values and no
     * error; {@code Linear} and libtorch's other modules too), and one of another shape replaces the module's. Also
     * called for an AReLU registered in a network that is loaded, where the exception stops that load; the modules
     * libtorch loaded before it (in the order they were registered) have taken the checkpoint as it is, so the
     * network is to be discarded or loaded again.
     *
     * @param archive the checkpoint of this module
     * @throws IllegalArgumentException when the checkpoint lacks alpha or beta, or has one of another dtype or shape
     *     than this module's, naming both; the module is then left as it was
     */
    @Override
    public void load(InputArchive archive) {
        try (PointerScope scope = new PointerScope()) {
            checkCheckpoint(archive, "alpha", alpha);
            checkCheckpoint(archive, "beta", beta);
        }
        super.load(archive);
    }

    /**
     * Refuses a checkpoint whose {@code name} is missing, no tensor, or of another dtype or shape. A missing one too:
     * libtorch's load would read alpha before it failed on a missing beta, leaving the module with the checkpoint's
     * alpha and its own beta after the exception.
     */
    private void checkCheckpoint(InputArchive archive, String name, Tensor held) {
        IValue value = new IValue();
        if (!archive.try_read(name, value) || !value.isTensor()) {
            throw new IllegalArgumentException("AReLU's checkpoint has no tensor " + name + ": it is no AReLU's "
                    + "checkpoint, or not this module's part of a network's");
        }
        Tensor saved = value.toTensor();
        boolean sameDtype = TensorInfo.dtype(saved) == TensorInfo.dtype(held);
        boolean builtShape = saved.dim() == 1 && saved.numel() == numParameters;
        if (!sameDtype || !builtShape) {
            String advice = sameDtype ? "" : "libtorch's load would read its bytes as " + TensorInfo.dtype(held)
                    + "; convert the module first (to(ScalarType." + TensorInfo.dtype(saved) + ", false))";
            if (!builtShape) {
                advice += (sameDtype ? "" : ", and ") + (saved.dim() == 1
                        ? "build the module as it was saved (" + constructorFor(saved.numel()) + ")"
                        : "an AReLU's parameters have shape [C]; reshape the checkpoint's");
            }
            throw new IllegalArgumentException("AReLU's checkpoint holds " + name + " as " + TensorInfo.dtype(saved)
                    + " of shape " + AReLUArguments.shapeOf(saved) + ", this module's " + name + " is "
                    + TensorInfo.dtype(held) + " of shape " + AReLUArguments.shapeOf(held) + ": " + advice);
        }
    }

    /** The constructor of an AReLU whose parameters hold {@code count} values each. */
    private static String constructorFor(long count) {
        return count == 1 ? "new AReLU()" : "AReLU.channelwise(" + count + ")";
    }

    /** Whether alpha and beta still have the shape the module was built with, [numParameters]. */
    private boolean heldAsBuilt() {
        return alpha.dim() == 1 && beta.dim() == 1 && alpha.numel() == numParameters && beta.numel() == numParameters;
    }

    /**
     * Which path {@link #forward} takes for {@code input} now: {@link AReLUPath#FUSED_AUTOGRAD} when it will
     * record a gradient through the fused kernels (training), {@link AReLUPath#FUSED_NO_GRAD} inside a
     * {@code NoGradGuard} (inference), {@link AReLUPath#COMPOSED} where the fused kernels do not serve the
     * input (for instance half or bfloat16, see {@link AReLUPath}). Nothing is computed.
     *
     * @param input the tensor {@link #forward} would be given
     * @return the path of a forward call on {@code input} under the current grad mode
     * @throws IllegalArgumentException for an input that {@link #forward} would refuse up front, with the same
     *     message (see {@link AReLUFunctional#pathFor(Tensor, Tensor, Tensor, boolean)} for other layouts)
     */
    public AReLUPath pathFor(Tensor input) {
        checkParameterShapes();
        return AReLUFunctional.pathFor(input, alpha, beta, fusedCuda);
    }

    /**
     * Whether this module's CUDA inputs take the fused CUDA kernels (on libtorch's current stream of the
     * current device) where the native library has them, or the reference formula in libtorch operations.
     * CPU inputs take the fused kernels either way.
     *
     * @param enabled true for the fused CUDA kernels
     * @return this module
     */
    public AReLU setFusedCuda(boolean enabled) {
        fusedCuda = enabled;
        return this;
    }

    /**
     * Whether this module's CUDA inputs take the fused CUDA kernels.
     *
     * @return the value last given to {@link #setFusedCuda(boolean)}, at first whether the JVM runs with
     *     {@code -Darelu.cuda.fused=true}
     */
    public boolean isFusedCuda() {
        return fusedCuda;
    }

    /**
     * Projects this module's raw alpha onto [0.01, 0.99], in place: an opt-in remedy for alpha that an
     * optimizer step has carried past the clamp, where it would get no gradient again. Call it after each
     * {@code optimizer.step()}; without it the module is the paper's AReLU. See
     * {@link AReLUFunctional#projectAlpha(Tensor)}.
     *
     * @return this module
     */
    public AReLU projectAlpha() {
        AReLUFunctional.projectAlpha(alpha);
        return this;
    }

    /**
     * {@link #projectAlpha()} for every AReLU of a network, itself included, for a network whose AReLU layers are
     * not at hand as {@code AReLU} objects: bytedeco's {@code modules()} and {@code children()} hand out libtorch's
     * modules as plain {@code Module} objects, so a loop that asks {@code instanceof AReLU} of them finds none and
     * projects nothing. AReLU layers are found by the name every AReLU has, {@code "AReLU"}, and their parameter
     * {@code alpha}; a module of another class with that name and parameter would be projected too.
     *
     * @param network a module holding AReLU layers, registered with {@code register_module} at any depth
     * @return how many AReLU layers it projected, 0 for a network without one
     */
    public static int projectAlphas(org.bytedeco.pytorch.Module network) {
        int projected = 0;
        try (PointerScope scope = new PointerScope()) {
            SharedModuleVector modules = network.modules(true);
            for (long i = 0; i < modules.size(); i++) {
                org.bytedeco.pytorch.Module module = modules.get(i);
                StringTensorDict own = module.named_parameters(false);
                if (NAME.equals(module.name().getString()) && own.contains("alpha")) {
                    AReLUFunctional.projectAlpha(own.get("alpha"));
                    projected++;
                }
            }
        }
        return projected;
    }

    /**
     * The raw (unclamped) alpha parameter.
     *
     * @return the registered parameter, shape {@code [numParameters]}: the module's own handle, freed with the
     *     module (with the {@code PointerScope} open when it was made, if any); {@code new Tensor(t)} outlives it
     */
    public Tensor alpha() {
        return alpha;
    }

    /**
     * The raw beta parameter.
     *
     * @return the registered parameter, shape {@code [numParameters]}: the module's own handle, freed with the
     *     module (with the {@code PointerScope} open when it was made, if any); {@code new Tensor(t)} outlives it
     */
    public Tensor beta() {
        return beta;
    }

    /**
     * The number of alphas (and of betas).
     *
     * @return 1 for the paper's scalar form, the channel count for the channel-wise form
     */
    public long numParameters() {
        return numParameters;
    }

    /**
     * The module's form and current raw parameters, such as {@code AReLU(scalar, alpha=0.9000, beta=2.0000)}
     * or {@code AReLU(channel-wise, 3 channels, alpha=[0.9000, 0.9000, 0.9000], beta=[...])}; beyond
     * eight channels the first ones are shown, then {@code ...}.
     */
    @Override
    public String toString() {
        if (alpha == null || beta == null) {
            // JavaCPP's debug logging prints every new native object, this one inside Module's constructor,
            // before the parameters exist.
            return "AReLU(being constructed)";
        }
        if (!heldAsBuilt()) {
            return "AReLU(built with " + numParameters + (numParameters == 1 ? " parameter" : " parameters")
                    + " of each kind, holding alpha of shape "
                    + AReLUArguments.shapeOf(alpha) + " and beta of shape " + AReLUArguments.shapeOf(beta) + ")";
        }
        String form = numParameters == 1 ? "scalar" : "channel-wise, " + numParameters + " channels";
        return "AReLU(" + form + ", alpha=" + describe(alpha) + ", beta=" + describe(beta) + ")";
    }

    /** The parameter's first values, read on the CPU as double, outside autograd. */
    private String describe(Tensor parameter) {
        try (PointerScope scope = new PointerScope()) {
            int shown = (int) Math.min(numParameters, SHOWN_CHANNELS);
            Tensor values = parameter.detach().narrow(0, 0, shown).to(torch.ScalarType.Double).cpu().contiguous();
            DoublePointer data = values.data_ptr_double();
            StringBuilder text = new StringBuilder(numParameters == 1 ? "" : "[");
            for (int i = 0; i < shown; i++) {
                text.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.4f", data.get(i)));
            }
            if (numParameters > shown) {
                text.append(", ...");
            }
            return text.append(numParameters == 1 ? "" : "]").toString();
        }
    }
}
