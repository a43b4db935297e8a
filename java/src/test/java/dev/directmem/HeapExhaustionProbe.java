package dev.directmem;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Run in a child JVM by {@link ReclaimerTest}: buffers of most of the budget are dropped, then the
 * Java heap is kept full for a few seconds. The collections the full heap brings find the dropped
 * buffers, so the reclaimer thread frees them with the heap full, keeping what fails (which
 * allocates), while the reporter thread looks for an MBean server and reports those failures
 * (which allocate too). Afterwards both threads must still be there, every dropped byte back, and
 * the reclaimer freeing unreachable buffers.
 */
final class HeapExhaustionProbe {
    /** How long the heap is kept full. */
    private static final long FULL_MILLIS = 3000;
    private static final int MIB = 1 << 20;

    /** Cleared by a watchdog: the filling loop cannot be the one to stop ({@link HeapHog}). */
    private static final HeapHog HOG = new HeapHog();

    private HeapExhaustionProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(MIB)); // directmem started
        long budget = DirectMemory.stats().maxMemory();
        // Three quarters: below where the early reclaimer starts a collection of its own, so
        // that the full heap's collections are the ones that find them.
        long dropped = dropBuffers(budget * 3 / 4 / MIB);
        long usedBefore = DirectMemory.stats().memoryUsed();
        Thread watchdog = new Thread(HeapExhaustionProbe::dropTheHogLater, "watchdog");
        watchdog.start();
        HOG.keepFull();
        watchdog.join();
        for (String name : new String[] {"directmem-reclaimer", "directmem-reporter"}) {
            boolean alive = Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().equals(name) && t.isAlive());
            System.out.println(name + " ALIVE " + alive);
        }
        // No collection since the full heap's: only their references can bring these back.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        DirectMemoryStats stats = DirectMemory.stats();
        while (stats.memoryUsed() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
            stats = DirectMemory.stats();
        }
        System.out.println("DROPPED " + dropped + ", USED " + usedBefore + ", AFTER THE FULL HEAP "
                + stats.memoryUsed() + ", RECLAIMED " + stats.reclaimedBytes());
        // Four budgets' worth of 1 MiB buffers, each dropped: only the reclaimer can free them.
        for (long i = 0; i < 4 * budget / MIB; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(MIB);
            buffer.put(0, (byte) 1);
        }
        DirectMemory.free(DirectMemory.allocateDirect((int) budget)); // reclaims the last of them
        DirectMemoryStats after = DirectMemory.stats();
        System.out.println("CHURNED, RECLAIMED " + (after.reclaimedBytes() - stats.reclaimedBytes())
                + ", USED " + after.memoryUsed() + ", FAILED " + after.failedAllocations());
    }

    /** Allocates and drops {@code count} buffers of 1 MiB, each written; returns their bytes. */
    private static long dropBuffers(long count) {
        for (long i = 0; i < count; i++) {
            DirectMemory.allocateDirect(MIB).put(MIB - 1, (byte) 1);
        }
        return count * MIB;
    }

    /** Ends the full heap whatever stalls: sleeping and storing null allocate nothing. */
    private static void dropTheHogLater() {
        try {
            Thread.sleep(FULL_MILLIS);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        HOG.drop();
    }
}
