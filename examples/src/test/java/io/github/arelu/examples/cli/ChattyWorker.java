package io.github.arelu.examples.cli;

import java.util.Arrays;
import java.util.List;

/**
 * A stand-in for a worker of {@link LocalWorkers}, for {@link DataParallelTest}: rank 0 prints
 * {@link #RANK_0_LINE}, every other rank a megabyte, far more than a pipe holds; then each exits with 0.
 */
public final class ChattyWorker {

    static final String RANK_0_LINE = "rank 0 reporting";

    private ChattyWorker() {
    }

    public static void main(String[] args) {
        List<String> arguments = Arrays.asList(args);
        int rank = Integer.parseInt(arguments.get(arguments.indexOf("--rank") + 1));
        if (rank == 0) {
            System.out.println(RANK_0_LINE);
        } else {
            String line = "x".repeat(1023);
            for (int i = 0; i < 1024; i++) {
                System.out.println(line);
            }
        }
        System.out.flush();
        System.exit(0);
    }
}
