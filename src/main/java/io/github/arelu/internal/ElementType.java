package io.github.arelu.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.bytedeco.pytorch.global.torch.ScalarType;

/** The element types the kernels serve: the symbol suffix of their kernels and their values in host memory. */
enum ElementType {

    FLOAT(ScalarType.Float, "f32", ValueLayout.JAVA_FLOAT) {
        @Override
        double load(MemorySegment slot) {
            return slot.get(ValueLayout.JAVA_FLOAT, 0);
        }

        @Override
        void store(MemorySegment slot, double value) {
            slot.set(ValueLayout.JAVA_FLOAT, 0, (float) value);
        }
    },

    DOUBLE(ScalarType.Double, "f64", ValueLayout.JAVA_DOUBLE) {
        @Override
        double load(MemorySegment slot) {
            return slot.get(ValueLayout.JAVA_DOUBLE, 0);
        }

        @Override
        void store(MemorySegment slot, double value) {
            slot.set(ValueLayout.JAVA_DOUBLE, 0, value);
        }
    };

    final ScalarType dtype;
    /** The kernels' symbol suffix: {@code arelu_forward_f32}. */
    final String suffix;
    /** The kernels' scale arguments. */
    final ValueLayout layout;

    ElementType(ScalarType dtype, String suffix, ValueLayout layout) {
        this.dtype = dtype;
        this.suffix = suffix;
        this.layout = layout;
    }

    /** The element type of the kernels for {@code dtype}, or null when there are none. */
    static ElementType of(ScalarType dtype) {
        return dtype == ScalarType.Float ? FLOAT : dtype == ScalarType.Double ? DOUBLE : null;
    }

    /** The element-type value at the start of {@code slot}, widened. */
    abstract double load(MemorySegment slot);

    /**
     * The element-type value at {@code address} in host memory, widened; the address need not be aligned (a
     * parameter made with {@code from_blob} may lie anywhere).
     */
    double loadAt(long address) {
        return layout == ValueLayout.JAVA_FLOAT ? HostMemory.ALL.get(ValueLayout.JAVA_FLOAT_UNALIGNED, address)
                : HostMemory.ALL.get(ValueLayout.JAVA_DOUBLE_UNALIGNED, address);
    }

    /** Writes {@code value} (a value of this type) at the start of {@code slot} in this type. */
    abstract void store(MemorySegment slot, double value);
}
