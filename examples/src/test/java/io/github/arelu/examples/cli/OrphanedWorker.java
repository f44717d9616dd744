package io.github.arelu.examples.cli;

/**
 * A stand-in for a worker of {@link LocalWorkers} whose starter is gone, for {@link DataParallelTest}: marks that it
 * waits for the group (when its directory is one a starter made), then watches the starter, which ends this process.
 */
public final class OrphanedWorker {

    private OrphanedWorker() {
    }

    public static void main(String[] args) throws InterruptedException {
        LocalWorkers.Mark waiting = LocalWorkers.markWaitingForGroup(0);
        LocalWorkers.exitWithStarter(0);
        Thread.sleep(60_000);
        waiting.close();
    }
}
