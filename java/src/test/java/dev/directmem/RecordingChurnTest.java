package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Dropped buffers are reclaimed while a JFR recording runs. On JDK 17 with ZGC, once a lambda had
 * run (before the recording or during it), forced collections left the buffers that thread
 * dropped unreclaimed (README, a known limitation; 17.0.7 to 17.0.21.1, helper-100); directmem's
 * own Reclamation upcall ran one (a test hook's), so any recording triggered it: the churn threw
 * BudgetExhaustedError after 3 collections at about one budget (helper-87). In a JVM of its own,
 * whose probe runs no lambda, so that one of directmem's own would show.
 */
class RecordingChurnTest {
    /**
     * Also with the budget from directmem's own property, whose parsing in the setup runs a
     * lambda (a digit check) on the first call's thread: not a trigger (helper-100's probes
     * failed with a lambda of the program's own run before or after the first call).
     */
    @ParameterizedTest
    @ValueSource(strings = {"-XX:MaxDirectMemorySize=64m", "-Ddirectmem.maxMemory=64m"})
    void droppedBuffersAreReclaimedWhileARecordingRuns(String budget) throws Exception {
        Subprocess.Result child = Subprocess.run(Subprocess.testClassPath(),
                List.of(budget), RecordingChurnProbe.class.getName());
        String out = child.output();
        assertEquals(0, child.exitCode(), out);
        assertTrue(out.contains("CHURNED 192 COLLECTIONS "), out);
        assertFalse(out.contains("REFUSED"), out);
        assertFalse(Subprocess.JNI_WARNING.matcher(out).find(), out);
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
        Events.learnCollector(); // the reporter thread's first turn, at the latest
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
