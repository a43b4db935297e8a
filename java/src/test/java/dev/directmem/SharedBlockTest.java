package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Reference;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Small buffers sharing native blocks ({@link SharedBlock}): each still behaves as a buffer of its
 * own, and the ledger stays exact, block by block.
 */
class SharedBlockTest {
    /** A planted failure this test did not reach must not fail the next one. */
    @AfterEach
    void clearPlantedFailures() {
        Allocation.clearFailuresForTesting();
    }

    private static final int SLOTS = SharedBlock.SLOTS;

    @BeforeEach
    void freshStripes() throws InterruptedException {
        Churn.settle();
        SharedBlock.startOverForTesting();
    }

    private static ByteBuffer[] allocate(int n, int capacity) {
        ByteBuffer[] buffers = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            buffers[i] = DirectMemory.allocateDirect(capacity);
        }
        return buffers;
    }

    /**
     * A block marked retired whose un-counting a StackOverflowError cut short (still counted as a
     * current block) is un-counted by its last free: the reclaimer, which does it for a block that
     * dies unfreed, never sees a block freed so. Before, each such block kept its bytes of the
     * allowance for current blocks for good (helper-65's probe made the overflow strike there,
     * under -Xint); here the state it leaves is made by hand.
     */
    @Test
    void aRetiredBlockStillCountedAsCurrentIsUnCountedByItsLastFree() throws ReflectiveOperationException {
        ByteBuffer[] buffers = allocate(SLOTS, 64);
        Allocation.Release release = Allocation.of(buffers[0]).release;
        SharedBlock.startOverForTesting(); // retires the full block, which keeps its buffers
        assertEquals(0, SharedBlock.currentBytes());
        Field counted = SharedBlock.class.getDeclaredField("CURRENT_BYTES");
        counted.setAccessible(true);
        ((AtomicLong) counted.get(null)).addAndGet(release.capacity);
        release.current = true;

        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        assertEquals(0, SharedBlock.currentBytes(), "the last free un-counted it");
        assertFalse(release.current);
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    /**
     * A fill through a view made before its buffer was freed, landing after the block's last free
     * let go of the block's lock and before freeBlock took it (the block's memory on its way back),
     * throws and writes nothing. The state of that window is made by hand: a retired block whose
     * one buffer is still allocated, its count of buffers taken to 0.
     */
    @Test
    void aFillThroughAViewOfABlockOnItsWayOutThrowsAndWritesNothing() throws ReflectiveOperationException {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        ByteBuffer view = buffer.slice(8, 8);
        SharedBlock block = (SharedBlock) Allocation.of(buffer);
        SharedBlock.startOverForTesting(); // retired; its buffer keeps it
        Field live = SharedBlock.class.getDeclaredField("live");
        live.setAccessible(true);
        live.setInt(block, 0);

        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1));
        assertEquals(0, buffer.get(8), "nothing written");

        live.setInt(block, 1);
        DirectMemory.fill(view, (byte) 2); // a live buffer left: the view writes its slot
        assertEquals(2, buffer.get(8));
        DirectMemory.free(buffer);
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    /**
     * The last free of a retired block whose release's address reads 0 (the refusal of a buffer
     * handed over through a data race) throws and changes nothing: the buffer still reads and
     * writes its slot, and the block stays. Before, the free set the limit to 0, disarmed the
     * buffer and un-counted the block, then freeBlock refused. The state is made by hand: the
     * block's lock orders its arming before any free, so no race is known to make it.
     */
    @Test
    void aLastFreeRefusedForAnAddressThatReadsZeroChangesNothing() {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        buffer.put(5, (byte) 7);
        Allocation.Release release = Allocation.of(buffer).release;
        SharedBlock.startOverForTesting(); // retired; its one buffer keeps it
        DirectMemoryStats before = DirectMemory.stats();
        long address = release.address;
        release.address = 0;
        try {
            assertThrows(IllegalStateException.class, () -> DirectMemory.free(buffer));
        } finally {
            release.address = address;
        }
        assertEquals(64, buffer.limit(), "the limit as it was");
        assertEquals(64, buffer.capacity(), "still armed");
        assertEquals(7, buffer.get(5));
        DirectMemoryStats refused = DirectMemory.stats();
        assertEquals(before.memoryUsed(), refused.memoryUsed(), "the block stays");
        assertEquals(before.freedBytes(), refused.freedBytes());

        DirectMemory.free(buffer);
        assertEquals(0, buffer.capacity());
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(0, after.memoryUsed());
        assertEquals(before.freedBytes() + SLOTS * 64, after.freedBytes());
    }

    /**
     * The last free of a retired block whose freeing of the block threw (before it did anything:
     * a stack overflow, a full Java heap, the ledger's refusal) is finished by a later free of the
     * buffer, not through a collection. Before: the buffer already named no block, so the later free
     * did nothing and the block waited for a collection.
     */
    @ParameterizedTest
    @ValueSource(ints = {Native.FREE_FAILS_WITH_STACK_OVERFLOW, Native.FREE_FAILS_WITH_OUT_OF_MEMORY,
            Native.FREE_FAILS_WITH_ILLEGAL_STATE})
    void aLastFreeWhoseBlockFailedToGoIsFinishedByALaterFree(int error) {
        ByteBuffer buffer = DirectMemory.allocateDirect(64);
        ByteBuffer view = buffer.duplicate();
        SharedBlock.startOverForTesting(); // retired; its one buffer keeps it
        DirectMemoryStats before = DirectMemory.stats();
        assertEquals(SLOTS * 64, before.memoryUsed());

        Native.failNextFree(error);
        assertThrows(FreeTest.thrownBy(error), () -> DirectMemory.free(buffer));
        assertEquals(0, buffer.capacity(), "disarmed all the same");
        assertEquals(SLOTS * 64, DirectMemory.stats().memoryUsed(), "the block's free threw: nothing freed");
        DirectMemory.fill(view, (byte) 3); // the block's memory is still there, and the view writes it

        DirectMemory.free(buffer);
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(0, after.memoryUsed());
        assertEquals(0, after.count());
        assertEquals(before.reclaimedBytes(), after.reclaimedBytes(), "freed, not reclaimed");
        assertEquals(before.freedBytes() + SLOTS * 64, after.freedBytes());
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(buffer, (byte) 1), "freed");
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1), "its block is gone");
        DirectMemory.free(buffer); // a third free does nothing
        assertEquals(after.freedBytes(), DirectMemory.stats().freedBytes());
    }

    /**
     * A carve that throws where clearing its slot or slicing it could (a full Java heap, a stack
     * overflow: planted) loses no slot, fresh or reused: the block still hands out all 16. Before:
     * the slot was taken first and lost for the block's life, and the block filled one buffer early.
     */
    @Test
    void aCarveThatThrowsLosesNoSlot() {
        ByteBuffer first = DirectMemory.allocateDirect(64);
        Allocation block = Allocation.of(first);
        SharedBlock.failNextCarveForTesting(new OutOfMemoryError("planted: Java heap space"));
        assertThrows(OutOfMemoryError.class, () -> DirectMemory.allocateDirect(64));
        ByteBuffer[] rest = allocate(SLOTS - 1, 64);
        for (int i = 0; i < rest.length; i++) {
            assertSame(block, Allocation.of(rest[i]), "slot " + (i + 1) + " of the same block");
        }

        rest[3].put(0, (byte) 9);
        DirectMemory.free(rest[3]);
        SharedBlock.failNextCarveForTesting(new StackOverflowError("planted"));
        assertThrows(StackOverflowError.class, () -> DirectMemory.allocateDirect(64));
        ByteBuffer again = DirectMemory.allocateDirect(64);
        assertSame(block, Allocation.of(again), "the freed slot is still the block's");
        assertEquals(0, again.get(0), "cleared");
        assertEquals(1, DirectMemory.stats().count());

        DirectMemory.free(first);
        DirectMemory.free(again);
        for (int i = 0; i < rest.length; i++) {
            if (i != 3) {
                DirectMemory.free(rest[i]);
            }
        }
        SharedBlock.startOverForTesting();
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    @Test
    void sixteenSmallBuffersShareOneBlockYetEachIsABufferOfItsOwn() {
        ByteBuffer[] buffers = allocate(SLOTS, 100);
        DirectMemoryStats stats = DirectMemory.stats();
        assertEquals(1, stats.count());
        assertEquals(SLOTS * 112, stats.totalCapacity(), "slots of 100 bytes rounded to 16");
        for (int i = 0; i < SLOTS; i++) {
            ByteBuffer buffer = buffers[i];
            assertSame(Allocation.of(buffers[0]), Allocation.of(buffer));
            assertEquals(100, buffer.capacity());
            assertEquals(100, buffer.limit());
            assertEquals(0, buffer.position());
            assertEquals(0, buffer.alignmentOffset(0, 16), "starts where malloc's blocks would");
            for (int at = 0; at < 100; at++) {
                assertEquals(0, buffer.get(at));
            }
            buffer.put(0, (byte) i).put(99, (byte) -i);
        }
        for (int i = 0; i < SLOTS; i++) {
            assertEquals((byte) i, buffers[i].get(0));
            assertEquals((byte) -i, buffers[i].get(99));
        }
        ByteBuffer seventeenth = DirectMemory.allocateDirect(100);
        assertNotSame(Allocation.of(buffers[0]), Allocation.of(seventeenth));
        assertEquals(2, DirectMemory.stats().count());

        for (ByteBuffer buffer : buffers) {
            DirectMemory.free(buffer);
        }
        assertEquals(SLOTS * 112, DirectMemory.stats().freedBytes() - stats.freedBytes(),
                "the full block, retired by the seventeenth buffer, came back with its last buffer");
        Allocation current = Allocation.of(seventeenth); // else a collection could take it, idle
        DirectMemory.free(seventeenth);
        stats = DirectMemory.stats();
        assertEquals(1, stats.count(), "the current block stays for the next buffers of its size");
        assertEquals(SLOTS * 112, stats.memoryUsed());
        Reference.reachabilityFence(current);
        SharedBlock.startOverForTesting();
        assertEquals(0, DirectMemory.stats().memoryUsed(), "retired with no buffer left: freed at once");
    }

    @Test
    void freeDisarmsOneBufferAndLeavesItsNeighboursAlone() throws InterruptedException {
        ByteBuffer[] buffers = allocate(3, 64);
        ByteBuffer view = buffers[1].slice(8, 8);
        buffers[1].put(8, (byte) 42);
        DirectMemory.free(buffers[0]);

        assertEquals(0, buffers[0].capacity());
        assertThrows(IndexOutOfBoundsException.class, () -> buffers[0].get(0));
        DirectMemory.free(buffers[0]); // a second free does nothing
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(buffers[0], (byte) 1));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(view));
        assertThrows(IllegalArgumentException.class, () -> DirectMemory.free(buffers[2].duplicate()));

        assertEquals(42, view.get(0));
        DirectMemory.fill(view, (byte) 7);
        assertEquals(7, buffers[1].get(15));
        assertEquals(0, buffers[1].get(16));
        assertEquals(0, buffers[2].get(0));
        assertEquals(1, DirectMemory.stats().count());

        DirectMemory.free(buffers[1]);
        DirectMemory.free(buffers[2]);
        SharedBlock.startOverForTesting();
        Churn.awaitNothingUsed();
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1));
    }

    @Test
    void aFreedSlotIsHandedOutAgainZeroedWithNoNativeAllocation() {
        ByteBuffer first = DirectMemory.allocateDirect(48);
        Allocation block = Allocation.of(first);
        for (int i = 0; i < 48; i++) {
            first.put(i, (byte) -1);
        }
        DirectMemory.free(first);
        DirectMemoryStats before = DirectMemory.stats();

        for (int round = 0; round < 10_000; round++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(33 + round % 16); // one size class
            assertSame(block, Allocation.of(buffer), "round " + round);
            for (int i = 0; i < buffer.capacity(); i++) {
                assertEquals(0, buffer.get(i), "round " + round);
            }
            buffer.put(0, (byte) 7).put(buffer.capacity() - 1, (byte) 7);
            DirectMemory.free(buffer);
            assertEquals(0, buffer.capacity());
            DirectMemory.free(buffer); // a second free does nothing, though the slot went on
        }
        DirectMemoryStats after = DirectMemory.stats();
        assertEquals(before.count(), after.count());
        assertEquals(before.memoryUsed(), after.memoryUsed());
        assertEquals(before.freedBytes(), after.freedBytes());
        assertEquals(SLOTS * 48, after.memoryUsed(), "one block all along");
        Reference.reachabilityFence(block); // else a collection could take it, idle, before the reads
    }

    @Test
    void aRetiredBlockGoesWithItsLastBufferAndAnIdleCurrentOneAtTheNextCollection()
            throws InterruptedException {
        ByteBuffer[] full = allocate(SLOTS, 64);
        ByteBuffer next = DirectMemory.allocateDirect(64); // a new current block retires the full one
        DirectMemoryStats before = DirectMemory.stats();
        assertEquals(2 * SLOTS * 64, before.memoryUsed());
        for (int i = 0; i < SLOTS - 1; i++) {
            DirectMemory.free(full[i]);
        }
        assertEquals(before.freedBytes(), DirectMemory.stats().freedBytes(), "one buffer is left");
        DirectMemory.free(full[SLOTS - 1]);
        assertEquals(before.freedBytes() + SLOTS * 64, DirectMemory.stats().freedBytes());

        Allocation current = Allocation.of(next); // else a collection could take it, idle
        DirectMemory.free(next);
        assertEquals(SLOTS * 64, DirectMemory.stats().memoryUsed(), "the current block stays");
        Reference.reachabilityFence(current);
        current = null;
        // Idle, it is held weakly: the collection a full budget makes gives it back.
        DirectMemoryStats settled = Churn.settle();
        assertEquals(0, settled.memoryUsed());
        assertEquals(SLOTS * 64, settled.reclaimedBytes() - before.reclaimedBytes());
    }

    @Test
    void aFreedBufferTheProgramStillHoldsDoesNotKeepItsBlock() throws InterruptedException {
        ByteBuffer freed = DirectMemory.allocateDirect(64);
        Allocation block = Allocation.of(freed);
        DirectMemory.free(freed);
        assertNotSame(block, Allocation.of(freed), "pointed away from its block");
        ByteBuffer emptyView = freed.duplicate();
        DirectMemory.free(emptyView); // empty, like the buffer: nothing to do
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(emptyView, (byte) 1));
        block = null;

        assertEquals(0, Churn.settle().memoryUsed(), "the idle block went at the collection");
        assertEquals(0, freed.capacity());
        DirectMemory.free(freed);
        Reference.reachabilityFence(freed);
    }

    @Test
    void currentBlocksHoldAtMostASixteenthOfTheBudget() {
        List<Allocation> idleBlocks = new java.util.ArrayList<>(); // so that no collection takes them
        for (int capacity = 16; capacity <= SharedBlock.LARGEST_SHARED; capacity += 16) {
            ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
            if (Allocation.of(buffer) instanceof SharedBlock block) {
                idleBlocks.add(block);
            }
            DirectMemory.free(buffer);
            assertTrue(SharedBlock.currentBytes() <= SharedBlock.CURRENT_BYTES_CAP, "at " + capacity);
        }
        DirectMemoryStats stats = DirectMemory.stats();
        assertEquals(SharedBlock.currentBytes(), stats.memoryUsed(), "idle current blocks, nothing else");
        assertTrue(stats.memoryUsed() > SharedBlock.CURRENT_BYTES_CAP / 2, stats.toString());
        int shared = idleBlocks.size();
        assertTrue(shared > 0 && shared < SharedBlock.LARGEST_SHARED / 16, "shared " + shared);
        SharedBlock.startOverForTesting();
        Reference.reachabilityFence(idleBlocks);
        assertEquals(0, SharedBlock.currentBytes());
        assertEquals(0, DirectMemory.stats().memoryUsed());
    }

    /** Threads of every stripe, each allocating, stamping, checking and freeing: no slot is handed out twice. */
    @Test
    void threadsAllocatingAndFreeingNeverShareASlot() throws InterruptedException {
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new java.util.ArrayList<>();
        for (int t = 0; t < 8; t++) {
            byte stamp = (byte) (t + 1);
            threads.add(new Thread(() -> {
                try {
                    stampAndCheck(stamp, problems);
                } catch (RuntimeException | Error e) {
                    problems.add("thread " + stamp + " threw " + e); // and the others stop
                }
            }));
        }
        for (Thread thread : threads) {
            thread.setDaemon(true); // one stuck for good does not keep the JVM
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.MINUTES.toMillis(2));
            assertFalse(thread.isAlive(), () -> "a thread still runs after 2 minutes; " + problems);
        }
        assertTrue(problems.isEmpty(), problems::toString);
        SharedBlock.startOverForTesting();
        Churn.awaitNothingUsed();
    }

    private static void stampAndCheck(byte stamp, ConcurrentLinkedQueue<String> problems) {
        ByteBuffer[] held = new ByteBuffer[3];
        for (int round = 0; round < 50_000 && problems.isEmpty(); round++) {
            int i = round % held.length;
            if (held[i] != null) {
                for (int at = 0; at < held[i].capacity(); at++) {
                    if (held[i].get(at) != stamp) {
                        problems.add("thread " + stamp + " found " + held[i].get(at) + " at " + at);
                        break;
                    }
                }
                DirectMemory.free(held[i]);
            }
            ByteBuffer buffer = DirectMemory.allocateDirect(48 + round % 17);
            for (int at = 0; at < buffer.capacity(); at++) {
                if (buffer.get(at) != 0) {
                    problems.add("thread " + stamp + ": byte " + at + " not zeroed");
                    break;
                }
                buffer.put(at, stamp);
            }
            held[i] = buffer;
        }
        for (ByteBuffer buffer : held) {
            DirectMemory.free(buffer);
        }
    }

    /** A buffer freed by another thread (of another stripe) goes back to its own block. */
    @Test
    void buffersFreedByAnotherThreadGoBackToTheirBlock() throws InterruptedException {
        BlockingQueue<ByteBuffer> handOver = new ArrayBlockingQueue<>(64);
        Thread freer = new Thread(() -> {
            try {
                for (int i = 0; i < 20_000; i++) {
                    DirectMemory.free(handOver.take());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        freer.setDaemon(true);
        freer.start();
        for (int i = 0; i < 20_000; i++) {
            ByteBuffer buffer = DirectMemory.allocateDirect(100);
            assertEquals(0, buffer.get(99));
            buffer.put(99, (byte) 1);
            // Bounded: a freer that threw would leave a put waiting for good.
            assertTrue(handOver.offer(buffer, 30, TimeUnit.SECONDS), "the freeing thread stopped taking buffers");
        }
        freer.join(TimeUnit.MINUTES.toMillis(1));
        assertFalse(freer.isAlive(), "the freeing thread never ended");
        assertTrue(DirectMemory.stats().memoryUsed() <= 6 * SLOTS * 112, DirectMemory.stats().toString());
        SharedBlock.startOverForTesting();
        Churn.awaitNothingUsed();
    }

    @Test
    void aSmallBudgetSharesOnlySmallerBuffers() throws Exception {
        assertEquals(4096, SharedBlock.largestShared(64L << 20, 8));
        assertEquals(4096, SharedBlock.largestShared(64L << 20, 64));
        assertEquals(4096, SharedBlock.largestShared(Long.MAX_VALUE, 64));
        assertEquals(2048, SharedBlock.largestShared(16L << 20, 32));
        assertEquals(512, SharedBlock.largestShared(1L << 20, 8));
        assertEquals(496, SharedBlock.largestShared((1L << 20) - 1, 8), "rounded down to 16 bytes");
        assertEquals(0, SharedBlock.largestShared(4000, 8), "a tiny budget shares nothing");

        int largest = SharedBlock.largestShared(1L << 20, Allocation.Registry.STRIPES);
        assertEquals("count=1 capacity=" + SLOTS * largest + " largest=" + largest,
                probe(largest, "-Ddirectmem.maxMemory=1m"));
        assertEquals("count=16 capacity=" + SLOTS * (largest + 16) + " largest=" + largest,
                probe(largest + 16, "-Ddirectmem.maxMemory=1m"));
    }

    @Test
    void aBlockComesBackThroughTheCleanerOnceNoBufferOrViewOfItIsLeft() throws InterruptedException {
        DirectMemoryStats before = DirectMemory.stats();
        ByteBuffer[] buffers = allocate(SLOTS, 64);
        ByteBuffer view = buffers[5].asReadOnlyBuffer();
        buffers[5].put(3, (byte) 9);
        java.util.Arrays.fill(buffers, null);

        // Collections run (the churn fills the budget over and over) while the view lives.
        for (int i = 0; i < 300; i++) {
            DirectMemory.allocateDirect(Churn.MIB).put(0, (byte) 1);
        }
        assertEquals(9, view.get(3), "the view kept the block");
        assertTrue(DirectMemory.stats().count() >= 1);

        view = null;
        DirectMemoryStats after = Churn.settle();
        assertEquals(0, after.memoryUsed());
        long churned = 300L * Churn.MIB;
        assertEquals(SLOTS * 64 + churned, after.reclaimedBytes() - before.reclaimedBytes());
    }

    @Test
    void sharingCanBeTurnedOffAndABadSettingIsAClearError() throws Exception {
        assertEquals("count=1 capacity=1024 largest=4096", probe(64, "-Ddirectmem.packSmallBuffers=true"));
        assertEquals("count=16 capacity=1024 largest=0", probe(64, "-Ddirectmem.packSmallBuffers=false"));

        Subprocess.Result bad = Subprocess.run(Subprocess.testClassPath(),
                List.of("-Ddirectmem.packSmallBuffers=yes"), SharingProbe.class.getName(), "64");
        assertTrue(bad.exitCode() != 0, bad.output());
        assertTrue(bad.output().contains("IllegalArgumentException: directmem is unavailable: invalid value "
                + "for system property directmem.packSmallBuffers: 'yes' (expected true or false)"), bad.output());
    }

    /** The ledger of a child JVM with {@code flag} after 16 buffers of {@code capacity} bytes. */
    private static String probe(int capacity, String flag) throws Exception {
        Subprocess.Result result = Subprocess.run(Subprocess.testClassPath(), List.of(flag),
                SharingProbe.class.getName(), String.valueOf(capacity));
        assertEquals(0, result.exitCode(), result.output());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("SHARING (.*)").matcher(result.output());
        assertTrue(m.find(), result.output());
        return m.group(1).trim();
    }
}
