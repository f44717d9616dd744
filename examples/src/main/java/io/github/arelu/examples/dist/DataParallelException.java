package io.github.arelu.examples.dist;

/**
 * Data-parallel training cannot start or cannot go on: the rendezvous failed (master unreachable, port in
 * use, a rank missing or started with other settings) or a collective with the other processes failed (a
 * worker died or stopped answering). The message says which, in words meant for the user; the
 * {@link #reason()} lets the program that started the group say which of its settings to change.
 */
public final class DataParallelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What went wrong, by the setting it concerns. */
    public enum Reason {
        /** The master's port is taken by another program. */
        MASTER_PORT_IN_USE,
        /** The master's host cannot be resolved, reached or served on. */
        MASTER_UNAVAILABLE,
        /** Two processes claimed the same rank. */
        RANK_TAKEN,
        /** The processes disagree on the world size. */
        WORLD_SIZE_MISMATCH,
        /** The processes disagree on what they train (options, data), which would mix different models. */
        SETUP_MISMATCH,
        /** Some ranks never arrived at the rendezvous. */
        RANKS_MISSING,
        /** gloo cannot use the network interface asked for, or this machine's address. */
        NETWORK_INTERFACE,
        /** Another process stopped, or did not answer within the timeout. */
        TIMED_OUT
    }

    private final Reason reason;

    public DataParallelException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public DataParallelException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
