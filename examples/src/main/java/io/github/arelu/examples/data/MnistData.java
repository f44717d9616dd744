package io.github.arelu.examples.data;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Labelled 28x28 grey-scale images in MNIST's layout (MNIST, Fashion-MNIST, KMNIST): one unsigned byte per
 * pixel, row-major, and one label byte (0..9) per image.
 *
 * @param pixels {@code count * rows * columns} bytes
 * @param labels {@code count} class indices
 */
public record MnistData(byte[] pixels, byte[] labels, int rows, int columns) {

    /** Debian package that installs Fashion-MNIST in {@link #DEFAULT_DIRECTORY}. */
    public static final String DEBIAN_PACKAGE = "dataset-fashion-mnist";
    /** Where {@link #DEBIAN_PACKAGE} puts its files. */
    public static final Path DEFAULT_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");
    public static final int CLASSES = 10;
    /** The side of an image in pixels: what every network here is built for. */
    public static final int IMAGE_SIZE = 28;

    private static final int IMAGES_MAGIC_DIMENSIONS = 3;
    private static final int LABELS_MAGIC_DIMENSIONS = 1;

    /** The two halves of an MNIST-format data set, by the base names of their files. */
    public enum Split {
        TRAIN("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        TEST("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

        final String imagesFile;
        final String labelsFile;

        Split(String imagesFile, String labelsFile) {
            this.imagesFile = imagesFile;
            this.labelsFile = labelsFile;
        }
    }

    public MnistData {
        if (pixels.length != (long) labels.length * rows * columns) {
            throw new IllegalArgumentException(labels.length + " labels need " + (long) labels.length * rows
                    * columns + " pixels of " + rows + "x" + columns + " images, got " + pixels.length);
        }
    }

    public int count() {
        return labels.length;
    }

    public int pixelsPerImage() {
        return rows * columns;
    }

