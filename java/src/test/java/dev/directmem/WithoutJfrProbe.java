package dev.directmem;

import java.nio.ByteBuffer;

/**
 * Run in a child JVM by {@link EventsTest} in a runtime without {@code jdk.jfr}: drops four
 * budgets of 1 MiB buffers, so that directmem reclaims, then asks for more than the budget.
 */
final class WithoutJfrProbe {
    private WithoutJfrProbe() {}

    public static void main(String[] args) {
        System.out.println("JFR IN THIS RUNTIME " + ModuleLayer.boot().findModule("jdk.jfr").isPresent());
        long budget = DirectMemory.stats().maxMemory();
        for (long i = 0; i < 4 * budget / (1 << 20); i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(1 << 20);
            buffer.putLong(0, i);
        }
        System.out.println("COLLECTIONS " + DirectMemory.stats().collections());
        try {
            DirectMemory.allocateDirect((int) budget + 1);
            System.out.println("NO FAILURE");
        } catch (OutOfMemoryError e) {
            System.out.println("FAILED AS EXPECTED: " + e.getMessage());
        }
    }
}
