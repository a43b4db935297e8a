package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The reclaimer thread and the phantom references behind it: each buffer's memory comes back
 * exactly once, whether freed explicitly, reclaimed after it became unreachable, or both raced.
 */
class ReclaimerTest {
    private static final int MIB = 1 << 20;

    /** Drops {@code count} buffers of {@code size} after writing them, forcing reclamation. */
    private static void churn(int count, int size) {
        for (int i = 0; i < count; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(size);
            buffer.putInt(0, i);
            assertEquals(i, buffer.getInt(0));
        }
    }

    /** Thread dumps and JFR events name directmem's threads, the native one attached to the JVM too. */
    @Test
    void directmemsThreadsHaveTheirNamesInThreadDumps() throws InterruptedException {
        DirectMemory.free(DirectMemory.allocateDirect(MIB)); // starts them all, if no test did
        Set<String> wanted = Set.of("directmem-reclaimer", "directmem-reporter", "directmem-early-reclaimer");
        long deadline = System.nanoTime() + 10_000_000_000L;
        Set<String> names;
        do {
            names = new TreeSet<>();
            for (Thread thread : Thread.getAllStackTraces().keySet()) {
                names.add(thread.getName());
            }
        } while (!names.containsAll(wanted) && System.nanoTime() < deadline && sleep(10));
        assertTrue(names.containsAll(wanted), names.toString());
    }