    /**
     * Loads both splits from {@code directory}, checking every file before reading any so that one error
     * names all that is missing.
     *
     * @throws FileSystemException when {@code directory} is a file, not a directory
     * @throws NoSuchFileException naming each missing file and how to get them
     * @throws IdxFormatException for a truncated or corrupt file, a file without images or with images of
     *     another size than {@value #IMAGE_SIZE}x{@value #IMAGE_SIZE}, or images and labels that disagree
     */
    public static MnistData[] loadTrainAndTest(Path directory) throws IOException {
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw new FileSystemException(directory.toString(), null, "not a directory: an MNIST-format data set "
                    + "is a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                    + "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped (.gz) or not");
        }
        List<String> missing = new ArrayList<>();
        for (Split split : Split.values()) {
            for (String base : List.of(split.imagesFile, split.labelsFile)) {
                if (find(directory, base) == null) {
                    missing.add(base + "[.gz]");
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new NoSuchFileException(directory.toString(), null,
                    "MNIST-format data set not found: missing " + String.join(", ", missing) + " in " + directory
                    + ". Install Fashion-MNIST with 'apt-get install " + DEBIAN_PACKAGE + "' (it fills "
                    + DEFAULT_DIRECTORY + ") or pass --data DIR holding train-images-idx3-ubyte, "
                    + "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, "
                    + "gzipped (.gz) or not");
        }
        return new MnistData[] {load(directory, Split.TRAIN), load(directory, Split.TEST)};
    }

    /** Loads one split from {@code directory}; see {@link #loadTrainAndTest} for the errors. */
    public static MnistData load(Path directory, Split split) throws IOException {
        Path imagesPath = require(directory, split.imagesFile);
        Path labelsPath = require(directory, split.labelsFile);
        IdxFile images = IdxFile.read(imagesPath, IMAGES_MAGIC_DIMENSIONS);
        IdxFile labels = IdxFile.read(labelsPath, LABELS_MAGIC_DIMENSIONS);
        int imageCount = images.dimensions()[0];
        int labelCount = labels.dimensions()[0];
        if (imageCount == 0) {
            // Nothing to train on or to score: every accuracy would be 0 / 0.
            throw new IdxFormatException(imagesPath + ": holds no images");
        }
        int rows = images.dimensions()[1];
        int columns = images.dimensions()[2];
        if (rows != IMAGE_SIZE || columns != IMAGE_SIZE) {
            throw new IdxFormatException(imagesPath + ": images of " + rows + "x" + columns + " pixels; the "
                    + "networks here take MNIST's " + IMAGE_SIZE + "x" + IMAGE_SIZE);
        }
        if (imageCount != labelCount) {
            throw new IdxFormatException(imagesPath + " holds " + imageCount + " images but " + labelsPath
                    + " holds " + labelCount + " labels");
        }
        byte[] labelBytes = labels.data();
        for (int i = 0; i < labelBytes.length; i++) {
            if (Byte.toUnsignedInt(labelBytes[i]) >= CLASSES) {
                throw new IdxFormatException(labelsPath + ": label " + Byte.toUnsignedInt(labelBytes[i])
                        + " at index " + i + " is outside 0.." + (CLASSES - 1));
            }
        }
        return new MnistData(images.data(), labelBytes, rows, columns);
    }

    /**
     * How many images {@code split}'s file in {@code directory} holds, read from its header alone: for
     * settings made before the data set is loaded.
     */
    public static int imageCount(Path directory, Split split) throws IOException {
        return IdxFile.readDimensions(require(directory, split.imagesFile), IMAGES_MAGIC_DIMENSIONS)[0];
    }

    /**
     * How many of the first {@code limit} labels of {@code split}'s file in {@code directory} (all of them where
     * {@code limit} is 0) name each class, read from the labels file alone: for settings made before the data
     * set is loaded. Labels outside 0..{@value #CLASSES} - 1 are not counted; {@link #load} refuses them.
     */
    public static int[] labelCounts(Path directory, Split split, int limit) throws IOException {
        byte[] labels = IdxFile.read(require(directory, split.labelsFile), LABELS_MAGIC_DIMENSIONS).data();
        int[] counts = new int[CLASSES];
        int read = limit > 0 ? Math.min(limit, labels.length) : labels.length;
        for (int i = 0; i < read; i++) {
            int label = Byte.toUnsignedInt(labels[i]);
            if (label < CLASSES) {
                counts[label]++;
            }
        }
        return counts;
    }

    /** {@code split}'s images file in {@code directory}, gzipped or not, for messages about its images. */
    public static Path imagesPath(Path directory, Split split) {
        Path file = find(directory, split.imagesFile);
        return file != null ? file : directory.resolve(split.imagesFile);
    }

    /** The first {@code limit} examples, or all of them when {@code limit} is at least {@link #count()}. */
    public MnistData firstN(int limit) {
        if (limit >= count()) {
            return this;
        }
        return new MnistData(Arrays.copyOf(pixels, limit * pixelsPerImage()),
                Arrays.copyOf(labels, limit), rows, columns);
    }

    /**
     * The examples whose label lies in {@code [firstClass, firstClass + classCount)}, relabelled to
     * {@code 0 .. classCount - 1} so a {@code classCount}-way classifier can learn them.
     */
    public MnistData classRange(int firstClass, int classCount) {
        int kept = 0;
        for (byte label : labels) {
            if (label >= firstClass && label < firstClass + classCount) {
                kept++;
            }
        }
        byte[] keptPixels = new byte[kept * pixelsPerImage()];
        byte[] keptLabels = new byte[kept];
        int next = 0;
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] >= firstClass && labels[i] < firstClass + classCount) {
                System.arraycopy(pixels, i * pixelsPerImage(), keptPixels, next * pixelsPerImage(), pixelsPerImage());
                keptLabels[next++] = (byte) (labels[i] - firstClass);
            }
        }
        return new MnistData(keptPixels, keptLabels, rows, columns);
    }

    private static Path require(Path directory, String baseName) throws IOException {
        Path file = find(directory, baseName);
        if (file == null) {
            throw new NoSuchFileException(directory.resolve(baseName).toString(), null,
                    "neither " + baseName + " nor " + baseName + ".gz is in " + directory
                    + " (Debian package " + DEBIAN_PACKAGE + " installs Fashion-MNIST in " + DEFAULT_DIRECTORY + ")");
        }
        return file;
    }

    private static Path find(Path directory, String baseName) {
        for (String name : List.of(baseName, baseName + ".gz")) {
            Path candidate = directory.resolve(name);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
