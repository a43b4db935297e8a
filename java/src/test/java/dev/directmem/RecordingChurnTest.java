package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;

/**
 * Dropped buffers are reclaimed while a JFR recording runs, on the thread whose refused
 * allocation first reports a Reclamation event (which a recording with default settings
 * enables). On JDK 17 with ZGC, when that report linked a lambda (an invokedynamic call site)
 * inside the native upcall, every forced collection after it left the buffers that thread
 * allocated unreclaimed, and the churn threw BudgetExhaustedError after 3 collections at about
 * one budget (helper-87). Meaningful when this class runs on its own: another test that reported
 * a reclamation first would have linked the upcall's call sites on its own thread.
 */
class RecordingChurnTest {
    private static final int MIB = 1 << 20;

    @Test
    void droppedBuffersAreReclaimedWhileARecordingRuns() {
        long budget = DirectMemory.stats().maxMemory();
        assumeTrue(budget <= 256L * MIB, "a budget this large would take too long to churn through");
        long collectionsBefore = DirectMemory.stats().collections();
        try (Recording recording = new Recording()) {
            recording.start();
            long buffers = 3 * budget / MIB;
            for (long i = 0; i < buffers; i++) {
                ByteBuffer buffer;
                try {
                    buffer = DirectMemory.allocateDirect(MIB);
                } catch (OutOfMemoryError e) {
                    // Caught: JUnit rethrows an OutOfMemoryError, which ended the whole run.
                    fail("refused at buffer " + i + " of " + buffers + ": " + e.getMessage(), e);
                    return;
                }
                buffer.putLong(0, i);
            }
        }
        assertTrue(DirectMemory.stats().collections() > collectionsBefore, "the churn never filled the budget");
        assertEquals(0, DirectMemory.stats().failedAllocations());
    }

    /**
     * A refusal's message names the JDK 17 + ZGC + recording case (where lambdas linked during a
     * recording leave buffers unreclaimed) only while a recording runs on such a JVM.
     */
    @Test
    void theRecordingNoteComesOnlyWithARunningRecordingOnZgcBelowJdk21() {
        boolean zgc = false;
        for (java.lang.management.GarbageCollectorMXBean gc
                : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            zgc |= gc.getName().startsWith("ZGC");
        }
        boolean expected = zgc && Runtime.version().feature() < 21;
        try (Recording recording = new Recording()) {
            assertNull(Events.recordingOnOldZgcNote(), "no recording running yet");
            recording.start();
            String note = Events.recordingOnOldZgcNote();
            assertEquals(expected, note != null, String.valueOf(note));
            if (expected) {
                assertTrue(note.contains("JFR recording is running") && note.contains("ZGC"), note);
            }
            recording.stop();
            assertNull(Events.recordingOnOldZgcNote(), "the recording stopped");
        }
    }
}
