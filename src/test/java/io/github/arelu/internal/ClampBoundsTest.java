package io.github.arelu.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.arelu.AReLUFunctional;
import io.github.arelu.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * alpha exactly on a clamp bound: its gradient and where projectAlpha puts it follow libtorch's clamp, which passed
 * the gradient there up to libtorch 2.13 and passes none from 2.14. This process runs bytedeco's 2.10; the rule of
 * 2.14 is tested through the functions that take it as an argument (native/torch's tests run it for real against
 * Debian testing's 2.14.1).
 */
class ClampBoundsTest {

    @Test
    void bytedecosLibtorchPassesTheGradientOnTheBoundsAsTheKernelsDo() {
        LibTorch.load();
        assertEquals(new ClampBounds.Rule(true, true), ClampBounds.rule(),
                "libtorch 2.10's clamp passes the gradient on both bounds");
        try (PointerScope scope = new PointerScope()) {
            Tensor alpha = torch.full(new long[] {1}, new Scalar(0.99f),
                    new TensorOptions(ScalarType.Float)).requires_grad_(true);
            Tensor beta = torch.full(new long[] {1}, new Scalar(2.0f),
                    new TensorOptions(ScalarType.Float));
            Tensor x = torch.full(new long[] {3}, new Scalar(-2.0f),
                    new TensorOptions(ScalarType.Float));
            AReLUFunctional.arelu(x, alpha, beta).sum().backward();
            assertEquals(-6.0, alpha.grad().item_double(), 0.0, "d/dalpha of sum(alpha * x) on the bound 0.99");
        }
    }

    @Test
    void aClampThatPassesNoneOnItsBoundsZeroesTheGradientThereOnly() {
        LibTorch.load();
        try (PointerScope scope = new PointerScope()) {
            float[] values = {0.01f, 0.5f, 0.99f, 0.0f, Math.nextUp(0.01f), Math.nextDown(0.99f), 1.5f};
            Tensor alpha = floats(values);
            Tensor grad = floats(new float[] {1, 2, 3, 4, 5, 6, 7});
            ClampBounds.zeroGradientOnBounds(alpha, grad, new ClampBounds.Rule(true, true));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7}, floatsOf(grad), "passing: unchanged");
            ClampBounds.zeroGradientOnBounds(alpha, grad, new ClampBounds.Rule(true, false));
            assertArrayEquals(new float[] {1, 2, 0, 4, 5, 6, 7}, floatsOf(grad), "on the upper bound only");
            ClampBounds.zeroGradientOnBounds(alpha, grad, new ClampBounds.Rule(false, false));
            assertArrayEquals(new float[] {0, 2, 0, 4, 5, 6, 7}, floatsOf(grad),
                    "on 0.01 and 0.99 as float32 holds them, and nowhere else");

            Tensor alpha64 = torch.full(new long[] {2}, new Scalar(0.01),
                    new TensorOptions(ScalarType.Double));
            alpha64.index_fill_(0, torch.zeros(new long[] {1}, new TensorOptions(ScalarType.Long)),
                    new Scalar((double) 0.01f));
            Tensor grad64 = torch.ones(new long[] {2}, new TensorOptions(ScalarType.Double));
            ClampBounds.zeroGradientOnBounds(alpha64, grad64, new ClampBounds.Rule(false, false));
            assertEquals(1.0, grad64.get(0).item_double(), 0.0, "float32's 0.01 is not float64's bound");
            assertEquals(0.0, grad64.get(1).item_double(), 0.0, "float64's 0.01");
        }
    }

    @Test
    void projectAlphaGoesToTheBoundsOrWhereAClampThatPassesNoneThereStillPassesIt() {
        LibTorch.load();
        ClampBounds.Rule passes = new ClampBounds.Rule(true, true);
        ClampBounds.Rule passesNone = new ClampBounds.Rule(false, false);
        assertArrayEquals(new double[] {0.01, 0.99}, ClampBounds.trainableRange(ScalarType.Float, passes), 0.0);
        assertArrayEquals(new double[] {Math.nextUp(0.01f), Math.nextDown(0.99f)},
                ClampBounds.trainableRange(ScalarType.Float, passesNone), 0.0);
        assertArrayEquals(new double[] {Math.nextUp(0.01), Math.nextDown(0.99)},
                ClampBounds.trainableRange(ScalarType.Double, passesNone), 0.0);
        assertArrayEquals(new double[] {Math.nextUp(0.01), 0.99},
                ClampBounds.trainableRange(ScalarType.Double, new ClampBounds.Rule(false, true)), 0.0);
        assertArrayEquals(new double[] {0.01, 0.99}, ComposedAReLU.trainableAlphaRange(ScalarType.Float), 0.0,
                "on this libtorch, the bounds");
    }

    private static Tensor floats(float[] values) {
        Tensor t = torch.zeros(new long[] {values.length}, new TensorOptions(ScalarType.Float));
        for (int i = 0; i < values.length; i++) {
            t.get(i).fill_(new Scalar(values[i]));
        }
        return t;
    }

    private static float[] floatsOf(Tensor t) {
        float[] out = new float[(int) t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) t.get(i).item_double();
        }
        return out;
    }
}
