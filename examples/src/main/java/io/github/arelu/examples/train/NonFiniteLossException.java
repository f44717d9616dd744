package io.github.arelu.examples.train;

/**
 * A training loss came out NaN or infinite. Training stops at once: such a loss never recovers (the next
 * optimizer step spreads NaN into every weight), so every figure after it would be meaningless. The message
 * says where it happened, in words meant for the user.
 */
public final class NonFiniteLossException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public NonFiniteLossException(String message) {
        super(message);
    }
}
