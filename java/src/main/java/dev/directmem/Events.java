package dev.directmem;

import java.util.concurrent.atomic.AtomicInteger;
import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Timespan;

/**
 * JFR events: one per reclamation (reported by the native library through {@link #reclaimed})
 * and one per failed allocation. Each is built only when a recording enables it.
 */
final class Events {
    // At most 16 characters each: on JDK 17 a longer string (up to 127) goes to JFR's string pool,
    // and one the pool holds from an earlier chunk, written again by a thread whose events began
    // after a chunk rotation, can read null (measured: 5 of 8 events lost "refused allocation" and
    // "early, in the background"; EventsTest).
    private static final String[] COLLECTIONS = {"forced", "heap pressure", "unconfirmed"};
    private static final String[] TRIGGERS = {"refused", "early"};
    // The strings JDK 17 pools: longer than 16 characters and shorter than 128 (measured at both
    // ends: 16 and 128 kept, 17 and 127 lost). JDK 21 and 25 keep pooled strings.
    private static final int LONGEST_IN_PLACE = 16;
    private static final int SHORTEST_IN_PLACE_ABOVE_POOL = 128;
    private static final boolean JFR_KEEPS_POOLED_STRINGS = Runtime.version().feature() >= 21;
    /**
     * Whether this runtime has JFR at all: a slim one (jlink, {@code --limit-modules}) may leave
     * {@code jdk.jfr} out, and on the class path nothing else notices before the first event.
     */
    private static final boolean JFR_PRESENT = ModuleLayer.boot().findModule("jdk.jfr").isPresent();

    /** Test hook: how many more Reclamation events a recording wants throw instead of committing. */
    private static final AtomicInteger FAILING_FOR_TESTING = new AtomicInteger();

    private Events() {}

    /** Test hook: the next {@code events} Reclamation events that a recording wants throw. */
    static void failReclamationEventsForTesting(int events) {
        FAILING_FOR_TESTING.set(events);
    }

    /** Test hook: how many of the planted failures are still to come. */
    static int reclamationEventFailuresLeft() {
        return FAILING_FOR_TESTING.get();
    }

    // Without a flight recorder in this JVM no recording can want an event, and loading an event
    // class would start JFR's metadata for every event type: about a megabyte of objects that each
    // full collection then walks (measured, 1 MiB buffers through a 64 MiB budget). A recorder
    // started later (-XX:StartFlightRecording, jcmd JFR.start, the Recording API) gets the events.

    /**
     * Called from native code after each collection directmem drove and the wait for its frees.
     * Order and types shared with rust/src/jvm/events.rs.
     */
    static void reclaimed(long collectionNanos, long durationNanos, long bytesFreed, int collection,
            int trigger, long requestedBytes) {
        if (!JFR_PRESENT || !FlightRecorder.isInitialized()) {
            return; // no recorder, no recording (see above)
        }
        ReclamationEvent event = new ReclamationEvent();
        if (event.shouldCommit()) {
            if (takePlantedFailure()) {
                throw new IllegalStateException("planted: a failing Reclamation event");
            }
            event.collectionTime = collectionNanos;
            event.reclamationTime = durationNanos;
            event.bytesFreed = bytesFreed;
            event.collection = collection >= 0 && collection < COLLECTIONS.length
                    ? COLLECTIONS[collection] : "unknown";
            event.trigger = trigger >= 0 && trigger < TRIGGERS.length ? TRIGGERS[trigger] : "unknown";
            event.requestedBytes = requestedBytes;
            event.commit();
        }
    }

    /**
     * Test hook: whether this event is to throw, counting it off. A plain compare-and-set loop,
     * no lambda, as nothing on the upcall's path may be: {@link #reclaimed} runs inside a native
     * call, and on JDK 17 with ZGC, once a thread had linked a lambda's call site there (the
     * first event a recording wanted), forced collections stopped reclaiming the buffers that
     * thread allocated after, for as long as the recording ran (helper-87: the churn threw
     * BudgetExhaustedError at about one budget; RecordingChurnTest).
     */
    private static boolean takePlantedFailure() {
        while (true) {
            int left = FAILING_FOR_TESTING.get();
            if (left <= 0) {
                return false;
            }
            if (FAILING_FOR_TESTING.compareAndSet(left, left - 1)) {
                return true;
            }
        }
    }

    /**
     * Whether this JVM is one where a recording has been seen to stop reclamation (ZGC below JDK
     * 21), once {@link #learnCollector} found out: on the reporter thread, never on a refusal's
     * path (asking the collector beans links the JDK's own lambdas, which on such a JVM while a
     * recording runs is what stops reclamation).
     */
    private static volatile boolean zgcBelowJdk21;

    /** Finds out {@link #zgcBelowJdk21} once; the reporter thread calls it at each turn. */
    static void learnCollector() {
        if (learned) {
            return;
        }
        zgcBelowJdk21 = JFR_PRESENT && Runtime.version().feature() < 21 && zgc();
        learned = true;
    }

    private static volatile boolean learned;

