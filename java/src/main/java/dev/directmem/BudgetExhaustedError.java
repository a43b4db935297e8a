package dev.directmem;

/**
 * Thrown when a buffer does not fit in directmem's budget: most often after reclamation (the
 * collected buffers' memory was waited for and the budget is still full), at once when the
 * buffer is larger than the whole budget or the JVM could not be made to collect garbage. A
 * refusal by the operating system throws a plain {@link OutOfMemoryError} instead.
 *
 * <p>The message gives the capacity asked for, the memory used and the maximum, and the bytes
 * the budget must take where alignment or rounding makes them more than the capacity (as
 * {@link DirectMemoryStats#memoryUsed()} counts them); then why: the collections tried, 30 s
 * spent losing freed memory to other threads, more than the whole budget, or the collector's
 * failure; and last, with {@code -Ddirectmem.tracking=sampled} or {@code all}, the top
 * allocation sites by live bytes (without tracking, how to turn it on). Nothing was reserved for
 * the buffer.
 */
public final class BudgetExhaustedError extends OutOfMemoryError {
    private static final long serialVersionUID = 1L;

    /** Built by the native library (JNI {@code ThrowNew}), and again with tracking's sites appended. */
    BudgetExhaustedError(String message) {
        super(message);
    }
}
