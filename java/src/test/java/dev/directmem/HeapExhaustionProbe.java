package dev.directmem;

import java.nio.ByteBuffer;

/**
 * Run in a child JVM by {@link ReclaimerTest}: the Java heap is kept full for a few seconds, while
 * the reclaimer thread keeps what fails (which allocates) and the reporter thread looks for an
 * MBean server and reports those failures (which allocate too). Afterwards both threads must
 * still be there, and the reclaimer freeing unreachable buffers.
 */
final class HeapExhaustionProbe {
    /** How long the heap is kept full. */
    private static final long FULL_MILLIS = 3000;

    /**
     * What fills the heap, in a field that a watchdog clears. The filling loop cannot be the one
     * to stop: Shenandoah retries a failed allocation for as long as its collections make progress
     * (JDK 17's ShenandoahHeap::allocate_memory), which the other threads' garbage can keep up,
     * and FaultsTest skips Shenandoah for such a stall of minutes. Once the hog is unreachable the
     * next collection frees it, and a stalled allocation goes on. So no frame that allocates
     * holds it: {@link #keep} stores without allocating.
     */
    private static volatile Object[] hog;
    private static int held;

    private HeapExhaustionProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(1 << 20)); // directmem started
        hog = new Object[1 << 20]; // more slots than chunks the heap can hold
        Thread watchdog = new Thread(HeapExhaustionProbe::dropTheHogLater, "watchdog");
        watchdog.start();
        int chunk = 1 << 20;
        while (hog != null) {
            try {
                keep(new byte[chunk]);
            } catch (OutOfMemoryError full) {
                chunk = Math.max(16, chunk >> 1); // fill what is left, and keep it full
                Thread.onSpinWait();
            }
        }
        watchdog.join();
        for (String name : new String[] {"directmem-reclaimer", "directmem-reporter"}) {
            boolean alive = Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().equals(name) && t.isAlive());
            System.out.println(name + " ALIVE " + alive);
        }
        // Four budgets' worth of 1 MiB buffers, each dropped: only the reclaimer can free them.
        long budget = DirectMemory.stats().maxMemory();
        for (long i = 0; i < 4 * budget / (1 << 20); i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(1 << 20);
            buffer.put(0, (byte) 1);
        }
        System.out.println("CHURNED");
    }

    /** Adds {@code chunk} to the hog while there is one and room in it; allocates nothing. */
    private static void keep(byte[] chunk) {
        Object[] slots = hog;
        if (slots != null && held < slots.length) {
            slots[held++] = chunk;
        }
    }

    /** Ends the full heap whatever stalls: sleeping and storing null allocate nothing. */
    private static void dropTheHogLater() {
        try {
            Thread.sleep(FULL_MILLIS);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        hog = null;
    }
}
