package dev.directmem;

import java.lang.ref.Reference;

/**
 * Fills the Java heap of a probe's child JVM to its last few bytes, and gives it back. Chunks of
 * 1 MiB, halved at each failure down to an empty array, so what is left fits no object at all.
 *
 * <p>The chunks are held in a volatile field that {@link #drop} clears: Shenandoah retries a failed
 * allocation for as long as its collections make progress (JDK 17's
 * ShenandoahHeap::allocate_memory), which other threads' garbage can keep up, so a filling loop
 * cannot be relied on to stop. Once the chunks are unreachable the next collection frees them, and
 * a stalled allocation goes on. Holding a chunk allocates nothing.
 */
final class HeapHog {
    private static final int LARGEST = 1 << 20;
    /** An empty array: the smallest object there is (16 bytes with compressed class pointers). */
    private static final int SMALLEST = 0;

    /** Enough for a child's heap (at most 48 MiB) filled once; past them a chunk is not held. */
    private volatile Object[] chunks = new Object[1 << 20];
    private int held;
    /** Whether even the smallest chunk failed once: the heap was full. */
    private volatile boolean filled;

    /** Fills what is left of the heap, once; other threads' allocations then fail at once. */
    void fill() {
        fill(false);
    }

    /** Fills the heap and goes on filling what other threads free, until {@link #drop}. */
    void keepFull() {
        fill(true);
    }

    private void fill(boolean untilDropped) {
        int chunk = LARGEST;
        while (chunks != null) {
            try {
                if (!hold(new byte[chunk]) && !untilDropped) {
                    return;
                }
            } catch (OutOfMemoryError full) {
                if (chunk == SMALLEST) {
                    filled = true;
                    if (!untilDropped) {
                        return;
                    }
                }
                chunk = Math.max(SMALLEST, chunk >> 1);
                Thread.onSpinWait();
            }
        }
    }

    /** Whether the heap has been full since {@link #fill} or {@link #keepFull} began. */
    boolean filled() {
        return filled;
    }

    /** Holds {@code chunk} if there is a slot for it; allocates nothing. */
    private boolean hold(byte[] chunk) {
        Object[] slots = chunks;
        if (slots == null || held == slots.length) {
            return false;
        }
        slots[held++] = chunk;
        return true;
    }

    /**
     * Gives back the last {@code count} chunks held (the smallest first).
     *
     * @return whether any are still held
     */
    boolean release(int count) {
        Object[] slots = chunks;
        for (int i = 0; i < count && held > 0 && slots != null; i++) {
            slots[--held] = null;
        }
        return slots != null && held > 0;
    }

    /** Gives back the whole heap, and ends {@link #keepFull}; storing null allocates nothing. */
    void drop() {
        Object[] slots = chunks;
        chunks = null;
        Reference.reachabilityFence(slots); // full until here, whatever the JIT makes of the caller
    }
}
