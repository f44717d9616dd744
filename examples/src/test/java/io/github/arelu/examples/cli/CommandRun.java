package io.github.arelu.examples.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

import picocli.CommandLine;

/** One execution of a command as its main runs it, with what it printed captured. */
public record CommandRun(int exitCode, String out, String err) {

    public static CommandRun of(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine commandLine = Main.commandLine(command);
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        return new CommandRun(commandLine.execute(args), out.toString(), err.toString());
    }
}
