/**
 * The library's internals: not part of its API, free to change in any release. Public only so that the
 * exported packages ({@code io.github.arelu}, {@code io.github.arelu.autograd}), the library's tests and its
 * benchmarks can reach them; the module descriptor does not export this package.
 *
 * <p>What is here: the argument checks ({@link io.github.arelu.internal.AReLUArguments}), the reference formula
 * in libtorch operations ({@link io.github.arelu.internal.ComposedAReLU}), the fused kernels of {@code native/}
 * ({@link io.github.arelu.internal.FusedKernels}, one implementation per device, chosen per call by device and
 * dtype; the native library is loaded once), the autograd function over them
 * ({@link io.github.arelu.internal.FusedAReLUFunction}), the kernels called directly with every argument
 * checked ({@link io.github.arelu.internal.FusedAReLU}, for benchmarks and tests), and JavaCPP scope and tensor
 * helpers ({@link io.github.arelu.internal.Scopes}, {@link io.github.arelu.internal.TensorInfo}).
 */
package io.github.arelu.internal;
