package io.github.arelu.examples.report;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.math.BigDecimal;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

import io.github.arelu.examples.train.AReLUTrajectory;
import io.github.arelu.examples.train.Trainer;

/**
 * The finished runs of a long experiment on disk, one small properties file per run, so that an interrupted
 * experiment resumes where it stopped. Each file repeats the experiment's setup (network, optimizer, data,
 * epochs, ...); a file whose setup differs from the current one is an error rather than a result silently
 * mixed into a table it does not belong to.
 *
 * <p>Files are written to a temporary name and moved into place, so an interruption leaves either the whole
 * run or nothing.
 */
public final class RunStore {

    /** One run of the experiment: which learning rate, which activation, which run (0-based). */
    public record RunKey(double learningRate, String activation, int run) {
    }

    /** Thrown when the directory holds results of a different setup. */
    public static final class SetupMismatchException extends IOException {
        SetupMismatchException(String message) {
            super(message);
        }
    }

    private static final String SETUP_PREFIX = "setup.";
    private static final String PARAMETERS = "parameters.";
    private static final String THREADS = "threads";

    private final Path directory;
    private final Map<String, String> setup;
    private final Map<String, String> names;
    private final Set<String> recordedLater;

    /**
     * @param directory where the run files live (created on the first save)
     * @param setup what every run of this experiment shares, as key-value text (stored with each run and
     *     compared on load)
     */
    public RunStore(Path directory, Map<String, String> setup) {
        this(directory, setup, Map.of(), Set.of());
    }

    /**
     * @param names how messages name a setup entry, by its key (the option a user sets it with, where the
     *     stored keys predate such names); a key without one is named as stored
     * @param recordedLater the setup entries that runs stored before they were recorded lack: such a run is
     *     taken as agreeing on them, so that it still resumes
     */
    public RunStore(Path directory, Map<String, String> setup, Map<String, String> names, Set<String> recordedLater) {
        this.directory = directory;
        this.setup = new LinkedHashMap<>(setup);
        this.names = Map.copyOf(names);
        this.recordedLater = Set.copyOf(recordedLater);
    }

    /** {@code 0.0001} rather than {@code 1.0E-4}: for file names and tables. */
    public static String formatLearningRate(double learningRate) {
        return BigDecimal.valueOf(learningRate).stripTrailingZeros().toPlainString();
    }

    /** The file of {@code key}: {@code lr-0.0001/AReLU/run-1.properties} under the directory (runs 1-based). */
    public Path fileOf(RunKey key) {
        return directory.resolve("lr-" + formatLearningRate(key.learningRate())).resolve(key.activation())
                .resolve("run-" + (key.run() + 1) + ".properties");
    }

    /**
     * The stored history of {@code key}, or empty when that run has not finished yet.
     *
     * @throws SetupMismatchException when the stored run was made with another setup, naming the differences
     * @throws IOException when the file cannot be read or is not a run file
     */
    public Optional<Trainer.History> load(RunKey key) throws IOException {
        Path file = fileOf(key);
        Properties properties = stored(key).orElse(null);
        if (properties == null) {
            return Optional.empty();
        }
        // A file copied or moved by hand holds another cell's run: counted here, it would be a wrong mean.
        String storedKey = properties.getProperty("learningRate") + "/" + properties.getProperty("activation") + "/"
                + properties.getProperty("run");
        String expectedKey = Double.toString(key.learningRate()) + "/" + key.activation() + "/" + (key.run() + 1);
        if (!storedKey.equals(expectedKey)) {
            throw new IOException(file + " holds the run of learning rate, activation and run (1-based) '" + storedKey
                    + "', not '" + expectedKey + "': copied or moved there by hand? Delete it to run it again.");
        }
        List<String> differences = new ArrayList<>();
        for (Map.Entry<String, String> entry : setup.entrySet()) {
            String stored = properties.getProperty(SETUP_PREFIX + entry.getKey());
            if (stored == null && recordedLater.contains(entry.getKey())) {
                continue;
            }
            if (!entry.getValue().equals(stored)) {
                differences.add(nameOf(entry.getKey()) + " " + (stored == null ? "missing" : "'" + stored + "'")
                        + " there, '" + entry.getValue() + "' now");
            }
        }
        // And what the stored run had that this setup has not (an option that is only stored when on).
        for (String name : properties.stringPropertyNames()) {
            if (name.startsWith(SETUP_PREFIX) && !setup.containsKey(name.substring(SETUP_PREFIX.length()))) {
                differences.add(nameOf(name.substring(SETUP_PREFIX.length())) + " '" + properties.getProperty(name)
                        + "' there, missing now");
            }
        }
        if (!differences.isEmpty()) {
            throw new SetupMismatchException(file + " was made with another setup (" + String.join("; ", differences)
                    + "). Use another output directory, or delete " + directory + " to start over.");
        }
        try {
            return Optional.of(new Trainer.History(doubles(properties, "trainLoss"), doubles(properties, "testAccuracy"),
                    Double.parseDouble(required(properties, "imagesPerSecond")),
                    Double.parseDouble(required(properties, "seconds")), trajectories(properties)));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is not a complete run file: " + e.getMessage(), e);
        }
    }

