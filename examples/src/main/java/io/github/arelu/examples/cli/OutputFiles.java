package io.github.arelu.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import picocli.CommandLine.Model.CommandSpec;

/**
 * The files and directories a command writes its results to, each named by its option. They are checked
 * before any training, so that a path that cannot be written stops the command at once rather than after
 * hours of training; a write that fails all the same ends in a message naming the option and the path,
 * not in a stack trace.
 */
final class OutputFiles {

    /** An output that cannot be written: {@code cannot write --json-out x.json: directory /a does not exist}. */
    static final class Unwritable extends Exception {

        Unwritable(String option, Path path, String reason) {
            super("cannot write " + option + " " + path + ": " + reason);
        }
    }

    /** Writes one output; its I/O errors become {@link Unwritable}. */
    interface Writing {
        void write() throws IOException;
    }

    private OutputFiles() {
    }

    /** Checks that {@code option}'s {@code file} can be created or replaced: a writable file in a writable directory. */
    static void checkFile(String option, Path file) throws Unwritable {
        if (Files.isDirectory(file)) {
            throw new Unwritable(option, file, "it is a directory");
        }
        if (Files.exists(file) && !Files.isWritable(file)) {
            throw new Unwritable(option, file, "it is not writable");
        }
        // Absolute: a bare file name's parent is the working directory, which Path calls null.
        Path directory = file.toAbsolutePath().getParent();
        if (!Files.exists(directory)) {
            throw new Unwritable(option, file, "directory " + directory + " does not exist");
        }
        requireWritableDirectory(option, file, directory);
    }

    /**
     * Checks that {@code option}'s {@code directory} is a writable directory, or can be made: its nearest
     * existing ancestor is one.
     */
    static void checkDirectory(String option, Path directory) throws Unwritable {
        Path existing = directory.toAbsolutePath();
        while (!Files.exists(existing)) {
            existing = existing.getParent();
        }
        requireWritableDirectory(option, directory, existing);
    }

    private static void requireWritableDirectory(String option, Path output, Path directory) throws Unwritable {
        boolean itself = directory.equals(output.toAbsolutePath());
        if (!Files.isDirectory(directory)) {
            throw new Unwritable(option, output, itself ? "it is not a directory" : directory + " is not a directory");
        }
        if (!Files.isWritable(directory)) {
            throw new Unwritable(option, output, (itself ? "it" : "directory " + directory) + " is not writable");
        }
    }

    /** Runs {@code writing}, the output of {@code option} at {@code path}. */
    static void write(String option, Path path, Writing writing) throws Unwritable {
        try {
            writing.write();
        } catch (IOException e) {
            throw new Unwritable(option, path, reason(e));
        }
    }

    /** Prints the command's name and {@code e}'s message on its error stream; returns the exit code, 1. */
    static int report(CommandSpec command, Unwritable e) {
        PrintWriter err = command.commandLine().getErr();
        err.println(command.name() + ": " + e.getMessage());
        err.flush();
        return 1;
    }

    /** An I/O error in words: the JDK's file-system exceptions often carry no more than the path. */
    static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException missing -> "no such file or directory: " + missing.getFile();
            case AccessDeniedException denied -> "permission denied: " + denied.getFile();
            case FileSystemException other when other.getReason() == null ->
                    other.getClass().getSimpleName() + ": " + other.getFile();
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }
}
