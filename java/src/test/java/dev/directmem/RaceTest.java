package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Races between the ways memory comes back: each block must be freed exactly once and the ledger
 * must come out exact, to the byte. Every test starts from, and ends at, a settled (empty) ledger,
 * so the freed and reclaimed counters account for its own buffers alone.
 */
class RaceTest {
    private static final int MIB = Churn.MIB;

    private static void join(List<Thread> threads) throws InterruptedException {
        for (Thread thread : threads) {
            thread.join();
        }
    }

    /**
     * Explicit free racing the Cleaner: buffers are dropped batch by batch, so that each is only
     * weakly held while collections (driven by a churning thread) make it unreachable and
     * freeing threads free it if they can still get it. Whoever comes first frees each block;
     * the other does nothing.
     */
    @Test
    void explicitFreeRacesTheCleaner() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        int buffers = 2_000;
        int batch = 100;
        ByteBuffer[] strong = new ByteBuffer[buffers];
        List<WeakReference<ByteBuffer>> weak = new ArrayList<>();
        for (int i = 0; i < buffers; i++) {
            int capacity = 1_000 + i; // distinct sizes: a double free would not cancel out
            // Odd ones with a block of their own, even ones sharing blocks (up to 4 KiB).
            strong[i] = i % 2 == 0 ? DirectMemory.allocateDirect(capacity) : Churn.unshared(capacity);
            weak.add(new WeakReference<>(strong[i]));
        }
        // What the blocks hold, shared ones whole: each must come back exactly once.
        long capacities = DirectMemory.stats().totalCapacity() - before.totalCapacity();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicLong churned = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int seed = t;
            threads.add(new Thread(() -> {
                try {
                    // Every freer walks the dropped buffers in its own order, a few at a time,
                    // so that some are still reachable when it comes and some are not.
                    Random random = new Random(seed);
                    while (true) {
                        boolean last = done.get();
                        for (int i = 0; i < buffers; i += 1 + random.nextInt(3)) {
                            ByteBuffer buffer = weak.get(i).get();
                            if (buffer != null) {
                                DirectMemory.free(buffer);
                            }
                            if (i % 10 == 0) {
                                Thread.sleep(1);
                            }
                        }
                        if (last) {
                            return;
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "freer-" + t));
        }
        // Pushes the budget so that collections run, and find the dropped buffers, meanwhile.
        threads.add(new Thread(() -> {
            try {
                while (!done.get()) {
                    DirectMemory.allocateDirect(MIB).put(0, (byte) 1);
                    churned.addAndGet(MIB);
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        }, "churner"));
        threads.forEach(Thread::start);
        for (int from = 0; from < buffers; from += batch) {
            Arrays.fill(strong, from, from + batch, null);
            Thread.sleep(10);
        }
        done.set(true);
        join(threads);
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);

        DirectMemoryStats after = Churn.settle();
        long freed = after.freedBytes() - before.freedBytes();
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        // The churner's buffers came back through the Cleaner; every small buffer exactly once.
        assertEquals(capacities + churned.get(), freed + reclaimed,
                "freed " + freed + " + reclaimed " + reclaimed + " (churned " + churned + ")");
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
        assertEquals(before.failedAllocations(), after.failedAllocations());
        System.out.println("RACE explicitFreeVsCleaner: buffers=" + buffers + " bytes=" + capacities
                + " freedExplicitly=" + freed + " freedByCleaner=" + (reclaimed - churned.get())
                + " churned=" + churned + " collections=" + (after.collections() - before.collections()));
    }

    /** Several threads free the same buffers, each in its own order: each is freed once. */
    @Test
    void severalThreadsFreeTheSameBuffers() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            // Mapped blocks, 26 MiB, and small buffers, in shared blocks and in their own.
            int capacity = i % 10 == 0 ? 256 * 1024 + i : 64 + i;
            buffers.add(i % 3 == 0 ? Churn.unshared(capacity) : DirectMemory.allocateDirect(capacity));
        }
        long capacities = DirectMemory.stats().totalCapacity() - before.totalCapacity();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            threads.add(new Thread(() -> {
                try {
                    List<ByteBuffer> order = new ArrayList<>(buffers);
                    Collections.shuffle(order, new Random(seed));
                    start.await();
                    for (ByteBuffer buffer : order) {
                        DirectMemory.free(buffer);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "free-" + t));
        }
        threads.forEach(Thread::start);
        start.countDown();
        join(threads);
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        SharedBlock.startOverForTesting(); // frees the current blocks, idle now, as well
        DirectMemoryStats after = Churn.settle();
        // Idle current blocks are held weakly: a collection may have taken some first.
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        assertTrue(reclaimed <= SharedBlock.CURRENT_BYTES_CAP, "reclaimed " + reclaimed);
        assertEquals(capacities, after.freedBytes() - before.freedBytes() + reclaimed);
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
        assertEquals(0, after.totalCapacity());
        for (ByteBuffer buffer : buffers) {
            assertEquals(0, buffer.capacity());
        }
    }

    /**
     * Allocation racing reclamation: threads allocate while others drop buffers and the Cleaner
     * frees them; afterwards every byte allocated came back exactly once.
     */
    @Test
    void allocationRacesReclamation() throws InterruptedException {
        DirectMemoryStats before = Churn.settle();
        AtomicLong allocated = new AtomicLong();
        AtomicLong explicitlyFreed = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            threads.add(new Thread(() -> {
                Random random = new Random(seed);
                try {
                    for (int i = 0; i < 400; i++) {
                        // Above the shared blocks' sizes: what the Cleaner and free each bring
                        // back is then known per buffer.
                        int capacity = SharedBlock.MAX_CAPACITY + 1 + random.nextInt(2 * MIB);
                        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
                        allocated.addAndGet(capacity);
                        buffer.put(capacity - 1, (byte) 7);
                        if (random.nextInt(3) == 0) {
                            DirectMemory.free(buffer); // a third freed, the rest left to the Cleaner
                            explicitlyFreed.addAndGet(capacity);
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "alloc-" + t));
        }
        threads.forEach(Thread::start);
        join(threads);
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        DirectMemoryStats after = Churn.settle();
        assertEquals(explicitlyFreed.get(), after.freedBytes() - before.freedBytes());
        assertEquals(allocated.get() - explicitlyFreed.get(), after.reclaimedBytes() - before.reclaimedBytes());
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
        assertEquals(before.failedAllocations(), after.failedAllocations());
        assertTrue(after.peakMemoryUsed() <= after.maxMemory());
        System.out.println("RACE allocationVsReclamation: threads=4 allocations=1600 bytes=" + allocated
                + " explicitlyFreed=" + explicitlyFreed + " collections="
                + (after.collections() - before.collections()));
    }
}