    /**
     * What a refusal's message adds when a JFR recording runs on a JDK below 21 with ZGC, or
     * null. There (seen on 17.0.7 to 17.0.21.1), once a lambda had run (before the recording or
     * during it), forced collections stopped finding directmem's dropped buffers: their phantom
     * references were discovered and never enqueued ({@code -Xlog:gc+ref=debug}: "Phantom: N
     * discovered, 0 enqueued"), until the recording stopped. Not seen with G1 or Shenandoah, nor
     * on JDK 21 or 25 with ZGC (helper-90, helper-100). No lambda and no collector beans here:
     * this runs as a refusal is thrown (the collector was learned before, on the reporter thread).
     */
    static String recordingOnOldZgcNote() {
        try {
            if (!zgcBelowJdk21 || !FlightRecorder.isInitialized()) {
                return null;
            }
            for (jdk.jfr.Recording recording : FlightRecorder.getFlightRecorder().getRecordings()) {
                if (recording.getState() == jdk.jfr.RecordingState.RUNNING) {
                    return "; a JFR recording is running on JDK " + Runtime.version().feature()
                            + " with ZGC, where collections have been seen to leave dropped directmem"
                            + " buffers unreclaimed while a recording runs (once a lambda has run):"
                            + " stop the recording, use G1, or JDK 21 or later";
                }
            }
            return null;
        } catch (RuntimeException | LinkageError e) { // a security manager
            return null;
        }
    }

    /** Whether this JVM collects with ZGC (its collector beans' names say so); false without java.management. */
    private static boolean zgc() {
        if (!ModuleLayer.boot().findModule("java.management").isPresent()) {
            return false;
        }
        for (java.lang.management.GarbageCollectorMXBean gc
                : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc.getName().startsWith("ZGC")) {
                return true;
            }
        }
        return false;
    }

    static void allocationFailed(int capacity, int alignment, String message) {
        if (!JFR_PRESENT || !FlightRecorder.isInitialized()) {
            return;
        }
        AllocationFailureEvent event = new AllocationFailureEvent();
        if (event.shouldCommit()) {
            event.requestedBytes = capacity;
            event.alignment = alignment;
            event.message = keptByJfr(message);
            // Only on failure: the figures after the last attempt.
            DirectMemoryStats stats = DirectMemory.stats();
            event.memoryUsed = stats.memoryUsed();
            event.maxMemory = stats.maxMemory();
            event.commit();
        }
    }

    /**
     * The message as a JFR recording keeps it. Below JDK 21 a string of 17 to 127 characters goes
     * to JFR's string pool, and a refusal repeated word for word can read null (see the triggers
     * above); one of 128 or more is written in place, so there such a message is padded with
     * spaces to 128 characters. On JDK 21 and later it is the message as thrown.
     */
    static String keptByJfr(String message) {
        if (message == null || JFR_KEEPS_POOLED_STRINGS || message.length() <= LONGEST_IN_PLACE
                || message.length() >= SHORTEST_IN_PLACE_ABOVE_POOL) {
            return message;
        }
        return message + " ".repeat(SHORTEST_IN_PLACE_ABOVE_POOL - message.length());
    }

    @Name("dev.directmem.Reclamation")
    @Label("Direct Memory Reclamation")
    @Category({"Java Application", "directmem"})
    @Description("A garbage collection directmem made the JVM run, because the budget was full or "
            + "ahead of need in the background, and the wait for the frees it made possible")
    static final class ReclamationEvent extends Event {
        @Label("Collection Time")
        @Description("The garbage collection alone")
        @Timespan(Timespan.NANOSECONDS)
        long collectionTime;

        @Label("Reclamation Time")
        @Description("From the start of the collection until the allocating thread went on (a "
                + "refused allocation), or until the reclaimer thread had freed what it found, at "
                + "most 256 ms after the collection (a background one): the collection and the wait "
                + "for the frees it brought")
        @Timespan(Timespan.NANOSECONDS)
        long reclamationTime;

        @Label("Bytes Freed")
        @Description("Capacity the reclaimer thread gave back during the reclamation time that no earlier "
                + "event counted; frees of the same collection that land later count only in the pool's "
                + "reclaimed bytes")
        @DataAmount(DataAmount.BYTES)
        long bytesFreed;

        @Label("Collection")
        @Description("How the collection came about: forced (JVMTI), heap pressure, or unconfirmed")
        String collection;

        @Label("Trigger")
        @Description("Why it ran: refused (an allocation that did not fit the budget), or early "
                + "(use past the high-water mark: a background collection ahead of need)")
        String trigger;

        @Label("Requested Bytes")
        @Description("The allocation that did not fit the budget (0 for a background collection)")
        @DataAmount(DataAmount.BYTES)
        long requestedBytes;
    }

    @Name("dev.directmem.AllocationFailure")
    @Label("Direct Memory Allocation Failure")
    @Category({"Java Application", "directmem"})
    @Description("An allocation the budget or the operating system refused (it threw OutOfMemoryError)")
    static final class AllocationFailureEvent extends Event {
        @Label("Requested Bytes")
        @DataAmount(DataAmount.BYTES)
        long requestedBytes;

        @Label("Alignment")
        @Description("The alignment asked for, 0 if none")
        int alignment;

        @Label("Memory Used")
        @DataAmount(DataAmount.BYTES)
        long memoryUsed;

        @Label("Max Memory")
        @DataAmount(DataAmount.BYTES)
        long maxMemory;

        @Label("Message")
        String message;
    }
}
