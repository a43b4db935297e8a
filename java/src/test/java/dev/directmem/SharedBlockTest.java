package dev.directmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Small buffers sharing native blocks ({@link SharedBlock}): each still behaves as a buffer of its
 * own, and the ledger stays exact, block by block.
 */
class SharedBlockTest {
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
                "the full block came back with its last buffer");
        DirectMemory.free(seventeenth);
        stats = DirectMemory.stats();
        assertEquals(0, stats.count());
        assertEquals(0, stats.memoryUsed(), "a block freed before it was full comes back too");
    }

    @Test
    void freeDisarmsOneBufferAndLeavesItsNeighboursAlone() {
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
        assertEquals(0, DirectMemory.stats().memoryUsed());
        assertThrows(IllegalStateException.class, () -> DirectMemory.fill(view, (byte) 1));
    }

    @Test
    void aStripeThatKeepsRetiringBlocksEarlyGivesItsBuffersBlocksOfTheirOwnForLongerEachTime() {
        // Allocate-and-free: each shared block is retired early, with its only buffer.
        int run = SharedBlock.FIRST_UNSHARED_RUN;
        for (int retirement = 1; run <= 2 * SharedBlock.LONGEST_UNSHARED_RUN; retirement++, run *= 2) {
            assertTrue(allocateAndFree(48) instanceof SharedBlock, "retirement " + retirement);
            int expected = Math.min(run, SharedBlock.LONGEST_UNSHARED_RUN);
            for (int i = 0; i < expected; i++) {
                assertSame(Allocation.class, allocateAndFree(48).getClass(), "retirement " + retirement);
            }
        }
        assertTrue(allocateAndFree(48) instanceof SharedBlock, "after the longest run, a block again");
    }

    @Test
    void aFilledBlockResetsTheRunsOfBlocksOfTheirOwn() {
        assertTrue(allocateAndFree(32) instanceof SharedBlock);
        for (int i = 0; i < SharedBlock.FIRST_UNSHARED_RUN; i++) {
            assertSame(Allocation.class, allocateAndFree(32).getClass());
        }
        ByteBuffer[] full = allocate(SLOTS, 32);
        assertEquals(1, DirectMemory.stats().count(), "one block, filled");
        for (ByteBuffer buffer : full) {
            DirectMemory.free(buffer);
        }
        assertTrue(allocateAndFree(32) instanceof SharedBlock, "a filled block was not an early retirement");
        for (int i = 0; i < SharedBlock.FIRST_UNSHARED_RUN; i++) {
            assertSame(Allocation.class, allocateAndFree(32).getClass(), "the first run again, not twice it");
        }
        assertTrue(allocateAndFree(32) instanceof SharedBlock);
    }

    /** Allocates and frees one buffer; returns its owner. */
    private static Allocation allocateAndFree(int capacity) {
        ByteBuffer buffer = DirectMemory.allocateDirect(capacity);
        Allocation owner = Allocation.of(buffer);
        DirectMemory.free(buffer);
        assertEquals(0, DirectMemory.stats().memoryUsed());
        return owner;
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
