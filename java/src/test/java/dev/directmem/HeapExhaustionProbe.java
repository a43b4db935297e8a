package dev.directmem;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Run in a child JVM by {@link ReclaimerTest}: the Java heap is kept full for a few seconds, while
 * the reclaimer thread keeps what fails (which allocates) and the reporter thread looks for an
 * MBean server and reports those failures (which allocate too). Afterwards both threads must
 * still be there, and the reclaimer freeing unreachable buffers.
 */
final class HeapExhaustionProbe {
    private HeapExhaustionProbe() {}

    public static void main(String[] args) throws Exception {
        DirectMemory.free(DirectMemory.allocateDirect(1 << 20)); // directmem started
        List<Object> hog = new ArrayList<>();
        long until = System.nanoTime() + 3_000_000_000L;
        int chunk = 1 << 20;
        while (System.nanoTime() < until) {
            try {
                hog.add(new byte[chunk]);
            } catch (OutOfMemoryError full) {
                chunk = Math.max(16, chunk >> 1); // fill what is left, and keep it full
                Thread.onSpinWait();
            }
        }
        hog = null;
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
}
