/**
 * AReLU for bytedeco's PyTorch presets: the {@code AReLU} module and its functional form
 * ({@code io.github.arelu}), and autograd functions written in Java for any fused operation
 * ({@code io.github.arelu.autograd}). The kernels are called through {@code java.lang.foreign}: run with
 * {@code --enable-native-access=io.github.arelu} on the module path ({@code ALL-UNNAMED} on the class path).
 */
module io.github.arelu {
    requires transitive org.bytedeco.pytorch;

    exports io.github.arelu;
    exports io.github.arelu.autograd;
}
