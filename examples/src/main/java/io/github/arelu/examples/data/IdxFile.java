package io.github.arelu.examples.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * An unsigned-byte IDX array as MNIST and Fashion-MNIST ship them: a 4-byte magic number (two zero bytes,
 * the element type 0x08 and the number of dimensions), one big-endian int32 per dimension, then the data.
 *
 * @param dimensions the sizes from the header, outermost first
 * @param data the elements, row-major, exactly as many as the dimensions multiply to
 */
public record IdxFile(int[] dimensions, byte[] data) {

    /** Element type code of unsigned bytes, the only type MNIST-format files use. */
    static final int UNSIGNED_BYTE = 0x08;

    private static final int GZIP_MAGIC = 0x1f8b;

    /**
     * Reads {@code file}, gunzipping it when it starts with the gzip magic whatever its name.
     *
     * @param expectedDimensions the number of dimensions the caller needs (3 for images, 1 for labels)
     * @throws IdxFormatException naming the file, for an empty file, a bad magic number, an unexpected number
     *     of dimensions, a negative size, or data shorter or longer than the header announces
     */
    public static IdxFile read(Path file, int expectedDimensions) throws IOException {
        return open(file, in -> readFrom(in, file, expectedDimensions));
    }

    /**
     * The sizes in {@code file}'s header, outermost first, without reading its data: how many images a file
     * holds, for decisions made before the data set is loaded.
     *
     * @throws IdxFormatException as {@link #read} does for the header
     */
    public static int[] readDimensions(Path file, int expectedDimensions) throws IOException {
        return open(file, in -> readHeader(in, file, expectedDimensions));
    }

    /** What is read from a file once it is open and gunzipped where needed. */
    private interface Reading<T> {
        T from(DataInputStream in) throws IOException;
    }

    private static <T> T open(Path file, Reading<T> reading) throws IOException {
        if (Files.size(file) == 0) {
            throw new IdxFormatException(file + ": empty file");
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file));
             DataInputStream in = new DataInputStream(maybeGunzip(raw))) {
            return reading.from(in);
        } catch (ZipException | EOFException e) {
            // A damaged gzip stream or a header cut short: the JDK's messages do not say which file, and an
            // end of file inside a header has no message at all.
            throw new IdxFormatException(file + ": truncated or corrupt (" + (e.getMessage() == null
                    ? "it ends before its header is complete" : e.getMessage()) + ")", e);
        }
    }

    private static InputStream maybeGunzip(InputStream raw) throws IOException {
        raw.mark(2);
        int first = raw.read();
        int second = raw.read();
        raw.reset();
        boolean gzip = first >= 0 && second >= 0 && ((first << 8) | second) == GZIP_MAGIC;
        return gzip ? new GZIPInputStream(raw) : raw;
    }

    private static IdxFile readFrom(DataInputStream in, Path file, int expectedDimensions) throws IOException {
        int[] dimensions = readHeader(in, file, expectedDimensions);
        long elementCount = 1;
        for (int size : dimensions) {
            elementCount *= size;
        }
        byte[] data = in.readNBytes((int) elementCount);
        if (data.length < elementCount) {
            throw new IdxFormatException(file + ": truncated: header " + Arrays.toString(dimensions)
                    + " announces " + elementCount + " bytes of data, found only " + data.length);
        }
        if (in.read() != -1) {
            throw new IdxFormatException(file + ": corrupt: data continues past the " + elementCount
                    + " bytes that header " + Arrays.toString(dimensions) + " announces");
        }
        return new IdxFile(dimensions, data);
    }

    /** The magic number and the sizes, checked: sizes whose product fits in a byte array. */
    private static int[] readHeader(DataInputStream in, Path file, int expectedDimensions) throws IOException {
        int magic = in.readInt();
        int type = (magic >>> 8) & 0xff;
        int dimensionCount = magic & 0xff;
        if ((magic >>> 16) != 0 || type != UNSIGNED_BYTE) {
            throw new IdxFormatException(String.format(
                    "%s: bad magic number 0x%08x, expected 0x%08x (an unsigned-byte IDX file)",
                    file, magic, (UNSIGNED_BYTE << 8) | expectedDimensions));
        }
        if (dimensionCount != expectedDimensions) {
            throw new IdxFormatException(file + ": has " + dimensionCount + " dimensions, expected "
                    + expectedDimensions + " (magic number 0x" + Integer.toHexString(magic) + ")");
        }
        int[] dimensions = new int[dimensionCount];
        long elementCount = 1;
        for (int i = 0; i < dimensionCount; i++) {
            dimensions[i] = in.readInt();
            if (dimensions[i] < 0) {
                throw new IdxFormatException(file + ": negative size " + dimensions[i] + " in dimension " + i);
            }
            elementCount *= dimensions[i];
            if (elementCount > Integer.MAX_VALUE - 16) {
                throw new IdxFormatException(file + ": header announces more elements than fit in memory: "
                        + Arrays.toString(Arrays.copyOf(dimensions, i + 1)));
            }
        }
        return dimensions;
    }
}
