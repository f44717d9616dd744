package io.github.arelu.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Both commands reject bad arguments with picocli's usage message and exit code 2, before any training. */
class CommandLineTest {

    @TempDir
    Path emptyDirectory;

    private record Outcome(int exitCode, String err) {
    }

    private static Outcome run(Object command, String... args) {
        StringWriter err = new StringWriter();
        CommandLine commandLine = CompareCommand.commandLine(command);
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setOut(new PrintWriter(new StringWriter(), true));
        return new Outcome(commandLine.execute(args), err.toString());
    }

    @Test
    void unknownActivationGetsUsageAndTheKnownNames() {
        Outcome outcome = run(new CompareCommand(ProgressBar.silent()), "--activations", "AReLU,Swoosh");
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("unknown activation 'Swoosh'"), outcome.err());
        assertTrue(outcome.err().contains("known: AReLU, ReLU"), outcome.err());
        assertTrue(outcome.err().contains("Usage: compare"), outcome.err());
    }

    @Test
    void badNumbersGetUsage() {
        String[][] badArguments = {
            {"--lr", "fast"}, {"--lr", "-0.1"}, {"--lr", "0"}, {"--epochs", "0"}, {"--epochs", "two"},
            {"--runs", "0"}, {"--batch-size", "0"}, {"--train-limit", "-5"}, {"--seed", "1.5"}};
        for (String[] arguments : badArguments) {
            Outcome outcome = run(new CompareCommand(ProgressBar.silent()), arguments);
            assertEquals(2, outcome.exitCode(), String.join(" ", arguments));
            assertTrue(outcome.err().contains("Invalid value for option '" + arguments[0] + "'"), outcome.err());
            assertTrue(outcome.err().contains("Usage: compare"), outcome.err());
        }
    }

    @Test
    void unknownNetworkAndOptimizerGetUsage() {
        assertEquals(2, run(new CompareCommand(ProgressBar.silent()), "--net", "ResNet").exitCode());
        assertEquals(2, run(new CompareCommand(ProgressBar.silent()), "--optimizer", "RMSprop").exitCode());
    }

    @Test
    void transferChecksItsOptionsToo() {
        Outcome outcome = run(new TransferCommand(ProgressBar.silent()), "--finetune-lr", "-1");
        assertEquals(2, outcome.exitCode());
        assertTrue(outcome.err().contains("Usage: transfer"), outcome.err());
        assertEquals(2, run(new TransferCommand(ProgressBar.silent()), "--activations", "all,ReLU").exitCode());
    }

    @Test
    void missingDataSetExitsWithOneAndNamesThePackage() {
        Outcome outcome = run(new CompareCommand(ProgressBar.silent()), "--data", emptyDirectory.toString());
        assertEquals(1, outcome.exitCode());
        assertTrue(outcome.err().contains("train-images-idx3-ubyte[.gz]"), outcome.err());
        assertTrue(outcome.err().contains("dataset-fashion-mnist"), outcome.err());
    }

    @Test
    void activationListsAcceptAllAliasesAndAnyCase() {
        assertEquals(ActivationSpec.ALL.size(), ActivationSpec.parseList("all").size());
        assertEquals("SiLU", ActivationSpec.parseList("swish").getFirst().name());
        assertEquals("PReLU", ActivationSpec.parseList("arelu, prelu").get(1).name());
    }
}
