package dev.directmem;

/**
 * Thrown when a buffer does not fit in directmem's budget even after reclamation: the collected
 * buffers' memory was waited for and the budget is still full. A refusal by the operating system
 * throws a plain {@link OutOfMemoryError} instead.
 *
 * <p>The message gives the bytes the buffer needs from the budget, the memory used, the maximum
 * and the collections tried, and then, with {@code -Ddirectmem.tracking=sampled} or {@code all},
 * the top allocation sites by live bytes. Nothing was reserved for the buffer.
 */
public final class BudgetExhaustedError extends OutOfMemoryError {
    private static final long serialVersionUID = 1L;

    /** Built by the native library (JNI {@code ThrowNew}), and again with tracking's sites appended. */
    BudgetExhaustedError(String message) {
        super(message);
    }
}