    private static boolean sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return true;
    }

    /**
     * The Java heap full for a few seconds, with 12 MiB of dropped buffers that its collections
     * find, so that the reclaimer frees them then (allocations in the reclaimer thread, in the
     * reporter thread and in the handler it calls, fail): both threads go on, every dropped byte
     * comes back, and so do four budgets of buffers dropped later.
     */
    @Test
    void theReclaimerOutlivesAFullJavaHeap() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Xmx48m", "-Ddirectmem.maxMemory=16m"), HeapExhaustionProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("directmem-reclaimer ALIVE true"), result.output());
        assertTrue(result.output().contains("directmem-reporter ALIVE true"), result.output());
        String dropped = 12 * MIB + "";
        // USED: most often all of them, unless a collection of the collector's own came first.
        assertTrue(result.output().contains("DROPPED " + dropped + ", USED "), result.output());
        assertTrue(result.output().contains("AFTER THE FULL HEAP 0, RECLAIMED " + dropped), result.output());
        assertTrue(result.output().contains("CHURNED, RECLAIMED " + 64 * MIB + ", USED 0, FAILED 0"), result.output());
    }

    /**
     * The reclaimer's first batch free comes with the Java heap full and 16 MiB of dropped buffers
     * queued (a child JVM, its reclaimer held at its start until then): linking the native batch
     * free fails there, and it is tried again until it links, before any batch is taken. Before
     * that was done at the thread's start, a batch whose free failed to link was lost: claimed and
     * unregistered, its memory never came back.
     */
    @Test
    void theFirstBatchFreeWithTheJavaHeapFullLosesNothing() throws Exception {
        List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments();
        // Shenandoah stalls an allocation on a full heap, for minutes, instead of failing it.
        assumeFalse(flags.contains("-XX:+UseShenandoahGC"), "a full heap stalls Shenandoah");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of("-Xmx48m"),
                FirstBatchProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        String used = 16 * MIB + "";
        assertTrue(result.output().contains("USED BEFORE " + used + ", AFTER 0, RECLAIMED " + used), result.output());
        // The link failed: what this test is about happened.
        assertTrue(result.output().contains("REPORTED OUT OF MEMORY 1"), result.output());
    }

    /**
     * User code that directmem runs (a JMX listener, told of the MBean's registration) fills the
     * budget with buffers it drops, then allocates: the reclaimer frees them, as it runs no user
     * code itself (once it ran this listener, and such an allocation waited for itself).
     */
    @Test
    void anAllocationInAJmxListenerGetsTheDroppedBuffersBack() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.maxMemory=64m"), ListenerProbe.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("ALLOCATED on directmem-reporter"), result.output());
        assertTrue(result.output().contains("with 67108864 of 67108864 bytes used before"), result.output());
        assertTrue(result.output().contains("THEN THE WHOLE BUDGET on main, 0 bytes used after"), result.output());
    }

    /**
     * A JMX listener that blocks on a lock an allocating thread holds does not stop reclamation:
     * that thread drops four budgets' worth of buffers meanwhile (before, the listener ran on the
     * reclaimer thread, and the allocations threw once the budget was full of garbage; found by a
     * review).
     */
    @Test
    void aJmxListenerThatBlocksDoesNotStopReclamation() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.maxMemory=64m"), ListenerProbe.class.getName(), "blocking");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("DROPPED 256 MiB while a listener on directmem-reporter waits for a lock"),
                result.output());
        assertTrue(result.output().contains("LISTENER DONE on directmem-reporter"), result.output());
        assertTrue(result.output().contains("THEN THE WHOLE BUDGET on main, 0 bytes used after"), result.output());
    }

    /**
     * A JMX listener that leaves its thread interrupted (code that restores an interrupt it
     * caught) does not make the reporter thread spin (found by a review: 1987 ms of CPU in 2 s).
     */
    @Test
    void aListenerThatLeavesItsThreadInterruptedLeavesTheReporterIdle() throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.maxMemory=64m"), ListenerProbe.class.getName(), "interrupting");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("INTERRUPTED directmem-reporter"), result.output());
        Matcher idle = Pattern.compile("IDLE directmem-reporter CPU (\\d+) ms in 1000 ms, (\\w+)")
                .matcher(result.output());
        assertTrue(idle.find(), result.output());
        assertTrue(Integer.parseInt(idle.group(1)) < 200, result.output());
        assertTrue(Set.of("WAITING", "TIMED_WAITING").contains(idle.group(2)), result.output());
    }

    /**
     * User code that directmem runs allocates at every depth near the bottom of its stack, the
     * budget full of garbage each time: it gets the buffer or its own StackOverflowError, nothing
     * else, and nothing is lost. Interpreted, so that the depths are the same from one allocation
     * to the next. When this code ran on the reclaimer thread, JDK 21 broke the reference queue's
     * lock here and the reclaimer hung. Not with Shenandoah, whose forced collections take up to a
     * second each here: the code under test does not depend on the collector.
     */
    @Test
    void anAllocationDeepInAJmxListenersStackLosesNothing() throws Exception {
        assumeFalse(ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:+UseShenandoahGC"),
                "checked in the runs of the other collectors");
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Xint", "-Ddirectmem.maxMemory=16m"), ListenerProbe.class.getName(), "deep");
        assertEquals(0, result.exitCode(), result.output());
        Matcher outcomes = Pattern.compile("OUTCOMES \\{(.*)}").matcher(result.output());
        assertTrue(outcomes.find(), result.output());
        Map<String, Integer> counts = new TreeMap<>();
        for (String entry : outcomes.group(1).split(", ")) {
            String[] keyAndCount = entry.split("=", 2);
            counts.put(keyAndCount[0], Integer.parseInt(keyAndCount[1]));
        }
        assertTrue(Set.of("ALLOCATED", "OVERFLOWED", "NOT_REACHED").containsAll(counts.keySet()), result.output());
        assertTrue(counts.getOrDefault("ALLOCATED", 0) > 0, "no allocation had stack enough: " + counts);
        assertTrue(counts.getOrDefault("OVERFLOWED", 0) > 0, "no allocation overflowed, so nothing was tested: "
                + counts);
        assertTrue(result.output().contains("THEN THE WHOLE BUDGET on main, 0 bytes used after"), result.output());
    }

    /**
     * An owner whose memory was never allocated (its allocation refused) can die while its release
     * is still reachable: the reclaimer must pass over it and free the rest of its batch.
     */
    @Test
    void aReleaseWhoseOwnerNeverGotMemoryIsPassedOver() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        List<Allocation.Release> unarmed = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            unarmed.add(new Allocation(4096, 1, null).release); // the owner dies at once
        }
        churn(300, MIB); // collections find them beside the churned buffers
        DirectMemoryStats after = Churn.settle();
        assertEquals(0, after.memoryUsed(), "the batches around them were freed: " + after);
        assertEquals(300L * MIB, after.reclaimedBytes() - before.reclaimedBytes());
        assertTrue(unarmed.stream().allMatch(r -> r.refersTo(null)), "the collector found them");
    }

    @Test
    void explicitlyFreedBuffersThatBecomeGarbageAreNotFreedAgain() throws InterruptedException {
        // Settled first: buffers an earlier test dropped must not be reclaimed in here.
        DirectMemoryStats before = Churn.settle();
        List<ByteBuffer> freed = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
            DirectMemory.free(buffer);
            freed.add(buffer);
        }
        freed.clear(); // now garbage: their releases must never run again
        churn(10 * 64, MIB); // ten budgets' worth: several collections find them
        DirectMemoryStats after = Churn.settle();
        assertEquals(32L * MIB, after.freedBytes() - before.freedBytes());
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertEquals(10L * 64 * MIB, after.reclaimedBytes() - before.reclaimedBytes(),
                "reclaimed other than what was dropped: more means a block was freed twice");
    }

    @Test
    void manySmallDroppedBuffersAreReclaimedInBatches() {
        DirectMemoryStats before = DirectMemory.stats();
        // 64 MiB of 4 KiB buffers, four times over: each collection finds thousands at once.
        churn(4 * 16_384, 4096);
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertTrue(after.reclaimedBytes() - before.reclaimedBytes() >= 2L * 64 * MIB,
                "reclaimed " + (after.reclaimedBytes() - before.reclaimedBytes()));
        assertTrue(after.peakMemoryUsed() <= after.maxMemory());
    }

    /**
     * Settled before and after, so that the counters subtract exactly: every freed buffer counted
     * once in freedBytes, every dropped one once in reclaimedBytes (a second free by the reclaimer
     * of a buffer freed explicitly would show there), and nothing left in use.
     */
    @Test
    void threadsFreeingAndDroppingTogetherFreeEachBufferOnce() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 2_000; i++) {
                    ByteBuffer buffer = DirectMemory.allocateDirect(64 * 1024);
                    buffer.putInt(0, seed);
                    if ((i + seed) % 2 == 0) {
                        DirectMemory.free(buffer); // half freed, half dropped
                    }
                }
            });
            thread.setUncaughtExceptionHandler((dead, e) -> failures.add(e));
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(List.of(), failures);
        DirectMemoryStats after = Churn.settle();
        long half = 4L * 1_000 * 64 * 1024;
        assertEquals(half, after.freedBytes() - before.freedBytes());
        assertEquals(half, after.reclaimedBytes() - before.reclaimedBytes(),
                "reclaimed other than what was dropped: more means a block was freed twice");
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertEquals(0, after.memoryUsed());
        assertEquals(0, after.count());
    }
}
