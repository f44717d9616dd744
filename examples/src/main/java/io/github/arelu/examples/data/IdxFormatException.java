package io.github.arelu.examples.data;

import java.io.IOException;

/** An IDX file (the MNIST file format) that is truncated, corrupt or not what its name promises. */
public class IdxFormatException extends IOException {

    public IdxFormatException(String message) {
        super(message);
    }

    public IdxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
