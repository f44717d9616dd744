package io.github.arelu;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

/**
 * libtorch's current CUDA stream, on which the fused CUDA kernels are enqueued so that they order with
 * libtorch's own work. Reached by reflection: bytedeco's CPU build has no {@code torch_cuda} classes, and
 * this class is only initialized when a CUDA tensor reaches the fused path.
 */
final class CudaStreams {

    private static final Method CURRENT_STREAM;
    private static final Method CURRENT_DEVICE;
    private static final Method AS_CUSTREAM;

    static {
        try {
            Class<?> torchCuda = Class.forName("org.bytedeco.pytorch.global.torch_cuda");
            CURRENT_STREAM = torchCuda.getMethod("getCurrentCUDAStream", byte.class);
            CURRENT_DEVICE = torchCuda.getMethod("current_device");
            AS_CUSTREAM = Class.forName("org.bytedeco.pytorch.cuda.CUDAStream").getMethod("asCUstream_st");
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private CudaStreams() {
    }

    /**
     * The current stream of the tensor's device, as a {@code cudaStream_t}.
     *
     * @throws IllegalArgumentException when the tensor is not on the current CUDA device
     */
    static MemorySegment current(Tensor x) {
        byte device = x.device().index();
        try {
            byte current = (byte) CURRENT_DEVICE.invoke(null);
            if (device != current) {
                throw new IllegalArgumentException("AReLU fused CUDA kernels run on the current device cuda:"
                        + current + ", got a tensor on cuda:" + device + "; call torch_cuda.set_device first");
            }
            Object stream = CURRENT_STREAM.invoke(null, device);
            Pointer handle = (Pointer) AS_CUSTREAM.invoke(stream);
            return MemorySegment.ofAddress(handle == null ? 0 : handle.address());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot reach libtorch's current CUDA stream", e);
        }
    }
}
