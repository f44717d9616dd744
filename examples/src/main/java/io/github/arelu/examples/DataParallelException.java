package io.github.arelu.examples;

/**
 * Data-parallel training cannot start or cannot go on: the rendezvous failed (master unreachable, port in
 * use, a rank missing or started with other settings) or a collective with the other processes failed (a
 * worker died or stopped answering). The message says which, in words meant for the user.
 */
public final class DataParallelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public DataParallelException(String message) {
        super(message);
    }

    public DataParallelException(String message, Throwable cause) {
        super(message, cause);
    }
}