    /** The properties stored for {@code key}, or empty when that run has not finished yet. */
    private Optional<Properties> stored(RunKey key) throws IOException {
        Path file = fileOf(key);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        }
        return Optional.of(properties);
    }

    private String nameOf(String key) {
        return names.getOrDefault(key, key);
    }

    /**
     * The libtorch thread count that {@code key}'s run was trained with, or empty for a run stored before it
     * was recorded or not stored at all. Not part of the setup: it changes speed, not what is trained, so a
     * table may resume with another; its images/s then average different counts, which the table says.
     */
    public OptionalInt threadsOf(RunKey key) throws IOException {
        Properties properties = stored(key).orElse(null);
        if (properties == null) {
            return OptionalInt.empty();
        }
        String threads = properties.getProperty(THREADS);
        try {
            return threads == null ? OptionalInt.empty() : OptionalInt.of(Integer.parseInt(threads));
        } catch (NumberFormatException e) {
            throw new IOException(fileOf(key) + " is not a complete run file: threads '" + threads + "' is not a number",
                    e);
        }
    }

    /**
     * Stores {@code history} as the result of {@code key}, trained with {@code threads} libtorch threads,
     * replacing any earlier file of that run.
     */
    public void save(RunKey key, Trainer.History history, int threads) throws IOException {
        Path file = fileOf(key);
        Files.createDirectories(file.getParent());
        Properties properties = new Properties();
        setup.forEach((name, value) -> properties.setProperty(SETUP_PREFIX + name, value));
        properties.setProperty("learningRate", Double.toString(key.learningRate()));
        properties.setProperty("activation", key.activation());
        properties.setProperty("run", Integer.toString(key.run() + 1));
        properties.setProperty("trainLoss", joined(history.trainLoss()));
        properties.setProperty("testAccuracy", joined(history.testAccuracy()));
        properties.setProperty("imagesPerSecond", Double.toString(history.imagesPerSecond()));
        properties.setProperty("seconds", Double.toString(history.seconds()));
        properties.setProperty(THREADS, Integer.toString(threads));
        saveTrajectories(properties, history.parameters());
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING); Writer writer = Channels.newWriter(channel, StandardCharsets.UTF_8)) {
            properties.store(writer, "one finished run; delete it to run it again");
            writer.flush();
            // On disk before the rename, so a crash cannot leave an empty file under the final name.
            channel.force(true);
        }
        try {
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * The AReLU layers' trajectories as {@code parameters.layers} (their names in order) and, per layer,
     * {@code parameters.LAYER.channels} and {@code parameters.LAYER.alpha.mean} etc. (one value per point).
     * Runs without AReLU layers, and files written before trajectories were recorded, have none.
     */
    private static void saveTrajectories(Properties properties, List<AReLUTrajectory> trajectories) {
        if (trajectories.isEmpty()) {
            return;
        }
        properties.setProperty(PARAMETERS + "layers", trajectories.stream().map(AReLUTrajectory::layer)
                .collect(Collectors.joining(",")));
        for (AReLUTrajectory trajectory : trajectories) {
            String prefix = PARAMETERS + trajectory.layer() + ".";
            properties.setProperty(prefix + "channels", Long.toString(trajectory.channels()));
            saveSummaries(properties, prefix + "alpha.", trajectory.alpha());
            saveSummaries(properties, prefix + "beta.", trajectory.beta());
        }
    }

    private static void saveSummaries(Properties properties, String prefix, List<AReLUTrajectory.Summary> summaries) {
        properties.setProperty(prefix + "mean", joined(summaries.stream().mapToDouble(AReLUTrajectory.Summary::mean)
                .toArray()));
        properties.setProperty(prefix + "min", joined(summaries.stream().mapToDouble(AReLUTrajectory.Summary::min)
                .toArray()));
        properties.setProperty(prefix + "max", joined(summaries.stream().mapToDouble(AReLUTrajectory.Summary::max)
                .toArray()));
        properties.setProperty(prefix + "outsideClamp", joined(summaries.stream()
                .mapToDouble(AReLUTrajectory.Summary::outsideClamp).toArray()));
    }

    private static List<AReLUTrajectory> trajectories(Properties properties) {
        String layers = properties.getProperty(PARAMETERS + "layers");
        if (layers == null) {
            return List.of();
        }
        List<AReLUTrajectory> trajectories = new ArrayList<>();
        for (String layer : layers.split(",", -1)) {
            String prefix = PARAMETERS + layer + ".";
            trajectories.add(new AReLUTrajectory(layer, Long.parseLong(required(properties, prefix + "channels")),
                    summaries(properties, prefix + "alpha."), summaries(properties, prefix + "beta.")));
        }
        return trajectories;
    }

    private static List<AReLUTrajectory.Summary> summaries(Properties properties, String prefix) {
        double[] mean = doubles(properties, prefix + "mean");
        double[] min = doubles(properties, prefix + "min");
        double[] max = doubles(properties, prefix + "max");
        double[] outside = doubles(properties, prefix + "outsideClamp");
        if (min.length != mean.length || max.length != mean.length || outside.length != mean.length) {
            throw new IllegalArgumentException(prefix + "* have different lengths");
        }
        List<AReLUTrajectory.Summary> summaries = new ArrayList<>();
        for (int i = 0; i < mean.length; i++) {
            summaries.add(new AReLUTrajectory.Summary(mean[i], min[i], max[i], outside[i]));
        }
        return summaries;
    }

    private static String required(Properties properties, String name) {
        String value = properties.getProperty(name);
        if (value == null) {
            throw new IllegalArgumentException("no " + name);
        }
        return value;
    }

    /** Doubles as {@link Double#toString} writes them, so a stored value reads back bit for bit. */
    private static double[] doubles(Properties properties, String name) {
        String text = required(properties, name);
        if (text.isEmpty()) {
            return new double[0];
        }
        return Arrays.stream(text.split(",", -1)).mapToDouble(Double::parseDouble).toArray();
    }

    private static String joined(double[] values) {
        return Arrays.stream(values).mapToObj(Double::toString).collect(Collectors.joining(","));
    }
}
