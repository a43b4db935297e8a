package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

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
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;
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
     * Rounds {@link #explicitFreeRacesTheCleaner} runs at most to see both ways of freeing in one:
     * a round where one did not happen says nothing wrong, only that the timing kept it out.
     */
    private static final int MAX_ROUNDS = 10;

    /**
     * Explicit free racing the Cleaner: buffers are dropped batch by batch, so that each is only
     * weakly held while collections (driven by a churning thread) make it unreachable and
     * freeing threads free it if they can still get it. Whoever comes first frees each block;
     * the other does nothing. Both ways must have taken part: rounds run until one had buffers
     * of their own blocks freed explicitly and others collected while the freers were at work,
     * each way's bytes counted where it says (freedBytes, reclaimedBytes); which buffers go
     * which way is up to the timing, so a round without one is run again, up to
     * {@value #MAX_ROUNDS} times. Before, nothing showed that the Cleaner had freed any of them.
     */
    @Test
    void explicitFreeRacesTheCleaner() throws InterruptedException {
        List<FreeRound> rounds = new ArrayList<>();
        while (rounds.size() < MAX_ROUNDS) {
            FreeRound round = explicitFreeVsCleanerRound(rounds.size());
            rounds.add(round);
            System.out.println("RACE explicitFreeVsCleaner round " + rounds.size() + ": " + round);
            if (round.bothWays()) {
                return;
            }
        }
        fail("in none of " + MAX_ROUNDS + " rounds were buffers of their own blocks both freed"
                + " explicitly and collected first: " + rounds);
    }

    /**
     * What a round of {@link #explicitFreeRacesTheCleaner} saw: of the buffers with blocks of
     * their own, those a freer took and freed, and those a collection found first while the
     * freers were at work; the counters' deltas, the churner's share of reclaimedBytes, the
     * collections.
     */
    record FreeRound(Tally freedExplicitly, Tally collectedFirst, long freed, long reclaimed, long churned,
            long collections) {

        boolean bothWays() {
            return freedExplicitly.buffers() > 0 && collectedFirst.buffers() > 0;
        }
    }

    /** Some of a round's buffers, and the bytes they hold. */
    record Tally(int buffers, long bytes) {}

    /** Capacity of buffer {@code i} of a round: distinct sizes, so that a double free would not cancel out. */
    private static int capacity(int i) {
        return 1_000 + i;
    }

    /**
     * The buffers of their own blocks (odd indexes below {@code buffers}) that {@code which} holds
     * of, and their bytes: only these have bytes known per buffer, shared blocks come back whole.
     */
    private static Tally ownBlocks(int buffers, IntPredicate which) {
        int count = 0;
        long bytes = 0;
        for (int i = 1; i < buffers; i += 2) {
            if (which.test(i)) {
                count++;
                bytes += capacity(i);
            }
        }
        return new Tally(count, bytes);
    }

    /**
     * One round. The freers pause for 1 ms every 10 buffers in the first round, and more each
     * round after (up to 4 ms at every buffer), so that a collection gets to dropped buffers
     * before they do where it did not (seen on JDK 17 Shenandoah: a collection under way for the
     * whole drop, the freers freeing all). Buffers are dropped once the freers have taken one of
     * their own blocks (seen on JDK 17 Serial: the collections the churner drove found all before
     * the freers took any), and the race goes on after the drop until a collection has found one
     * first or every one is taken or found.
     */
    private static FreeRound explicitFreeVsCleanerRound(int round) throws InterruptedException {
        int pauseEvery = Math.max(1, 10 >> round);
        long pauseMillis = Math.min(4, 1L << Math.max(0, round - 3));
        DirectMemoryStats before = Churn.settle();
        int buffers = 2_000;
        int batch = 100;
        ByteBuffer[] strong = new ByteBuffer[buffers];
        List<WeakReference<ByteBuffer>> weak = new ArrayList<>();
        for (int i = 0; i < buffers; i++) {
            // Odd ones with a block of their own, even ones sharing blocks (up to 4 KiB).
            strong[i] = i % 2 == 0 ? DirectMemory.allocateDirect(capacity(i)) : Churn.unshared(capacity(i));
            weak.add(new WeakReference<>(strong[i]));
        }
        // What the blocks hold, shared ones whole: each must come back exactly once.
        long capacities = DirectMemory.stats().totalCapacity() - before.totalCapacity();
        // Set by a freer that got the buffer, before its free: a buffer taken so was strongly
        // held then, so no collection had found it, and a free (this one or another's) frees it.
        AtomicIntegerArray taken = new AtomicIntegerArray(buffers);
        IntPredicate isTaken = i -> taken.get(i) == 1;
        // Found by a collection before any freer took it: cleared (the reclaimer frees it) and
        // not taken. Cleared is read first: a freer that got the buffer before that had marked it.
        IntPredicate isCollectedFirst = i -> weak.get(i).get() == null && taken.get(i) == 0;
        // Neither yet: no freer took it and no collection found it.
        IntPredicate isUnresolved = i -> taken.get(i) == 0 && weak.get(i).get() != null;
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
                                taken.set(i, 1);
                                DirectMemory.free(buffer);
                            }
                            if (!last && i % pauseEvery == 0) { // the last pass at full speed
                                Thread.sleep(pauseMillis);
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
        awaitRace("a freer takes a buffer of its own block", failures, done,
                () -> ownBlocks(buffers, isTaken).buffers() > 0);
        for (int from = 0; from < buffers; from += batch) {
            Arrays.fill(strong, from, from + batch, null);
            Thread.sleep(10);
        }
        awaitRace("a collection finds a dropped buffer of its own block first, or none is left", failures, done,
                () -> ownBlocks(buffers, isCollectedFirst).buffers() > 0
                        || ownBlocks(buffers, isUnresolved).buffers() == 0);
        // Counted before the race ends: found first while the freers were still at work.
        Tally collectedFirst = ownBlocks(buffers, isCollectedFirst);
        done.set(true);
        join(threads);
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        Tally freedExplicitly = ownBlocks(buffers, isTaken);

        DirectMemoryStats after = Churn.settle();
        long freed = after.freedBytes() - before.freedBytes();
        long reclaimed = after.reclaimedBytes() - before.reclaimedBytes();
        // The churner's buffers came back through the Cleaner; every small buffer exactly once.
        assertEquals(capacities + churned.get(), freed + reclaimed,
                "freed " + freed + " + reclaimed " + reclaimed + " (churned " + churned + ")");
        // Each way's bytes where it says: a block of its own freed explicitly in freedBytes, one
        // collected first in reclaimedBytes, besides the churner's.
        assertTrue(freedExplicitly.bytes() <= freed,
                "freed explicitly " + freedExplicitly.bytes() + " but freedBytes rose by " + freed);
        assertTrue(collectedFirst.bytes() <= reclaimed - churned.get(), "collected first "
                + collectedFirst.bytes() + " but reclaimedBytes rose by " + reclaimed + " with " + churned
                + " churned");
        assertEquals(0, after.count());
        assertEquals(0, after.memoryUsed());
        assertEquals(before.failedAllocations(), after.failedAllocations());
        return new FreeRound(freedExplicitly, collectedFirst, freed, reclaimed, churned.get(),
                after.collections() - before.collections());
    }

    /**
     * Waits, while the race runs, until {@code met}, polling every millisecond (the freers must
     * still be at work when it holds); after 60 s, or at a thread's failure, ends the race
     * ({@code done}) and fails.
     */
    private static void awaitRace(String what, ConcurrentLinkedQueue<Throwable> failures, AtomicBoolean done,
            BooleanSupplier met) throws InterruptedException {
        // A thread's failure ends the polling too (its log line then says met, hence the label) and fails here.
        if (!Churn.pollUntil(what + ", or a thread fails", met::getAsBoolean, m -> m || !failures.isEmpty(), 1,
                60_000)) {
            done.set(true);
            fail("the race went on for 60 s, or failed, before this happened: " + what + "; failures: " + failures);
        }
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
        // Both ways took part while the threads allocated: frees by the draw above (at least one
        // of 1,600 draws of a third, with these seeds), and reclamation, as the threads
        // allocated many budgets' worth without a refusal, which only memory the reclaimer gave
        // back during the race allows.
        DirectMemoryStats raceEnd = DirectMemory.stats();
        assertTrue(explicitlyFreed.get() > 0, "no buffer was freed explicitly");
        long leftToTheCleaner = allocated.get() - explicitlyFreed.get();
        assertTrue(leftToTheCleaner > 2 * raceEnd.maxMemory(), "left to the Cleaner " + leftToTheCleaner
                + " bytes, not over twice the budget " + raceEnd.maxMemory() + ": the race needs no reclamation");
        assertTrue(raceEnd.reclaimedBytes() > before.reclaimedBytes(), "nothing was reclaimed during the race: "
                + before + " -> " + raceEnd);
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
