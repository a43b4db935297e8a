package dev.directmem;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;

/** The native methods, bound to rust/src/jvm/exports.rs, and the one-time setup behind them. */
final class Native {
    /** Why directmem cannot be used in this JVM, or null when it can. */
    private static final Throwable UNAVAILABLE;

    /** An env_logger filter for the native library's log, for those who cannot set RUST_LOG. */
    static final String LOG_PROPERTY = "directmem.log";
    private static final System.Logger LOG = System.getLogger("dev.directmem");
    /** Whether small buffers share blocks: see {@link SharedBlock}. */
    static final boolean PACK_SMALL_BUFFERS;
    /** Whether buffer fields are set through JNI even where Java could: see {@link BufferAccess}. */
    static final boolean JNI_BUFFER_ACCESS;
    /** The budget in bytes (0 when unavailable). */
    static final long BUDGET;

    static {
        Throwable failure = null;
        boolean pack = false;
        boolean jniAccess = true;
        long budget = 0;
        try {
            pack = Budget.packSmallBuffers();
            jniAccess = Budget.jniBufferAccess();
            Budget.jmx(); // checked here with the others; Monitoring reads it when it registers
            NativeLibrary.load();
            initObservability(System.getProperty(LOG_PROPERTY));
            budget = Budget.maxMemory();
            init(budget, Runtime.getRuntime().maxMemory(), Budget.reuseMemory(), Budget.hugePages(),
                    Budget.collectorCaveat());
            LOG.log(System.Logger.Level.DEBUG, "directmem budget: {0} bytes", budget);
        } catch (RuntimeException | LinkageError e) {
            failure = e;
        }
        UNAVAILABLE = failure;
        PACK_SMALL_BUFFERS = pack;
        JNI_BUFFER_ACCESS = jniAccess;
        BUDGET = budget;
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

    /**
     * {@code reuseMemory}: the most freed memory kept for reuse, or -1 for the default;
     * {@code hugePages}: whether large mappings ask for transparent huge pages;
     * {@code collectorCaveat}: what the budget's error adds after collections, or empty.
     */
    private static native void init(
            long maxMemory, long maxHeap, long reuseMemory, boolean hugePages, String collectorCaveat);

    /** An empty direct buffer with no owner: the template {@link Allocation} duplicates. */
    static native ByteBuffer emptyBuffer();

    /**
     * Reserves budget, allocates zeroed memory starting at a multiple of {@code alignment} (1:
     * any) and points {@code buffer}, a fresh duplicate of the template, at it: address,
     * capacity, and {@code owner} in its {@code att} field (the caller sets the limit). Returns
     * the address. When the budget is full: with {@code reclaim}, reclaims first; without,
     * returns 0 and changes nothing.
     *
     * <p>A reclaiming call with {@code waiting} null waits for memory in the native call. With a
     * {@code waiting} array ({@link #WAITING_LONGS} zeros for a new allocation) it never waits
     * there: it returns 0 when the caller should park for {@code waiting[PARK_NANOS]}
     * nanoseconds, then call again with the same array (where the wait stands).
     */
    static native long allocate(
            ByteBuffer buffer, int capacity, int alignment, Object owner, boolean reclaim, long[] waiting);

    /** As {@link #allocate}, for a caller that sets the buffer's fields itself. */
    static native long allocateMemory(int capacity, int alignment, boolean reclaim, long[] waiting);

    /** The length of an {@link #allocate} {@code waiting} array (STEP_LONGS in jvm/exports.rs). */
    static final int WAITING_LONGS = 16;
    /** Where {@link #allocate} puts how long to park (Waiting::PARK_NANOS in reclaim.rs). */
    static final int PARK_NANOS = 0;

    /** Frees memory from {@link #allocateMemory}, for a caller that disarmed the buffer itself. */
    static native void freeMemory(long address, int capacity, int alignment);

    /**
     * Resets the buffer's address and capacity (the caller has set its limit to 0), then frees
     * its memory, allocated with that capacity and alignment.
     */
    static native void disarmAndFree(ByteBuffer buffer, long address, int capacity, int alignment);

    /** Resets a buffer's address and capacity (the caller has set its limit to 0); att becomes {@code owner}. */
    static native void disarm(ByteBuffer buffer, Object owner);

    /** Frees {@code count} blocks whose owners became unreachable; {@code moreQueued}: more wait. */
    static native void freeBatch(
            long[] addresses, int[] capacities, int[] alignments, int count, boolean moreQueued);

    /** A DirectByteBuffer's {@code att} field (the caller checks the class), or null. */
    static native Object attachment(ByteBuffer buffer);

    /**
     * Makes {@code field} accessible, as {@code setAccessible(true)} would if its package were
     * open to directmem (JNI ignores access control): for {@link BufferAccess} only.
     */
    static native void makeAccessible(Field field);

    static native void fill(ByteBuffer buffer, int offset, int length, byte value);

    static native long[] stats();

    /** Test hook: this thread's next native allocation fails as if the OS refused it. */
    static native void failNextAllocation();

    /**
     * Test hook: this thread's next {@link #freeMemory} or {@link #disarmAndFree} throws
     * StackOverflowError before doing anything, as any call at the bottom of a deep stack may.
     */
    static native void failNextFree();

    /** Test hook: a deliberate Rust panic, which must arrive as an exception. */
    static native void panicForTesting();
}
