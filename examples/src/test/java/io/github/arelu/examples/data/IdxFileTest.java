package io.github.arelu.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX reader and the MNIST directory loader, on small files written here. */
class IdxFileTest {

    @TempDir
    Path directory;

    @Test
    void readsHeaderAndDataOfPlainAndGzippedFiles() throws IOException {
        byte[] pixels = sequence(2 * 3 * 4);
        for (boolean gzip : new boolean[] {false, true}) {
            Path file = write("images" + (gzip ? ".gz" : ""), idx(3, new int[] {2, 3, 4}, pixels), gzip);
            IdxFile idx = IdxFile.read(file, 3);
            assertArrayEquals(new int[] {2, 3, 4}, idx.dimensions(), "dimensions, gzip=" + gzip);
            assertArrayEquals(pixels, idx.data(), "data, gzip=" + gzip);
        }
    }

    @Test
    void gzipIsDetectedByContentNotByName() throws IOException {
        Path file = write("labels-without-gz-suffix", idx(1, new int[] {3}, new byte[] {7, 8, 9}), true);
        assertArrayEquals(new byte[] {7, 8, 9}, IdxFile.read(file, 1).data());
    }

    @Test
    void badMagicNumberIsNamedWithTheFile() throws IOException {
        byte[] bytes = idx(3, new int[] {1, 2, 2}, sequence(4));
        bytes[2] = 0x0d; // float elements instead of unsigned bytes
        Path file = write("float-images", bytes, false);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
        assertTrue(error.getMessage().contains("bad magic number 0x00000d03"), error.getMessage());
        assertTrue(error.getMessage().contains(file.toString()), error.getMessage());
    }

    @Test
    void labelsFileWhereImagesAreExpectedIsRejected() throws IOException {
        Path file = write("labels", idx(1, new int[] {4}, sequence(4)), false);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
        assertTrue(error.getMessage().contains("has 1 dimensions, expected 3"), error.getMessage());
    }

    @Test
    void shortDataIsReportedAsTruncated() throws IOException {
        byte[] whole = idx(3, new int[] {10, 28, 28}, sequence(10 * 28 * 28));
        for (boolean gzip : new boolean[] {false, true}) {
            Path file = write("short" + gzip, Arrays.copyOf(whole, whole.length - 100), gzip);
            IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
            assertTrue(error.getMessage().contains("truncated"), error.getMessage());
            assertTrue(error.getMessage().contains("announces 7840 bytes of data, found only 7740"), error.getMessage());
        }
    }

    @Test
    void headerCutShortIsReportedAsTruncated() throws IOException {
        Path file = write("header-only", Arrays.copyOf(idx(3, new int[] {1, 28, 28}, new byte[0]), 9), false);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
        assertTrue(error.getMessage().contains("truncated or corrupt"), error.getMessage());
    }

