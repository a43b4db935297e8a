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

    /** Cleared by a watchdog: the filling loop cannot be the one to stop ({@link HeapHog}). */
    private static final HeapHog HOG = new HeapHog();

    private HeapExhaustionProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(1 << 20)); // directmem started
        Thread watchdog = new Thread(HeapExhaustionProbe::dropTheHogLater, "watchdog");
        watchdog.start();
        HOG.keepFull();
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
