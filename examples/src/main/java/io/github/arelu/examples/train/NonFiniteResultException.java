package io.github.arelu.examples.train;

/**
 * A training loss or a network's output came out NaN or infinite. Training stops at once: such a loss never
 * recovers (the next optimizer step spreads NaN into every weight), and an accuracy counted from NaN outputs is
 * a number without meaning (every NaN row's argmax is a class all the same), so every figure after it would be
 * meaningless. The message says where it happened, in words meant for the user.
 */
public final class NonFiniteResultException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public NonFiniteResultException(String message) {
        super(message);
    }

    private NonFiniteResultException(String message, Throwable cause) {
        super(message, cause);
    }

    /** This exception's message after {@code where} ("ReLU run 1/3, epoch 2"), its spaces collapsed. */
    public NonFiniteResultException in(String where) {
        return new NonFiniteResultException(where.strip().replaceAll(" +", " ") + ": " + getMessage(), this);
    }
}
