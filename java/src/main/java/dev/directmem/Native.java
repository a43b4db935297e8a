package dev.directmem;

import java.lang.invoke.MethodHandles;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.List;

/** The native methods, bound to rust/src/jvm/exports.rs, and the one-time setup behind them. */
final class Native {
    /** An env_logger filter for the native library's log, for those who cannot set RUST_LOG. */
    static final String LOG_PROPERTY = "directmem.log";

    /**
     * What the one-time setup found: the configuration, and why directmem cannot be used in this
     * JVM ({@code unavailable}, null when it can). {@code packSmallBuffers}: whether small buffers
     * share blocks (see {@link SharedBlock}); {@code jniBufferAccess}: whether buffer fields are set
     * through JNI even where Java could (see {@link BufferAccess}); {@code budget} in bytes, 0 when
     * unavailable.
     */
    record Setup(Throwable unavailable, boolean packSmallBuffers, boolean jniBufferAccess, long budget) {}

    /** The setup's outcome, once it has one. */
    private static volatile Setup setup;
    /**
     * The outcome a setup under way has reached, for the class initializers it runs (on its
     * thread; {@link #setupInClassInitializer}); null otherwise.
     */
    private static Setup settingUp;
    /** Whether the MBean's first registration was tried: then the reporter thread may poll. */
    private static volatile boolean registrationTried;

    /** Test hook: what the next setup throws before doing anything, as a passing failure would. */
    private static volatile Error failNextSetup;
    /** Test hook: what the reclaimer thread runs first, once (set before the first use only). */
    private static volatile Runnable reclaimerStart;

    private Native() {}

    /** Throws, with the original cause, if the library or its configuration failed to load. */
    static void checkAvailable() {
        Throwable failure = setup().unavailable();
        if (failure == null) {
            return;
        }
        String message = "directmem is unavailable: " + failure.getMessage();
        if (failure instanceof IllegalArgumentException) {
            throw new IllegalArgumentException(message, failure);
        }
        if (failure instanceof NoClassDefFoundError && String.valueOf(failure.getMessage()).startsWith("Could not initialize")) {
            // An initializer that failed during the setup (the Java heap full at that moment):
            // the JVM never runs it again.
            throw new IllegalStateException(message + " (a class initializer failed at directmem's first use,"
                    + " and the JVM does not run it again)", failure);
        }
        if (failure instanceof LinkageError) {
            LinkageError error = new UnsatisfiedLinkError(message);
            error.initCause(failure);
            throw error;
        }
        if (failure instanceof IllegalCallerException) {
            message += " (run with --enable-native-access=dev.directmem on the module path, or"
                    + " --enable-native-access=ALL-UNNAMED on the class path)";
        }
        throw new IllegalStateException(message, failure);
    }

    /** The setup's outcome; the first call runs the setup. */
    static Setup setup() {
        Setup done = setup;
        return done != null ? done : runSetup(true);
    }

    /**
     * Runs the one-time setup on the caller's thread, then registers the MBean there.
     *
     * <p>Not in a class initializer, which the JVM never runs again once it failed: a failure
     * that passes (the Java heap full; the JDK's direct memory full while the library was being
     * extracted, which needed a buffer of it then; a stack overflow) disabled directmem for the
     * life of the JVM. Here such a failure, a VirtualMachineError, reaches the caller, nothing is
     * kept, and the next call tries again. A failure that will not pass (an invalid property, a
     * library that does not load) is kept, and every call reports it. So is a class initializer
     * the setup runs that failed, which the JVM does not run again either.
     *
     * <p>On the caller's thread, as a class initializer would run it: logging backends and JMX
     * listeners it calls run there, where the locks the caller holds are its own. Only the thread
     * that ran the setup registers the MBean (JMX listeners run on the registering thread), after
     * the setup's lock is released; a thread that waited for the setup does not, so that a
     * listener waiting for a lock that thread holds (a class it initializes) cannot hang both.
     */
    private static Setup runSetup(boolean fromPublicApi) {
        Setup outcome;
        synchronized (Native.class) {
            outcome = setup;
            if (outcome != null) {
                return outcome;
            }
            setUp(fromPublicApi);
            outcome = setup;
        }
        if (outcome.unavailable() == null) {
            try {
                if (fromPublicApi) {
                    Monitoring.register();
                }
            } catch (Throwable t) {
                // A listener's error or a full Java heap: the setup succeeded, and the reporter
                // thread tries to register again.
            } finally {
                // Only now, whatever the attempt did: a reporter thread that polled before it
                // could register first, and run the listeners on its own thread.
                registrationTried = true;
            }
        }
        return outcome;
    }

