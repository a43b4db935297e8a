package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import jdk.jfr.Event;
import jdk.jfr.Name;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** JFR: a recording shows each reclamation and each failed allocation. */
class EventsTest {
    /** A planted failure this test did not reach must not fail the next one. */
    @AfterEach
    void clearPlantedFailures() {
        Allocation.clearFailuresForTesting();
    }

    private static final int MIB = 1 << 20;

    /** Committed where the stats are read: the events between two marks are those of that span. */
    @Name("dev.directmem.test.Mark")
    static final class Mark extends Event {}

    @Test
    void aRecordingShowsReclamationsAndFailures() throws Exception {
        Path file = Files.createTempFile("directmem-events", ".jfr");
        DirectMemoryStats before;
        DirectMemoryStats after;
        try (Recording recording = new Recording()) {
            recording.enable("dev.directmem.Reclamation");
            recording.enable("dev.directmem.AllocationFailure");
            recording.enable(Mark.class);
            recording.start();
            // Settled inside the recording, then marked, and only events between the marks counted:
            // a collection (the background thread's) that ran across the start is in before and
            // its event before the mark (an event follows its count at once, or after the wait for
            // its frees: well within the quiet second); one still running counts in after, its
            // event after the mark.
            before = settledStats();
            new Mark().commit();
            for (int i = 0; i < 3 * 64; i++) { // 3 x the budget, each buffer dropped at once
                ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
                buffer.putInt(0, i);
            }
            assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(65 * MIB));
            after = settledStats();
            new Mark().commit();
            recording.stop();
            recording.dump(file);
        }
        try {
            List<RecordedEvent> recorded = RecordingFile.readAllEvents(file);
            List<Instant> marks = recorded.stream()
                    .filter(e -> e.getEventType().getName().equals("dev.directmem.test.Mark"))
                    .map(RecordedEvent::getEndTime).sorted().collect(Collectors.toList());
            assertEquals(2, marks.size(), marks.toString());
            Predicate<RecordedEvent> betweenTheMarks =
                    e -> e.getEndTime().isAfter(marks.get(0)) && e.getEndTime().isBefore(marks.get(1));
            List<RecordedEvent> events = recorded.stream().filter(betweenTheMarks).collect(Collectors.toList());
            List<RecordedEvent> reclamations = events.stream()
                    .filter(e -> e.getEventType().getName().equals("dev.directmem.Reclamation"))
                    .collect(Collectors.toList());
            List<RecordedEvent> failures = events.stream()
                    .filter(e -> e.getEventType().getName().equals("dev.directmem.AllocationFailure"))
                    .collect(Collectors.toList());

            long collections = after.collections() - before.collections();
            assertTrue(collections > 0);
            // Every collection of the period, by this thread or the background reclaimer, was
            // reported once.
            assertEquals(collections, reclamations.size());
            long freed = 0;
            for (RecordedEvent e : reclamations) {
                String trigger = e.getString("trigger");
                assertTrue(Set.of("refused allocation", "early, in the background").contains(trigger), trigger);
                assertEquals(trigger.equals("refused allocation") ? MIB : 0, e.getLong("requestedBytes"));
                if (trigger.startsWith("early") && e.getThread() != null) { // JDK 21 and later name it
                    // Named as the native thread attached, which JFR records (before: Thread-0).
                    assertEquals("directmem-early-reclaimer", e.getThread().getJavaName());
                }
                assertTrue(Set.of("forced", "heap pressure", "unconfirmed").contains(e.getString("collection")),
                        e.getString("collection"));
                assertTrue(e.getDuration("reclamationTime").toNanos() > 0);
                assertTrue(e.getDuration("collectionTime").compareTo(e.getDuration("reclamationTime")) <= 0);
                freed += e.getLong("bytesFreed");
            }
            assertTrue(after.reclaimedBytes() > before.reclaimedBytes(), "the collections brought memory back");
            assertTrue(freed <= after.reclaimedBytes() - before.reclaimedBytes());

            assertEquals(1, failures.size());
            RecordedEvent failure = failures.get(0);
            assertEquals(65L * MIB, failure.getLong("requestedBytes"));
            assertEquals(64L * MIB, failure.getLong("maxMemory"));
            assertEquals(0, failure.getInt("alignment"));
            assertTrue(failure.getString("message").startsWith("Cannot reserve " + 65 * MIB + " bytes"),
                    failure.getString("message"));
            assertFalse(failure.getStackTrace().getFrames().isEmpty());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * Only refusals are AllocationFailure events: the operating system's (and the budget's,
     * above), not a full Java heap before anything was reserved, nor one after (planted both).
     * Before: every OutOfMemoryError thrown before the reservation was recorded as one.
     */
    @Test
    void onlyRefusalsAreAllocationFailures() throws Exception {
        Native.checkAvailable(); // the hooks below need the library
        Path file = Files.createTempFile("directmem-events", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("dev.directmem.AllocationFailure");
            recording.start();
            for (boolean afterReservation : new boolean[] {false, true}) {
                OutOfMemoryError heapFull = new OutOfMemoryError("planted: Java heap space");
                Allocation.failNextArmingForTesting(heapFull, afterReservation);
                assertSame(heapFull, assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(5000)));
            }
            Native.failNextAllocation();
            assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(5000));
            recording.stop();
            recording.dump(file);
        }
        try {
            List<RecordedEvent> failures = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals("dev.directmem.AllocationFailure"))
                    .collect(Collectors.toList());
            assertEquals(1, failures.size(), failures.toString());
            assertTrue(failures.get(0).getString("message").startsWith("the operating system refused 5000 bytes"),
                    failures.get(0).getString("message"));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * A runtime without {@code jdk.jfr} (a slim jlink image), on the class path: before the fix
     * every collection printed a NoClassDefFoundError for jdk/jfr/FlightRecorder to stderr.
     */
    @Test
    void aRuntimeWithoutJfrReclaimsWithoutErrors() throws Exception {
        Subprocess.Result child = Subprocess.run(Subprocess.testClassPath(),
                List.of("--limit-modules", "java.base,java.management,jdk.management",
                        "-XX:MaxDirectMemorySize=16m"),
                WithoutJfrProbe.class.getName());
        String out = child.output();
        assertEquals(0, child.exitCode(), out);
        assertTrue(out.contains("JFR IN THIS RUNTIME false"), out);
        assertTrue(out.matches("(?s).*COLLECTIONS [1-9].*"), "directmem reclaimed: " + out);
        assertTrue(out.contains("FAILED AS EXPECTED: Cannot reserve"), out);
        assertFalse(out.contains("NoClassDefFoundError"), out);
        assertFalse(out.contains("could not report"), out);
        assertFalse(Subprocess.JNI_WARNING.matcher(out).find(), out);
    }

    /**
     * The stats once no collection has ended for a second: a background one may still run, and
     * one driven by heap pressure (Shenandoah, ZGC) can take a few hundred milliseconds.
     */
    private static DirectMemoryStats settledStats() throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        DirectMemoryStats stats = DirectMemory.stats();
        for (int quiet = 0; quiet < 10; ) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("collections went on for 30 s with nothing allocated: " + stats);
            }
            Thread.sleep(100);
            DirectMemoryStats now = DirectMemory.stats();
            quiet = now.collections() == stats.collections() ? quiet + 1 : 0;
            stats = now;
        }
        return stats;
    }
}
