package io.github.arelu.examples.cli;

import java.io.IOException;
import java.nio.file.Path;

import io.github.arelu.examples.data.MnistData;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code --data}: where every experiment reads (Fashion-)MNIST from. */
public final class DataOptions {

    @Option(names = "--data", paramLabel = "DIR", description = "directory with MNIST-format IDX files, gzipped or "
            + "not (default: ${DEFAULT-VALUE}, from Debian's " + MnistData.DEBIAN_PACKAGE + ")")
    Path data = MnistData.DEFAULT_DIRECTORY;

    /** The training and the test images of {@code --data}. */
    MnistData[] load() throws IOException {
        return MnistData.loadTrainAndTest(data);
    }

    /** Says on the command's error stream that the data set could not be read; returns the exit code, 1. */
    static int reportError(CommandSpec command, IOException e) {
        command.commandLine().getErr().println(command.name() + ": cannot read the data set: " + e.getMessage());
        return 1;
    }

    @Override
    public String toString() {
        return data.toString();
    }
}
