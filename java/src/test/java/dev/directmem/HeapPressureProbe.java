package dev.directmem;

import java.nio.ByteBuffer;

/**
 * Run in a child JVM by {@link FaultsTest}: the first allocation of a size (the one that also links
 * the code setting buffer fields) with the Java heap full, retried while the heap frees up bit by
 * bit, so that heap OutOfMemoryErrors strike it at every step, before and after its native memory
 * exists. Afterwards every byte must come back: only then can a buffer of the whole budget be
 * allocated.
 */
final class HeapPressureProbe {
    private HeapPressureProbe() {}

    public static void main(String[] args) throws Exception {
        int capacity = Integer.parseInt(args[0]);
        long budget = DirectMemory.stats().maxMemory();
        // Initialized before the heap fills, so that the failures strike the allocation itself.
        for (Class<?> type : new Class<?>[] {Allocation.class, SharedBlock.class, Tracking.class, Events.class}) {
            Class.forName(type.getName(), true, type.getClassLoader());
        }
        HeapHog hog = new HeapHog();
        hog.fill();
        int failures = 0;
        ByteBuffer buffer = null;
        boolean held = true;
        while (buffer == null && held) {
            try {
                buffer = DirectMemory.allocateDirect(capacity);
            } catch (OutOfMemoryError heap) {
                failures++;
                held = hog.release(4);
            }
        }
        hog.drop();
        System.out.println("HEAP FAILURES " + failures + ", allocated " + (buffer != null));
        if (buffer != null) {
            DirectMemory.free(buffer);
        }
        DirectMemory.free(DirectMemory.allocateDirect((int) budget)); // reclaims all that was dropped
        SharedBlock.startOverForTesting();
        for (int i = 0; i < 20 && SharedBlock.currentBytes() != 0; i++) {
            DirectMemory.free(DirectMemory.allocateDirect((int) budget));
            Thread.sleep(50);
        }
        System.out.println("BUDGET BACK, current shared bytes " + SharedBlock.currentBytes());
    }
}
