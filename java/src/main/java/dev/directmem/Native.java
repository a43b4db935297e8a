package dev.directmem;

import java.nio.ByteBuffer;

/** The native methods, bound to rust/src/jvm/exports.rs, and the one-time setup behind them. */
final class Native {
    /** Why directmem cannot be used in this JVM, or null when it can. */
    private static final Throwable UNAVAILABLE;

    static {
        Throwable failure = null;
        try {
            NativeLibrary.load();
            init(Budget.maxMemory(), Runtime.getRuntime().maxMemory());
        } catch (RuntimeException | LinkageError e) {
            failure = e;
        }
        UNAVAILABLE = failure;
    }

    private Native() {}

    /** Throws, with the original cause, if the library or its configuration failed to load. */
    static void checkAvailable() {
        Throwable failure = UNAVAILABLE;
        if (failure == null) {
            return;
        }
        String message = "directmem is unavailable: " + failure.getMessage();
        if (failure instanceof IllegalArgumentException) {
            throw new IllegalArgumentException(message, failure);
        }
        if (failure instanceof LinkageError) {
            LinkageError error = new UnsatisfiedLinkError(message);
            error.initCause(failure);
            throw error;
        }
        throw new IllegalStateException(message, failure);
    }

    private static native void init(long maxMemory, long maxHeap);

    /** An empty direct buffer with no owner: the template {@link Allocation} duplicates. */
    static native ByteBuffer emptyBuffer();

    /**
     * Reserves budget (reclaiming if needed), allocates zeroed memory and points {@code buffer}, a
     * fresh duplicate of the template, at it: address, capacity, and {@code owner} in its {@code
     * att} field (the caller sets the limit). Returns the address.
     */
    static native long allocate(ByteBuffer buffer, int capacity, Object owner);

    /** Resets the buffer's address and capacity (the caller has set its limit to 0), then frees its memory. */
    static native void disarmAndFree(ByteBuffer buffer, long address, int capacity);

    /** Frees {@code count} blocks whose owners became unreachable. */
    static native void freeBatch(long[] addresses, int[] capacities, int count);

    /** A DirectByteBuffer's {@code att} field (the caller checks the class), or null. */
    static native Object attachment(ByteBuffer buffer);

    static native void fill(ByteBuffer buffer, int offset, int length, byte value);

    static native long[] stats();

    /** Test hook: this thread's next native allocation fails as if the OS refused it. */
    static native void failNextAllocation();

    /** Test hook: a deliberate Rust panic, which must arrive as an exception. */
    static native void panicForTesting();
}
