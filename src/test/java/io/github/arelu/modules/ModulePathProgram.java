package io.github.arelu.modules;

import java.io.IOException;

import io.github.arelu.AReLU;
import io.github.arelu.AReLUFunctional;
import io.github.arelu.LibTorch;
import io.github.arelu.probe.LibTorchMappings;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A program run with the library on the module path, for {@link ModulePathTest}: prints what the module
 * exports, which path AReLU takes, whether the fused gradients agree with libtorch's of the reference, and
 * JavaCPP's cache and the libtorch libraries mapped into the process.
 */
public final class ModulePathProgram {

    private ModulePathProgram() {
    }

    public static void main(String[] args) throws IOException {
        Module library = AReLU.class.getModule();
        System.out.println("module " + library.getName());
        for (String pkg : new String[] {"io.github.arelu", "io.github.arelu.autograd", "io.github.arelu.internal"}) {
            System.out.println("exports " + pkg + " " + library.isExported(pkg));
        }
        LibTorch.load();
        AReLU arelu = new AReLU(0.3, -1.0);
        Tensor x = torch.linspace(new org.bytedeco.pytorch.Scalar(-2.0), new org.bytedeco.pytorch.Scalar(3.0), 11)
                .requires_grad_(true);
        System.out.println("path " + arelu.pathFor(x));
        arelu.forward(x).sum().backward();
        double fusedAlpha = arelu.alpha().grad().item_double();
        double fusedX = x.grad().sum().item_double();
        arelu.zero_grad(true);
        x.grad().zero_();
        AReLUFunctional.areluComposed(x, arelu.alpha(), arelu.beta()).sum().backward();
        boolean agree = Math.abs(fusedAlpha - arelu.alpha().grad().item_double()) < 1e-5
                && Math.abs(fusedX - x.grad().sum().item_double()) < 1e-5;
        System.out.println("gradients agree " + agree + " (alpha " + fusedAlpha + ")");
        System.out.println("cache " + Loader.getCacheDir().toPath().toRealPath());
        for (String path : LibTorchMappings.mappedLibTorch()) {
            System.out.println("mapped " + path);
        }
    }
}
