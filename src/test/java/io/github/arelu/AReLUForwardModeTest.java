package io.github.arelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Forward-mode AD (dual tensors): a tangent on x, alpha or beta reaches AReLU's output as the reference's
 * operations carry it, which the fused kernels alone would not; with a level open and no tangent, the fused path
 * stays. The expected tangents are worked out by hand: {@code b*tx + x*s(1-s)*tbeta} where {@code x > 0},
 * {@code a*tx + x*talpha} where {@code x < 0} (alpha inside the clamp; outside it alpha's tangent is dropped),
 * 0 at {@code x == 0} (relu's derivative there).
 */
class AReLUForwardModeTest {

    private static final double[] X = {-2.0, -0.5, 0.0, 0.5, 2.0, -1.0};
    private static final double[] X_TANGENT = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6};
    /** Channel-wise: three channels of x viewed as [2, 3]; alpha 1.5 lies outside the clamp. */
    private static final double[] ALPHAS = {0.3, 0.7, 1.5};
    private static final double[] BETAS = {2.0, -1.0, 0.5};
    private static final double[] ALPHA_TANGENTS = {1.0, -2.0, 3.0};
    private static final double[] BETA_TANGENTS = {0.5, 1.0, -1.0};

    private PointerScope scope;
    private long level = -1;

    @BeforeEach
    void openLevel() {
        LibTorch.load();
        scope = new PointerScope();
        level = torch.enter_dual_level();
    }

    @AfterEach
    void closeLevel() {
        torch.exit_dual_level(level);
        scope.close();
    }

    @Test
    void aTangentOnAnyArgumentReachesTheOutput() {
        for (ScalarType dtype : new ScalarType[] {ScalarType.Double, ScalarType.Float}) {
            for (boolean channelwise : new boolean[] {false, true}) {
                for (boolean parametersRequireGrad : new boolean[] {false, true}) {
                    for (int mask = 1; mask < 8; mask++) {
                        String what = dtype + (channelwise ? " channel-wise" : " scalar")
                                + (parametersRequireGrad ? ", parameters requiring grad" : "") + ", tangents on "
                                + ((mask & 1) != 0 ? "x " : "") + ((mask & 2) != 0 ? "alpha " : "")
                                + ((mask & 4) != 0 ? "beta" : "");
                        checkTangent(dtype, channelwise, parametersRequireGrad, mask, what);
                    }
                }
            }
        }
    }

    private void checkTangent(ScalarType dtype, boolean channelwise, boolean parametersRequireGrad, int mask,
            String what) {
        int channels = channelwise ? 3 : 1;
        Tensor x = Tensors.doubles(X).to(dtype).reshape(2, 3);
        Tensor alpha = Tensors.doubles(java.util.Arrays.copyOf(ALPHAS, channels)).to(dtype);
        Tensor beta = Tensors.doubles(java.util.Arrays.copyOf(BETAS, channels)).to(dtype);
        if (parametersRequireGrad) {
            alpha.requires_grad_(true);
            beta.requires_grad_(true);
        }
        double[] tx = (mask & 1) != 0 ? X_TANGENT : new double[X.length];
        double[] ta = (mask & 2) != 0 ? java.util.Arrays.copyOf(ALPHA_TANGENTS, channels) : new double[channels];
        double[] tb = (mask & 4) != 0 ? java.util.Arrays.copyOf(BETA_TANGENTS, channels) : new double[channels];
        Tensor xIn = (mask & 1) != 0 ? Tensors.makeDual(x, Tensors.doubles(tx).to(dtype).reshape(2, 3)) : x;
        Tensor alphaIn = (mask & 2) != 0 ? Tensors.makeDual(alpha, Tensors.doubles(ta).to(dtype)) : alpha;
        Tensor betaIn = (mask & 4) != 0 ? Tensors.makeDual(beta, Tensors.doubles(tb).to(dtype)) : beta;

        assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(xIn, alphaIn, betaIn), what);
        Tensor y = AReLUFunctional.arelu(xIn, alphaIn, betaIn);
        Tensor tangent = Tensors.tangentOf(y);
        assertTrue(tangent.defined(), what + ": the output carries a tangent");

        double[] expectedValue = new double[X.length];
        double[] expectedTangent = new double[X.length];
        for (int i = 0; i < X.length; i++) {
            int c = channelwise ? i % 3 : 0;
            double a = Math.min(Math.max(ALPHAS[c], 0.01), 0.99);
            double s = 1.0 / (1.0 + Math.exp(-BETAS[c]));
            if (X[i] > 0) {
                expectedValue[i] = (1 + s) * X[i];
                expectedTangent[i] = (1 + s) * tx[i] + X[i] * s * (1 - s) * tb[c];
            } else if (X[i] < 0) {
                expectedValue[i] = a * X[i];
                boolean inside = ALPHAS[c] > 0.01 && ALPHAS[c] < 0.99;
                expectedTangent[i] = a * tx[i] + (inside ? X[i] * ta[c] : 0.0);
            }
        }
        double tolerance = dtype == ScalarType.Double ? 1e-14 : 1e-6;
        Tensors.assertClose(expectedValue, Tensors.values(y), tolerance, tolerance, what + ": value");
        Tensors.assertClose(expectedTangent, Tensors.values(tangent), tolerance, tolerance, what + ": tangent");
    }

    @Test
    void tangentsWithoutGradModeReachTheOutputToo() {
        // Forward-mode AD does not depend on grad mode, where the fused path without a gradient would run.
        Tensor x = Tensors.makeDual(Tensors.doubles(X).to(ScalarType.Float),
                Tensors.doubles(X_TANGENT).to(ScalarType.Float));
        Tensor alpha = Tensors.doubles(0.3).to(ScalarType.Float);
        Tensor beta = Tensors.doubles(2.0).to(ScalarType.Float);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(x, alpha, beta));
            Tensor tangent = Tensors.tangentOf(new AReLU().forward(x));
            assertTrue(tangent.defined(), "the module's output carries x's tangent");
            double b = 1 + 1 / (1 + Math.exp(-2.0));
            double a = (double) 0.9f; // the module's float32 alpha
            double[] expected = new double[X.length];
            for (int i = 0; i < X.length; i++) {
                expected[i] = X[i] > 0 ? b * X_TANGENT[i] : X[i] < 0 ? a * X_TANGENT[i] : 0.0;
            }
            Tensors.assertClose(expected, Tensors.values(tangent), 1e-6, 1e-6, "module");
        }
    }

    @Test
    void withALevelOpenAndNoTangentTheFusedPathStays() {
        Tensor x = Tensors.doubles(X);
        Tensor alpha = Tensors.doubles(0.3).requires_grad_(true);
        Tensor beta = Tensors.doubles(2.0).requires_grad_(true);
        assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(x, alpha, beta));
        Tensor y = AReLUFunctional.arelu(x, alpha, beta);
        assertFalse(Tensors.tangentOf(y).defined(), "no tangent in, none out");
        Tensors.assertClose(Tensors.values(Tensors.reference(x, alpha, beta)), Tensors.values(y), 0, 0,
                "fused value");
    }

    @Test
    void onceTheLevelClosesTheSameTensorsTakeTheFusedPathAgain() {
        Tensor x = Tensors.makeDual(Tensors.doubles(X), Tensors.doubles(X_TANGENT));
        Tensor alpha = Tensors.doubles(0.3);
        Tensor beta = Tensors.doubles(2.0);
        assertEquals(AReLUPath.COMPOSED, AReLUFunctional.pathFor(x, alpha, beta));
        torch.exit_dual_level(level); // clears every tangent of the level
        try {
            assertEquals(AReLUPath.FUSED_NO_GRAD, AReLUFunctional.pathFor(x, alpha, beta));
        } finally {
            level = torch.enter_dual_level();
        }
    }

    @Test
    void forwardOverReverseCarriesTheOutputGradientsTangentToEveryGradient() {
        // Hessian-vector products: backward of the fused node with an output gradient v that carries a tangent tv.
        // The gradients are linear in v, so their tangents are the same gradients of tv.
        double[] v = {1.0, 2.0, -1.0, 0.5, 3.0, -2.0};
        double[] tv = {0.5, -1.0, 2.0, 1.5, -0.25, 1.0};
        for (boolean channelwise : new boolean[] {false, true}) {
            for (boolean createGraph : new boolean[] {false, true}) {
                int channels = channelwise ? 3 : 1;
                Tensor x = Tensors.doubles(X).reshape(2, 3).requires_grad_(true);
                Tensor alpha = Tensors.doubles(java.util.Arrays.copyOf(ALPHAS, channels)).requires_grad_(true);
                Tensor beta = Tensors.doubles(java.util.Arrays.copyOf(BETAS, channels)).requires_grad_(true);
                assertEquals(AReLUPath.FUSED_AUTOGRAD, AReLUFunctional.pathFor(x, alpha, beta), "the fused node");
                Tensor y = AReLUFunctional.arelu(x, alpha, beta);
                Tensor gradOutput = Tensors.makeDual(Tensors.doubles(v).reshape(2, 3),
                        Tensors.doubles(tv).reshape(2, 3));
                TensorVector grads = torch.grad(new TensorVector(y), new TensorVector(x, alpha, beta),
                        new TensorVector(gradOutput), new BoolOptional(createGraph), createGraph, false);
                String what = (channelwise ? "channel-wise, " : "scalar, ")
                        + (createGraph ? "create_graph" : "plain backward");
                for (int k = 0; k < 2; k++) {
                    double[] g = k == 0 ? v : tv;
                    double[] gx = new double[X.length];
                    double[] gAlpha = new double[channels];
                    double[] gBeta = new double[channels];
                    for (int i = 0; i < X.length; i++) {
                        int c = channelwise ? i % 3 : 0;
                        double a = Math.min(Math.max(ALPHAS[c], 0.01), 0.99);
                        double s = 1.0 / (1.0 + Math.exp(-BETAS[c]));
                        boolean inside = ALPHAS[c] > 0.01 && ALPHAS[c] < 0.99;
                        gx[i] = X[i] > 0 ? (1 + s) * g[i] : X[i] < 0 ? a * g[i] : 0.0;
                        gAlpha[c] += X[i] < 0 && inside ? g[i] * X[i] : 0.0;
                        gBeta[c] += X[i] > 0 ? g[i] * X[i] * s * (1 - s) : 0.0;
                    }
                    String part = what + (k == 0 ? ": gradient of " : ": tangent of the gradient of ");
                    Tensor[] got = new Tensor[3];
                    for (int i = 0; i < 3; i++) {
                        got[i] = k == 0 ? grads.get(i) : Tensors.tangentOf(grads.get(i));
                        assertTrue(got[i].defined(), part + i + " is defined");
                    }
                    Tensors.assertClose(gx, Tensors.values(got[0]), 1e-14, 1e-14, part + "x");
                    Tensors.assertClose(gAlpha, Tensors.values(got[1]), 1e-14, 1e-14, part + "alpha");
                    Tensors.assertClose(gBeta, Tensors.values(got[2]), 1e-14, 1e-14, part + "beta");
                }
                assertEquals(createGraph, grads.get(0).requires_grad(), what + ": a graph only under create_graph");
            }
        }
    }
}
