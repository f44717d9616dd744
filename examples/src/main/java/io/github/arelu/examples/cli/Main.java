package io.github.arelu.examples.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Properties;

import io.github.arelu.LibTorch;
import io.github.arelu.examples.train.NonFiniteResultException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * The AReLU paper's experiments on (Fashion-)MNIST, one subcommand each: {@code compare}, {@code lr-table},
 * {@code transfer} and {@code maml}. Process-wide settings are made here and only here: libtorch is loaded
 * first, and once a subcommand's options are checked, the libtorch settings they ask for
 * ({@link ProcessSettings}) are applied before it runs.
 */
@Command(name = "arelu-examples", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Reproduces the AReLU paper's experiments; 'arelu-examples COMMAND --help' lists a command's "
                + "options.",
        subcommands = {CompareCommand.class, LearningRateTableCommand.class, TransferCommand.class,
            MetaLearningCommand.class})
public final class Main implements Runnable {

    @Spec
    CommandSpec spec;

    /**
     * {@code -V}: this program's version and the library's, as Maven filtered them into
     * {@code version.properties} when it built the classes.
     */
    static final class Version implements CommandLine.IVersionProvider {

        @Override
        public String[] getVersion() throws IOException {
            Properties versions = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    return new String[] {"arelu-examples, version unknown: built without Maven's resources"};
                }
                versions.load(in);
            }
            return new String[] {"arelu-examples " + versions.getProperty("examples") + " (arelu "
                    + versions.getProperty("arelu") + ")"};
        }
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing command: one of "
                + String.join(", ", spec.subcommands().keySet()));
    }

    public static void main(String[] args) {
        // Before any bytedeco class: safe on machines with a system libtorch and an empty JavaCPP cache.
        LibTorch.load();
        System.exit(commandLine(new Main()).execute(args));
    }

    /**
     * The command line as main runs it, for the root command or one experiment alone: enum values match
     * case-insensitively (convmnist, sgd, adam); an {@link Experiment}'s options are checked and its
     * {@link ProcessSettings} applied before it runs; a training loss or network output that is no longer
     * finite ends the run with its message and exit code 1.
     */
    public static CommandLine commandLine(Object command) {
        System.setProperty("java.awt.headless", "true");
        return new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionStrategy(Main::configureAndRun)
                .setExecutionExceptionHandler((e, commandLine, parseResult) -> {
                    if (e instanceof NonFiniteResultException) {
                        commandLine.getErr().println(commandLine.getCommandName() + ": " + e.getMessage());
                        return 1;
                    }
                    throw e;
                });
    }

    private static int configureAndRun(ParseResult parsed) {
        Integer helpExitCode = CommandLine.executeHelpRequest(parsed);
        if (helpExitCode != null) {
            return helpExitCode;
        }
        List<CommandLine> chosen = parsed.asCommandLineList();
        if (chosen.getLast().getCommand() instanceof Experiment experiment) {
            experiment.validate();
            experiment.processSettings().apply();
        }
        return new CommandLine.RunLast().execute(parsed);
    }
}
