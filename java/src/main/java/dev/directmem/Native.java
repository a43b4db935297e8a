package dev.directmem;

import java.nio.ByteBuffer;

/** The native methods, bound to rust/src/jvm/exports.rs, and the one-time setup behind them. */
final class Native {
    /** Why directmem cannot be used in this JVM, or null when it can. */
    private static final Throwable UNAVAILABLE;

    /** An env_logger filter for the native library's log, for those who cannot set RUST_LOG. */
    static final String LOG_PROPERTY = "directmem.log";
    private static final System.Logger LOG = System.getLogger("dev.directmem");

    static {
        Throwable failure = null;
        try {
            NativeLibrary.load();
            initObservability(System.getProperty(LOG_PROPERTY));
            long budget = Budget.maxMemory();
            init(budget, Runtime.getRuntime().maxMemory());
            LOG.log(System.Logger.Level.DEBUG, "directmem budget: {0} bytes", budget);
        } catch (RuntimeException | LinkageError e) {
            failure = e;
        }
        UNAVAILABLE = failure;
        if (failure == null) {
            Monitoring.register();
        }
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

    /** Starts native logging ({@code filter}: null for RUST_LOG) and the JFR upcall. */
    private static native void initObservability(String filter);

    private static native void init(long maxMemory, long maxHeap);

    /** Reserves budget (reclaiming if needed) and allocates zeroed memory; returns its address. */
    static native long allocate(int capacity);

    /** A direct buffer over the block, with {@code owner} in its {@code att} field. */
    static native ByteBuffer wrap(long address, int capacity, Object owner);

    static native void free(long address, int capacity, boolean byCleaner);

    /** As {@link #allocate}, starting at a multiple of {@code alignment}. */
    static native long allocateAligned(int capacity, int alignment);

    /** Frees a block from {@link #allocateAligned} with the same capacity and alignment. */
    static native void freeAligned(long address, int capacity, int alignment, boolean byCleaner);

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
