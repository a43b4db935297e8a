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

    /** Reserves budget (reclaiming if needed) and allocates zeroed memory; returns its address. */
    static native long allocate(int capacity);

    /** A direct buffer over the block, with {@code owner} in its {@code att} field. */
    static native ByteBuffer wrap(long address, int capacity, Object owner);

    static native void free(long address, int capacity, boolean byCleaner);

    /** A direct buffer's {@code att} field, or null if it has none or is not a DirectByteBuffer. */
    static native Object attachment(ByteBuffer buffer);

    /** Resets address, capacity, limit, position and mark so that every access fails. */
    static native void disarm(ByteBuffer buffer);

    static native void fill(ByteBuffer buffer, int offset, int length, byte value);

    static native long[] stats();

    /** Test hook: this thread's next native allocation fails as if the OS refused it. */
    static native void failNextAllocation();

    /** Test hook: a deliberate Rust panic, which must arrive as an exception. */
    static native void panicForTesting();
}