    /**
     * As {@link #setup()}, for the class initializers that read the outcome: those the setup
     * runs get the outcome it has reached; any other (a class of this package used before the
     * public API, as tests do) runs the setup first, without running other initializers (the
     * one under way on this thread would be seen half done) and without registering the MBean
     * (the reporter thread does).
     */
    static Setup setupInClassInitializer() {
        synchronized (Native.class) { // the setup's own thread holds it already
            Setup reached = setup != null ? setup : settingUp;
            if (reached != null) {
                return reached;
            }
        }
        return runSetup(false);
    }

    /** Whether the reporter thread may look for an MBean server: after the first attempt. */
    static boolean registrationTried() {
        return registrationTried;
    }

    /**
     * The setup itself, holding Native's lock; publishes its outcome unless it throws a
     * VirtualMachineError. {@code initializeClasses}: also run the initializers of the classes
     * that allocate and free.
     */
    private static void setUp(boolean initializeClasses) {
        Error planted = failNextSetup;
        if (planted != null) {
            failNextSetup = null;
            throw planted;
        }
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
                    Budget.trimMalloc(), Budget.collectorCaveat());
            if (initializeClasses) {
                settingUp = new Setup(null, pack, jniAccess, budget);
                initializeClasses();
            }
        } catch (RuntimeException | LinkageError e) {
            failure = e; // a class whose initializer failed before is a NoClassDefFoundError here
        } finally {
            settingUp = null;
        }
        if (failure == null) {
            System.getLogger("dev.directmem").log(System.Logger.Level.DEBUG, "directmem budget: {0} bytes", budget);
        }
        setup = new Setup(failure, pack, jniAccess, budget);
    }

    /**
     * Runs the initializers of the classes that allocate and free now, inside the setup: one
     * that fails (a full Java heap) fails the setup, which then reports it, rather than a later
     * call with a bare NoClassDefFoundError.
     */
    private static void initializeClasses() {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        for (Class<?> type : List.of(Allocation.class, Allocation.Release.class, Allocation.Registry.class,
                SharedBlock.class, BufferAccess.class, VirtualThreads.class, Tracking.class, Events.class,
                DirectMemoryStats.class)) {
            try {
                lookup.ensureInitialized(type);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e); // a class of this package: never
            }
        }
    }

    /** Starts native logging ({@code filter}: null for RUST_LOG) and the JFR upcall. */
    private static native void initObservability(String filter);

    /**
     * {@code reuseMemory}: the most freed memory kept for reuse, or -1 for the default;
     * {@code hugePages}: whether large mappings ask for transparent huge pages;
     * {@code trimMalloc}: whether malloc gives its free memory back to the OS once the program is quiet;
     * {@code collectorCaveat}: what the budget's error adds after collections, or empty.
     */
    private static native void init(
            long maxMemory, long maxHeap, long reuseMemory, boolean hugePages, boolean trimMalloc,
            String collectorCaveat);

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
    static final int WAITING_LONGS = 21;
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

    /**
     * Frees {@code count} blocks whose owners became unreachable, each with its stamp (see
     * {@link #collectionsBegun}); {@code moreQueued}: more wait.
     */
    static native void freeBatch(
            long[] addresses, int[] capacities, int[] alignments, int[] stamps, int count,
            boolean moreQueued);

    /**
     * A buffer over the number of the last collection begun (8 bytes, native order), which the
     * caller only reads: each allocation is stamped with it.
     */
    static native ByteBuffer collectionsBegun();

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
     * Test hook: this thread's next {@link #freeMemory} or {@link #disarmAndFree} throws before
     * doing anything, by {@code error}: {@link #FREE_FAILS_WITH_STACK_OVERFLOW} (as any call at the
     * bottom of a deep stack may), {@link #FREE_FAILS_WITH_OUT_OF_MEMORY} (as linking a native
     * method with the heap full may) or {@link #FREE_FAILS_WITH_ILLEGAL_STATE} (as the native
     * ledger's refusal would).
     */
    static native void failNextFree(int error);

    static final int FREE_FAILS_WITH_STACK_OVERFLOW = 0;
    static final int FREE_FAILS_WITH_OUT_OF_MEMORY = 1;
    static final int FREE_FAILS_WITH_ILLEGAL_STATE = 2;

    /** Test hook: the next setup throws {@code error} first (before the first use only). */
    static void failNextSetupForTesting(Error error) {
        failNextSetup = error;
    }

    /** Test hook: the reclaimer thread runs {@code hook} when it starts (before the first use only). */
    static void onReclaimerStartForTesting(Runnable hook) {
        reclaimerStart = hook;
    }

    /** Runs the hook {@link #onReclaimerStartForTesting} set, if any; the reclaimer thread's first call. */
    static void reclaimerStarting() {
        Runnable hook = reclaimerStart;
        if (hook != null) {
            reclaimerStart = null;
            hook.run();
        }
    }

    /** Test hook: a deliberate Rust panic, which must arrive as an exception. */
    static native void panicForTesting();
}