    /** An empty file, gzipped or not, and a gzip header cut short used to say "truncated or corrupt (null)". */
    @Test
    void emptyFilesAndCutHeadersAreSaidInWords() throws IOException {
        for (String name : new String[] {"empty", "empty.gz"}) {
            Path file = write(name, new byte[0], false);
            IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
            assertEquals(file + ": empty file", error.getMessage());
        }
        Path noContent = write("no-content.gz", new byte[0], true);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(noContent, 3));
        assertEquals(noContent + ": truncated or corrupt (it ends before its header is complete)", error.getMessage());
        byte[] gzipHeader = Arrays.copyOf(gzip(idx(1, new int[] {1}, new byte[] {1})), 5);
        Path cutHeader = write("cut-header.gz", gzipHeader, false);
        error = assertThrows(IdxFormatException.class, () -> IdxFile.read(cutHeader, 1));
        assertEquals(cutHeader + ": truncated or corrupt (it ends before its header is complete)", error.getMessage());
    }

    @Test
    void theHeaderAloneGivesTheSizes() throws IOException {
        Path file = write("images.gz", idx(3, new int[] {3, 28, 28}, sequence(3 * 28 * 28)), true);
        assertArrayEquals(new int[] {3, 28, 28}, IdxFile.readDimensions(file, 3));
        writeSplit("train", 3, true, new byte[] {0, 1, 2});
        assertEquals(3, MnistData.imageCount(directory, MnistData.Split.TRAIN));
    }

    @Test
    void theLabelsFileAloneGivesTheCountsOfTheClasses() throws IOException {
        writeSplit("train", 6, true, new byte[] {0, 9, 2, 9, 12, 2});
        assertArrayEquals(new int[] {1, 0, 2, 0, 0, 0, 0, 0, 0, 2},
                MnistData.labelCounts(directory, MnistData.Split.TRAIN, 0), "label 12 is not counted");
        assertArrayEquals(new int[] {1, 0, 1, 0, 0, 0, 0, 0, 0, 1},
                MnistData.labelCounts(directory, MnistData.Split.TRAIN, 3), "the first 3");
        assertArrayEquals(new int[] {1, 0, 2, 0, 0, 0, 0, 0, 0, 2},
                MnistData.labelCounts(directory, MnistData.Split.TRAIN, 100), "all of them");
    }

    @Test
    void cutGzipStreamIsReportedWithTheFile() throws IOException {
        byte[] gzipped = gzip(idx(3, new int[] {50, 28, 28}, sequence(50 * 28 * 28)));
        Path file = write("cut.gz", Arrays.copyOf(gzipped, gzipped.length / 2), false);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 3));
        assertTrue(error.getMessage().contains(file.toString()), error.getMessage());
    }

    @Test
    void dataBeyondTheAnnouncedSizeIsCorrupt() throws IOException {
        byte[] bytes = idx(1, new int[] {3}, sequence(5));
        Path file = write("long", bytes, false);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> IdxFile.read(file, 1));
        assertTrue(error.getMessage().contains("data continues past the 3 bytes"), error.getMessage());
    }

    @Test
    void loadsAnMnistDirectoryAndChecksLabelsAgainstImages() throws IOException {
        writeSplit("train", 5, false, new byte[] {0, 1, 2, 3, 9});
        writeSplit("t10k", 2, true, new byte[] {4, 5});
        MnistData[] data = MnistData.loadTrainAndTest(directory);
        assertEquals(5, data[0].count());
        assertEquals(2, data[1].count());
        assertEquals(28, data[0].rows());
        assertArrayEquals(new byte[] {4, 5}, data[1].labels());
        MnistData upperHalf = data[0].classRange(5, 5);
        assertArrayEquals(new byte[] {4}, upperHalf.labels(), "class 9 relabelled 4");
    }

    @Test
    void missingFilesAreAllNamedWithTheDebianPackage() throws IOException {
        writeSplit("train", 3, false, new byte[] {0, 1, 2});
        NoSuchFileException error = assertThrows(NoSuchFileException.class, () -> MnistData.loadTrainAndTest(directory));
        String message = error.getMessage();
        assertTrue(message.contains("t10k-images-idx3-ubyte[.gz]"), message);
        assertTrue(message.contains("t10k-labels-idx1-ubyte[.gz]"), message);
        assertTrue(!message.contains("missing train-"), message);
        assertTrue(message.contains("apt-get install dataset-fashion-mnist"), message);
    }

    @Test
    void imageAndLabelCountsMustAgree() throws IOException {
        writeSplit("train", 3, false, new byte[] {0, 1, 2});
        write("train-labels-idx1-ubyte", idx(1, new int[] {2}, new byte[] {0, 1}), false);
        IdxFormatException error = assertThrows(IdxFormatException.class,
                () -> MnistData.load(directory, MnistData.Split.TRAIN));
        assertTrue(error.getMessage().contains("holds 3 images but"), error.getMessage());
    }

    @Test
    void aSplitWithoutImagesIsRefused() throws IOException {
        writeSplit("train", 0, false, new byte[0]);
        IdxFormatException error = assertThrows(IdxFormatException.class,
                () -> MnistData.load(directory, MnistData.Split.TRAIN));
        assertEquals(directory.resolve("train-images-idx3-ubyte") + ": holds no images", error.getMessage());
    }

    /** The networks take 28x28 images; 14x14 ones reached libtorch, which failed with a stack trace. */
    @Test
    void imagesOfAnotherSizeThan28x28AreRefused() throws IOException {
        write("t10k-images-idx3-ubyte", idx(3, new int[] {2, 14, 14}, sequence(2 * 14 * 14)), false);
        write("t10k-labels-idx1-ubyte", idx(1, new int[] {2}, new byte[] {0, 1}), false);
        IdxFormatException error = assertThrows(IdxFormatException.class,
                () -> MnistData.load(directory, MnistData.Split.TEST));
        assertEquals(directory.resolve("t10k-images-idx3-ubyte") + ": images of 14x14 pixels; the networks here "
                + "take MNIST's 28x28", error.getMessage());
    }

    @Test
    void aFileWhereTheDirectoryShouldBeIsNamedAsSuch() throws IOException {
        Path file = write("not-a-directory", new byte[] {1}, false);
        IOException error = assertThrows(IOException.class, () -> MnistData.loadTrainAndTest(file));
        assertTrue(error.getMessage().startsWith(file + ": not a directory"), error.getMessage());
        assertFalse(error.getMessage().contains("missing"), error.getMessage());
    }

    @Test
    void labelsOutsideTenClassesAreCorrupt() throws IOException {
        writeSplit("train", 2, false, new byte[] {3, 12});
        IdxFormatException error = assertThrows(IdxFormatException.class,
                () -> MnistData.load(directory, MnistData.Split.TRAIN));
        assertTrue(error.getMessage().contains("label 12 at index 1"), error.getMessage());
    }

    /** At the boundary: 9 is Fashion-MNIST's last class, 10 the first label past it. */
    @Test
    void labelTenIsCorruptAndLabelNineIsNot() throws IOException {
        writeSplit("train", 2, false, new byte[] {0, 9});
        assertEquals(9, MnistData.load(directory, MnistData.Split.TRAIN).labels()[1]);
        writeSplit("train", 2, false, new byte[] {9, 10});
        IdxFormatException error = assertThrows(IdxFormatException.class,
                () -> MnistData.load(directory, MnistData.Split.TRAIN));
        assertTrue(error.getMessage().contains("label 10 at index 1"), error.getMessage());
    }

    private void writeSplit(String prefix, int count, boolean gzip, byte[] labels) throws IOException {
        String suffix = gzip ? ".gz" : "";
        write(prefix + "-images-idx3-ubyte" + suffix, idx(3, new int[] {count, 28, 28}, sequence(count * 28 * 28)), gzip);
        write(prefix + "-labels-idx1-ubyte" + suffix, idx(1, new int[] {count}, labels), gzip);
    }

    private Path write(String name, byte[] bytes, boolean gzip) throws IOException {
        return Files.write(directory.resolve(name), gzip ? gzip(bytes) : bytes);
    }

    /** An unsigned-byte IDX file: magic 0x000008NN, big-endian sizes, data. */
    static byte[] idx(int dimensionCount, int[] sizes, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt((IdxFile.UNSIGNED_BYTE << 8) | dimensionCount);
            for (int size : sizes) {
                out.writeInt(size);
            }
            out.write(data);
        }
        return bytes.toByteArray();
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream compressed = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(compressed)) {
            out.write(bytes);
        }
        return compressed.toByteArray();
    }

    private static byte[] sequence(int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31);
        }
        return bytes;
    }
}
